"""Trunk angles relative to neutral: twist about vertical, flexion (slouch) and lateral lean.

With ``q`` the sensor orientation (wxyz, sensor → earth, earth z up) and ``q0`` its orientation at neutral, the
trunk's motion since neutral, in the earth frame, is ``q_rel = q ⊗ q0⁻¹``. It splits uniquely into a rotation about
vertical and a *swing* about a horizontal axis, ``q_rel = twist ⊗ swing``:

* **twist** is the angle of the vertical part, + = to the left (counter-clockwise seen from above);
* the swing's rotation vector lies in the horizontal plane; its component along the trunk's *left* axis at neutral
  is **flexion** (+ = bending forward, slouching) and minus its component along the *forward* axis is **lean**
  (+ = to the left).

Because ``q_rel`` cancels the sensor's mounting, the angles do not depend on how the sensor sits on the sternum;
only the forward direction at neutral is needed, taken from the sensor axis that points out of the chest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from imutrack import quaternion
from imutrack.errors import ImutrackError
from imutrack.frames import axis_vector
from imutrack.series import CHUNK_SAMPLES, column_mean


CHEST_AXIS_MIN_HORIZONTAL = 0.3  # a worn sensor's chest axis is more than ~17° from vertical
_DEG_PER_RAD = 180.0 / np.pi


def worn_upright(acc_m_s2: np.ndarray, chest_normal_axis: str = "+z") -> bool:
    """Whether a still stretch's mean specific force (m/s², sensor frame, (N, 3)) has the chest-normal axis pointing
    sideways rather than up or down — worn on an upright chest, not lying on a table."""
    up = column_mean(acc_m_s2)
    up /= max(float(np.linalg.norm(up)), 1e-12)
    vertical = float(up @ axis_vector(chest_normal_axis))
    return np.sqrt(max(0.0, 1.0 - vertical * vertical)) >= CHEST_AXIS_MIN_HORIZONTAL


def forward_at_neutral(quat_neutral_wxyz: np.ndarray, chest_normal_axis: str = "+z") -> np.ndarray:
    """Horizontal unit vector (earth frame) the trunk faces at neutral, from the sensor axis out of the chest."""
    normal_earth = Rotation.from_quat(quat_neutral_wxyz, scalar_first=True).apply(axis_vector(chest_normal_axis))
    horizontal = np.array([normal_earth[0], normal_earth[1], 0.0])
    norm = np.linalg.norm(horizontal)
    if norm < CHEST_AXIS_MIN_HORIZONTAL:  # the chest-normal axis is near vertical: not worn as declared
        raise ImutrackError(
            f"the sensor's {chest_normal_axis} axis points nearly {'up' if normal_earth[2] > 0 else 'down'} at "
            "neutral, not forward out of the chest: is it worn on the sternum, with the declared chest axis?"
        )
    return horizontal / norm


def trunk_angles_deg(
    quat_wxyz: np.ndarray, quat_neutral_wxyz: np.ndarray, forward_earth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twist, flexion and lean relative to neutral, degrees, each shape (N,).

    Args:
        quat_wxyz: sensor orientation, sensor → earth (earth z up), shape (N, 4).
        quat_neutral_wxyz: sensor orientation at neutral, shape (4,).
        forward_earth: horizontal unit vector the trunk faces at neutral (see :func:`forward_at_neutral`).
    """
    quat_wxyz = np.asarray(quat_wxyz, dtype=np.float64)
    out = np.empty((3, len(quat_wxyz)))
    for a in range(0, len(quat_wxyz), CHUNK_SAMPLES):
        out[:, a:a + CHUNK_SAMPLES] = _angles_deg(quat_wxyz[a:a + CHUNK_SAMPLES], quat_neutral_wxyz, forward_earth)
    return out[0], out[1], out[2]


