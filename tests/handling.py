"""Sensor signals the simulator does not make. Putting the sensor on and taking it off: a smooth path between two orientations, with the
gyro and accelerometer it implies (the same construction as the simulator's, so integrating the gyro gives the path
back), and a stretch lying still on a table."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from imutrack import quaternion
from imutrack.frames import GRAVITY_M_S2
from imutrack.samples import ImuSamples
from imutrack.sources.simulator import min_jerk

UP_M_S2 = np.array([0.0, 0.0, GRAVITY_M_S2])


def lying_flat(heading_deg: float, face_up: bool = True) -> np.ndarray:
    """An orientation (wxyz, sensor → earth) with the sensor's z axis vertical: lying on a table."""
    flat = Rotation.from_euler("z", heading_deg, degrees=True) * Rotation.from_euler("x", 0 if face_up else 180,
                                                                                       degrees=True)
    return flat.as_quat(scalar_first=True)


def path(start_wxyz, end_wxyz, duration_s: float, rate_hz: float, seed: int = 0) -> np.ndarray:
    """Orientations (N, 4) from ``start`` to ``end`` along a minimum-jerk slerp with a wobble that vanishes at both
    ends (hands are not robots)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * rate_hz) + 1) / rate_hz
    u = t / t[-1]
    keys = Rotation.from_quat(np.vstack([start_wxyz, end_wxyz]), scalar_first=True)
    along = Slerp([0.0, 1.0], keys)(min_jerk(u))
    wobble = np.sin(np.pi * u)[:, None] ** 2 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0, 3) * t[:, None]) * 0.4
    return (along * Rotation.from_rotvec(wobble)).as_quat(scalar_first=True)


def samples_along(orientation_wxyz: np.ndarray, rate_hz: float, t0_s: float, gyr_bias_rad_s) -> ImuSamples:
    """What a sensor following ``orientation_wxyz`` (N + 1 orientations) measures: N samples from ``t0_s``; gyro
    sample k is the mean rate from orientation k to k + 1 (plus ``gyr_bias_rad_s``), acc the specific force of a
    sensor that only rotates (the hands' small linear accelerations left out)."""
    step = quaternion.multiply(quaternion.conjugate(orientation_wxyz[:-1]), orientation_wxyz[1:])
    gyr = quaternion.rotation_vector(step) * rate_hz + gyr_bias_rad_s
    acc = quaternion.rotate(quaternion.conjugate(orientation_wxyz[:-1]), UP_M_S2)
    t = t0_s + np.arange(len(gyr)) / rate_hz
    return ImuSamples(t, gyr, acc, None)


def still_at(orientation_wxyz, duration_s: float, rate_hz: float, t0_s: float, gyr_bias_rad_s,
             seed: int = 0) -> ImuSamples:
    """Lying still at one orientation, with a little sensor noise."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate_hz)
    acc = np.tile(quaternion.rotate(quaternion.conjugate(orientation_wxyz), UP_M_S2), (n, 1))
    gyr = np.tile(gyr_bias_rad_s, (n, 1)) + rng.normal(0.0, 2e-3, (n, 3))
    return ImuSamples(t0_s + np.arange(n) / rate_hz, gyr, acc + rng.normal(0.0, 0.01, (n, 3)), None)


def shifted(samples: ImuSamples, dt_s: float) -> ImuSamples:
    return ImuSamples(samples.t_s + dt_s, samples.gyr_rad_s, samples.acc_m_s2, samples.mag_uT)


def phone_times(duration_s: float, weights=(0.55, 0.45), seed: int = 1) -> np.ndarray:
    """Sample times of a phone "at 100 Hz" whose sensor events come 9 or 11 ms apart, at random with ``weights``."""
    steps = np.random.default_rng(seed).choice([0.009, 0.011], size=int(duration_s / 0.009) + 1, p=weights)
    t = np.concatenate([[0.0], np.cumsum(steps)])
    return t[t < duration_s]


def sampled_at(session_1khz, t_s: np.ndarray) -> ImuSamples:
    """What a sensor sampling a 1 kHz simulated session at times ``t_s`` measures: the mean rate until its next
    sample, and the specific force at the sample."""
    base = session_1khz.samples
    idx = np.searchsorted(base.t_s, t_s)
    summed = np.vstack([np.zeros(3), np.cumsum(base.gyr_rad_s, axis=0)])
    following = np.minimum(np.append(idx[1:], idx[-1] + 10), len(base.t_s))
    gyr = (summed[following] - summed[idx]) / (following - idx)[:, None]
    return ImuSamples(t_s, gyr, base.acc_m_s2[np.minimum(idx, len(base.t_s) - 1)])
