"""Is the sensor worn as declared? A phone strapped screen-inward, or a sensor turned round, points its declared
chest axis backwards: the twist is unchanged (a rotation about vertical is the same whichever way the sensor faces),
but forward bending reads as leaning back and left lean as right, so slouching would never be cued or counted.

Gravity cannot tell front from back on an upright chest; the turns can. The sternum sits in front of the axis the
trunk turns about (about 10–15 cm; the simulator's lever arm is 12 cm), so while the trunk turns at ω (rad/s) the
sensor feels a centripetal acceleration ω²·r pointing *backwards*, towards that axis. Regressing the linear
acceleration along the declared forward axis (earth frame, horizontal) on ω² over the reps gives −r: negative (r > 0)
when the axis really points forward, positive when it points into the chest. A tilt error of the orientation that
is fixed on the sensor leaks gravity into that axis as a constant, which the regression's intercept takes.

A phone worn upside down (its top pointing down) is found from gravity; it changes nothing in the angles (they come
from gravity and the chest axis only), so it is only mentioned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imutrack.frames import GRAVITY_M_S2, axis_vector

MIN_LEVER_M = 0.03  # a sternum closer than this to the turning axis cannot be told from noise
MIN_T = 4.0  # how many standard errors the lever must stand from zero to be believed
SMOOTH_S = 0.25  # both signals are averaged over this long (the turns are slower; the noise is not)


@dataclass(frozen=True)
class Placement:
    """What the turns and gravity say about how the sensor is worn.

    Attributes:
        facing: "outward" (the declared chest axis points forward, as it should), "inward" (it points into the
            chest) or "unknown" (the turns were too slow or too few to tell).
        lever_m: how far in front of the turning axis the sensor sits, m, estimated from the turns (negative:
            behind it, i.e. the declared axis points backwards); nan without turns.
        lever_se_m: its standard error, m.
        upside_down: a phone whose top points down (None when the sensor is not a phone or it lay flat).
    """

    facing: str
    lever_m: float
    lever_se_m: float
    upside_down: bool | None = None


def check_placement(t_s: np.ndarray, acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray, up_sensor: np.ndarray,
                    chest_normal_axis: str, turning: np.ndarray | None = None, is_phone: bool = False) -> Placement:
    """How the sensor is worn, from the samples during the reps (``turning``: a mask of them; None: all).

    Args:
        t_s: sample times, s (evenly spaced).
        acc_m_s2: specific force in the sensor frame (with gravity), m/s², (N, 3).
        gyr_rad_s: angular rate in the sensor frame (a bias of a few °/s hardly matters: only ω² over turns
            counts), rad/s, (N, 3).
        up_sensor: the earth's vertical (up) in the sensor frame, from the orientation, unit vectors (N, 3).
        chest_normal_axis: the declared axis out of the chest ("+z", ...).
        turning: samples to use (the reps: turns, holds and returns), bool (N,).
        is_phone: the sensor is a phone in its own axes (x right, y up along the screen, z out of the screen).
    """
    n = len(t_s)
    upside_down = None
    if is_phone and n:
        gravity = np.median(acc_m_s2, axis=0)
        norm = float(np.linalg.norm(gravity))
        if norm > 0.5 * GRAVITY_M_S2:
            along_y = gravity[1] / norm
            upside_down = bool(along_y < -0.7) if abs(along_y) > 0.7 else None
    turning = np.ones(n, dtype=bool) if turning is None else turning
    if n < 10 or turning.sum() < 10:
        return Placement("unknown", float("nan"), float("nan"), upside_down)
    rate_hz = (n - 1) / (t_s[-1] - t_s[0]) if t_s[-1] > t_s[0] else 1.0
    chest = axis_vector(chest_normal_axis)
    # (a component at a time: whole-array arithmetic on rows of three numbers is several times slower)
    up = np.asarray(up_sensor, dtype=np.float64).T
    acc, gyr = np.asarray(acc_m_s2, dtype=np.float64).T, np.asarray(gyr_rad_s, dtype=np.float64).T
    up_along_chest = up[0] * chest[0] + up[1] * chest[1] + up[2] * chest[2]
    forward = [chest[k] - up_along_chest * up[k] for k in range(3)]  # the chest axis made horizontal
    length = np.sqrt(forward[0] * forward[0] + forward[1] * forward[1] + forward[2] * forward[2])
    usable = turning & (length > 0.5)  # the chest axis is near horizontal (not lying on a table)
    linear = [acc[k] - GRAVITY_M_S2 * up[k] for k in range(3)]  # at rest the specific force is +g up
    along = (linear[0] * forward[0] + linear[1] * forward[1] + linear[2] * forward[2]) / np.maximum(length, 1e-9)
    up_rate = gyr[0] * up[0] + gyr[1] * up[1] + gyr[2] * up[2]
    width = max(1, int(round(SMOOTH_S * rate_hz)))
    kernel = np.ones(width) / width
    along = np.convolve(along, kernel, mode="same")
    up_rate = np.convolve(up_rate, kernel, mode="same")
    x, y = up_rate[usable] ** 2, along[usable]
    if len(x) < 10 or np.ptp(x) < 0.05:  # no turn faster than ~0.2 rad/s
        return Placement("unknown", float("nan"), float("nan"), upside_down)
    # the straight line y = a + b x by least squares, written out (a 2-column lstsq's SVD costs more than the rest)
    dx = x - x.mean()
    spread = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / spread if spread > 0 else 0.0
    residual = y - y.mean() - slope * dx
    effective_n = max(3.0, len(x) / width)  # neighbouring samples are not independent after smoothing
    sigma2 = float(residual @ residual) / max(1.0, len(x) - 2) * len(x) / effective_n
    se = float(np.sqrt(sigma2 / spread)) if spread > 0 else float("inf")
    lever = -slope
    facing = "unknown"
    if abs(lever) >= MIN_LEVER_M and abs(lever) >= MIN_T * se:
        facing = "outward" if lever > 0 else "inward"
    return Placement(facing, lever, se, upside_down)


def negated(axis: str) -> str:
    """The opposite axis: "+z" ↔ "-z"."""
    return ("-" if axis.startswith("+") else "+") + axis[1:]