def _angles_deg(quat_wxyz: np.ndarray, quat_neutral_wxyz: np.ndarray, forward_earth: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`trunk_angles_deg` of a chunk of orientations."""
    w, x, y, z = _relative(quat_wxyz, quat_neutral_wxyz)
    # Swing–twist about earth z: rel = twist ⊗ swing, twist = (cos h, 0, 0, sin h) with tan h = z / w. Then
    # swing = twist* ⊗ rel = (r, (w x + z y) / r, (w y − z x) / r, 0) with r = √(w² + z²): the swing's axis is
    # horizontal, its angle 2·atan2(√(x² + y²), r). Written out, it is a few array operations instead of two more
    # quaternion products and a rotation-vector conversion.
    r2 = w * w + z * z
    r = np.sqrt(r2)  # (unit quaternions: no overflow for hypot to guard against, at a tenth of its cost)
    across = np.sqrt(x * x + y * y)
    half_angle = np.arctan2(across, r)
    # The swing's x, y times r, and what turns them into the rotation vector (axis × angle) in degrees: the swing's
    # (x, y) has length `across`, so the factor is angle / (r · across). Its limits, for the rare samples where it
    # has none: 2 / r² for a vanishing swing; for a swing of 180° (r = 0) the twist is taken as 0 and the swing is
    # rel itself, (x, y) · angle / across.
    swing_x = w * x + z * y
    swing_y = w * y - z * x
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = half_angle / (r * across)
    twist_deg = _twist_rad(w, z) * _DEG_PER_RAD
    odd = np.flatnonzero((r <= 1e-12) | (across <= 1e-12))
    if len(odd):
        vanishing, flipped = odd[r[odd] > 1e-12], odd[r[odd] <= 1e-12]
        factor[vanishing] = 1.0 / r2[vanishing]
        swing_x[flipped], swing_y[flipped] = x[flipped], y[flipped]
        factor[flipped] = half_angle[flipped] / across[flipped]
        twist_deg[flipped] = 0.0
    factor *= 2.0 * _DEG_PER_RAD
    left = (-forward_earth[1], forward_earth[0])  # up × forward (horizontal)
    flexion_deg = (swing_x * left[0] + swing_y * left[1]) * factor
    lean_deg = (swing_x * forward_earth[0] + swing_y * forward_earth[1]) * -factor
    return twist_deg, flexion_deg, lean_deg


def twist_only_deg(quat_wxyz: np.ndarray, quat_neutral_wxyz: np.ndarray) -> np.ndarray:
    """Twist relative to neutral, degrees (N,), + = left; cheaper than :func:`trunk_angles_deg`."""
    w, _, _, z = _relative(quat_wxyz, quat_neutral_wxyz)
    twist = np.degrees(_twist_rad(w, z))
    twist[w * w + z * z <= 1e-24] = 0.0  # a swing of 180°: no twist (as :func:`trunk_angles_deg` takes it)
    return twist


def _relative(quat_wxyz: np.ndarray, quat_neutral_wxyz: np.ndarray) -> np.ndarray:
    """``q ⊗ q0⁻¹`` for each orientation ``q`` (N, 4), as four contiguous rows w, x, y, z (4, N): one 4×4 matrix
    product (a product on the right by a fixed quaternion is linear), ~30x cheaper than column-wise products."""
    return quaternion.right_matrix(quaternion.conjugate(quat_neutral_wxyz)) @ np.asarray(quat_wxyz, np.float64).T


def _twist_rad(w: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The angle of the rotation about vertical, 2·atan2(z, w), in [−π, π]: with w ≥ 0 (q and −q are the same
    rotation) no wrapping is needed."""
    return 2.0 * np.arctan2(np.where(w < 0.0, -z, z), np.abs(w))


@dataclass(frozen=True)
class Neutral:
    """The neutral posture: sitting upright, facing forward, still.

    Attributes:
        start_s, end_s: the interval it was taken from, s.
        quat_wxyz: mean sensor orientation over it, sensor → earth (4,).
        forward_earth: horizontal unit vector the trunk faces (3,).
    """

    start_s: float
    end_s: float
    quat_wxyz: np.ndarray
    forward_earth: np.ndarray


def neutral_from(
    t_s: np.ndarray, quat_wxyz: np.ndarray, interval_s: tuple[float, float], chest_normal_axis: str = "+z"
) -> Neutral:
    """Neutral from the orientation over ``interval_s`` (start, end) in s."""
    i0, i1 = np.searchsorted(t_s, interval_s)
    if i1 - i0 < 1:
        raise ImutrackError(
            f"the neutral interval {interval_s[0]:g}–{interval_s[1]:g} s holds no samples "
            f"(the recording covers {t_s[0]:g}–{t_s[-1]:g} s)"
        )
    mean = Rotation.from_quat(quat_wxyz[i0:i1], scalar_first=True).mean().as_quat(scalar_first=True)
    return Neutral(float(t_s[i0]), float(t_s[i1 - 1]), mean, forward_at_neutral(mean, chest_normal_axis))


def twist_deg(quat_wxyz: np.ndarray, neutral: Neutral) -> np.ndarray:
    """Twist relative to ``neutral``, degrees (N,), + = left."""
    return twist_only_deg(quat_wxyz, neutral.quat_wxyz)
