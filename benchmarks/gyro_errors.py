"""What the remaining 6D heading error on BROAD is made of: a linear gyro error model, fitted two ways.

The model: the bias-corrected gyro still carries ``e(t) = db + M · gyr(t)`` — a constant bias offset ``db`` (rad/s,
sensor frame) and a constant 3×3 scale/cross-axis matrix ``M`` (dimensionless). To first order, a strapdown
integration ``S(t)`` (sensor → its own inertial frame) of that gyro drifts away from the true orientation by the
earth-frame rotation vector ``delta(t) = ∫ S(s) e(s) ds``, which is linear in the 12 parameters. Two ways to see
``delta``:

* **oracle** (:func:`fit_to_truth`): from the optical truth, ``S ⊗ q_true⁻¹`` — all three components, heading too.
  This says how much of the error the model can explain at all.
* **gravity** (:func:`fit_to_gravity`): from the accelerometer, the tilt of the 10 s mean of ``S ⊗ acc`` (specific
  force in the strapdown frame averages to gravity) — inclination only, what an estimator without a heading
  reference can know. Priors keep the parameters near zero where gravity says nothing.

Both iterate a few Gauss–Newton steps (each re-integrates the corrected gyro). Used by ``accuracy.py``; not part of
imutrack's analysis (see docs/accuracy.md for why).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from vqf import VQF

from imutrack import quaternion

BIAS_PRIOR_RAD_S = np.radians(0.005)  # the rests pin the bias to about this (docs/accuracy.md, sensitivity table)
MATRIX_PRIOR = 0.005  # 0.5 % scale / cross-axis, a typical MEMS gyro datasheet figure
TILT_NOISE_RAD = np.radians(0.5)  # a 10 s mean of the specific force: hand motion leaves a few tenths of a degree


def _strapdown(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, fs_hz: float) -> np.ndarray:
    """Pure gyro integration (vqf's gyroscope quaternion, no accelerometer correction), wxyz (N, 4)."""
    vqf = VQF(1.0 / fs_hz, restBiasEstEnabled=False, motionBiasEstEnabled=False)
    return vqf.updateBatchFullState(np.ascontiguousarray(gyr_rad_s), np.ascontiguousarray(acc_m_s2))["gyrQuat"]


def _error_columns(gyr_rad_s: np.ndarray, matrix: bool) -> list[np.ndarray]:
    """d e / d parameter for the parameters (db_x, db_y, db_z, then M_00, M_01, … M_22 if ``matrix``), (N, 3) each."""
    n = len(gyr_rad_s)
    columns = []
    for axis in range(3):
        column = np.zeros((n, 3))
        column[:, axis] = 1.0
        columns.append(column)
    for row in range(3 if matrix else 0):
        for col in range(3):
            column = np.zeros((n, 3))
            column[:, row] = gyr_rad_s[:, col]
            columns.append(column)
    return columns


def _gyro_error(theta: np.ndarray, gyr_rad_s: np.ndarray) -> np.ndarray:
    error = np.broadcast_to(theta[:3], gyr_rad_s.shape)
    return error + gyr_rad_s @ theta[3:].reshape(3, 3).T if len(theta) > 3 else error


def _drift_columns(strap_wxyz: np.ndarray, columns: list[np.ndarray], fs_hz: float) -> list[np.ndarray]:
    """∫ S(s) (d e / d p)(s) ds for each parameter p, (N, 3) each."""
    return [np.cumsum(quaternion.rotate(strap_wxyz, c), axis=0) / fs_hz for c in columns]


def fit_to_truth(gyr_rad_s, acc_m_s2, fs_hz, bias_rad_s, quat_true_wxyz, matrix: bool = True, iterations: int = 4,
                 step_s: float = 0.5):
    """Oracle: the parameters (bias offset, and the matrix if ``matrix``) that best explain the drift of the strapdown against the optical truth.

    Args:
        gyr_rad_s, acc_m_s2: raw samples (N, 3).
        fs_hz: sampling rate, Hz.
        bias_rad_s: the bias already removed (N, 3), rad/s.
        quat_true_wxyz: truth (N, 4), NaN rows where missing.
        matrix: fit the 3×3 matrix too (else only the bias offset).

    Returns:
        ``(theta, gyro_error_rad_s)``: parameters (12,) or (3,), and the modelled gyro error (N, 3).
    """
    columns = _error_columns(gyr_rad_s, matrix)
    theta = np.zeros(len(columns))
    valid = np.flatnonzero(~np.isnan(quat_true_wxyz).any(axis=1))[:: max(1, int(step_s * fs_hz))]
    for _ in range(iterations):
        strap = _strapdown(gyr_rad_s - bias_rad_s - _gyro_error(theta, gyr_rad_s), acc_m_s2, fs_hz)
        drift = quaternion.multiply(strap[valid], quaternion.conjugate(quat_true_wxyz[valid]))
        observed = quaternion.rotation_vector(quaternion.multiply(drift, quaternion.conjugate(drift[0])))
        design = np.column_stack([(c[valid] - c[valid[0]]).T.reshape(-1)
                                  for c in _drift_columns(strap, columns, fs_hz)])
        step, *_ = np.linalg.lstsq(design, observed.T.reshape(-1), rcond=None)
        theta += step
    return theta, _gyro_error(theta, gyr_rad_s)


def fit_to_gravity(gyr_rad_s, acc_m_s2, fs_hz, bias_rad_s, matrix: bool = True, iterations: int = 4,
                   window_s: float = 10.0, step_s: float = 1.0):
    """Self-calibration: the same parameters from the strapdown's tilt against gravity alone (no truth, no heading).

    Unknowns besides the parameters: the strapdown's initial tilt (2). Gaussian priors: ``BIAS_PRIOR_RAD_S`` on the
    bias offset, ``MATRIX_PRIOR`` on each matrix entry. Returns ``(theta, gyro_error_rad_s)`` as :func:`fit_to_truth`.
    """
    columns = _error_columns(gyr_rad_s, matrix)
    theta = np.zeros(len(columns))
    prior = np.concatenate([np.full(3, BIAS_PRIOR_RAD_S), np.full(9, MATRIX_PRIOR)])[: len(theta)]
    width = int(window_s * fs_hz)
    centres = np.arange(width // 2, len(gyr_rad_s) - width // 2, int(step_s * fs_hz))
    n = len(centres)
    for _ in range(iterations):
        strap = _strapdown(gyr_rad_s - bias_rad_s - _gyro_error(theta, gyr_rad_s), acc_m_s2, fs_hz)
        up = uniform_filter1d(quaternion.rotate(strap, acc_m_s2), width, axis=0)[centres]
        up /= np.linalg.norm(up, axis=1)[:, None]
        # The strapdown frame tilted by the drift rotation delta sees gravity at ẑ + delta × ẑ = (δy, −δx, 1).
        observed = np.concatenate([-up[:, 1], up[:, 0]])
        design = np.zeros((2 * n, 2 + len(theta)))
        design[:n, 0] = design[n:, 1] = 1.0
        for p, c in enumerate(_drift_columns(strap, columns, fs_hz)):
            mean = uniform_filter1d(c, width, axis=0)[centres]
            design[:n, 2 + p], design[n:, 2 + p] = mean[:, 0], mean[:, 1]
        regulariser = np.hstack([np.zeros((len(theta), 2)), np.diag(1.0 / prior)])
        step, *_ = np.linalg.lstsq(np.vstack([design / TILT_NOISE_RAD, regulariser]),
                                   np.concatenate([observed / TILT_NOISE_RAD, -theta / prior]), rcond=None)
        theta += step[2:]
    return theta, _gyro_error(theta, gyr_rad_s)
