"""The gyro error model behind docs/accuracy.md's last BROAD table (benchmarks/gyro_errors.py): on a synthetic
tumbling motion with a known scale/cross-axis matrix and bias offset, both fits recover them."""

import sys

import numpy as np
import pytest

from imutrack import quaternion
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import gyro_errors  # noqa: E402

FS_HZ = 100.0
GRAVITY_EARTH_M_S2 = np.array([0.0, 0.0, 9.81])


def tumbling(duration_s: float = 120.0, seed: int = 3):
    """Body rates (rad/s) as a few sinusoids per axis, and the orientation they give when integrated the way vqf
    integrates a gyro (q ⊗ exp(ω·Ts) per sample), so a perfect gyro integrates back to the truth exactly."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * FS_HZ)) / FS_HZ
    freqs = rng.uniform(0.05, 0.4, (3, 3))
    phases = rng.uniform(0, 2 * np.pi, (3, 3))
    rate_rad_s = np.stack([(1.2 * np.sin(2 * np.pi * freqs[k][:, None] * t + phases[k][:, None])).sum(axis=0)
                           for k in range(3)], axis=1)
    steps = quaternion.from_rotation_vector(rate_rad_s / FS_HZ)
    quat = np.empty((len(t), 4))
    q = np.array([1.0, 0.0, 0.0, 0.0])
    for k, step in enumerate(steps):  # vqf's quaternion at sample k already includes that sample's rotation
        q = quaternion.multiply(q, step)
        quat[k] = q / np.linalg.norm(q)
    acc_m_s2 = quaternion.rotate(quaternion.conjugate(quat), GRAVITY_EARTH_M_S2)
    return rate_rad_s, acc_m_s2, quat


@pytest.fixture(scope="module")
def motion():
    rate, acc, quat = tumbling()
    rng = np.random.default_rng(7)
    matrix = rng.uniform(-0.008, 0.008, (3, 3))
    offset = np.radians(rng.uniform(-0.05, 0.05, 3))
    measured = rate @ (np.eye(3) + matrix).T + offset
    return measured, acc, quat, matrix, offset


def test_fit_to_truth_recovers_the_gyro_matrix_and_bias_offset(motion):
    gyr, acc, quat, matrix, offset = motion
    theta, error = gyro_errors.fit_to_truth(gyr, acc, FS_HZ, np.zeros_like(gyr), quat)
    np.testing.assert_allclose(theta[3:].reshape(3, 3), matrix, atol=2e-4)
    np.testing.assert_allclose(np.degrees(theta[:3]), np.degrees(offset), atol=2e-3)


def symmetric(matrix: np.ndarray) -> np.ndarray:
    return 0.5 * (matrix + matrix.T)


def test_fit_to_gravity_recovers_what_drifts_from_inclination_alone_when_the_sensor_tumbles(motion):
    # Scale and symmetric cross-axis errors make the integration drift with the rotation done, and the drift tilts
    # gravity. What stays bounded is seen only against the tilt noise the fit assumes, so its prior wins: the
    # antisymmetric part of the matrix (a small rotation between gyro and accelerometer axes) and a constant bias
    # (it averages out while the sensor tumbles; the rests measure it instead).
    gyr, acc, quat, matrix, offset = motion
    theta, _ = gyro_errors.fit_to_gravity(gyr, acc, FS_HZ, np.zeros_like(gyr))
    fitted = theta[3:].reshape(3, 3)
    np.testing.assert_allclose(symmetric(fitted), symmetric(matrix), atol=5e-4)
    assert np.abs(fitted - matrix).max() > 1e-3
    assert np.abs(theta[:3]).max() < 0.2 * np.abs(offset).max()
