"""Vectorised quaternion products for hot paths (wxyz, Hamilton convention, as vqf).

scipy's ``Rotation`` does the same maths but, for arrays of 10⁵ quaternions, its composition is tens of times slower
than these few numpy lines (measured in ``benchmarks/run.py``'s analysis case); elsewhere we use ``Rotation``.
"""

from __future__ import annotations

import numpy as np


def multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p ⊗ q`` of wxyz quaternions, shapes (N, 4) or (4,), broadcast."""
    pw, px, py, pz = np.moveaxis(np.asarray(p, dtype=np.float64), -1, 0)
    qw, qx, qy, qz = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def right_matrix(q: np.ndarray) -> np.ndarray:
    """The 4×4 matrix ``R`` with ``p ⊗ q = R @ p`` for any wxyz quaternion ``p`` (``q``: one quaternion, (4,))."""
    w, x, y, z = np.asarray(q, dtype=np.float64)
    return np.array([[w, -x, -y, -z], [x, w, z, -y], [y, -z, w, x], [z, y, -x, w]])


def conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion), wxyz."""
    return np.asarray(q, dtype=np.float64) * np.array([1.0, -1.0, -1.0, -1.0])


def rotation_vector(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis × angle, rad) of unit wxyz quaternions (N, 4) → (N, 3), angle in [0, π]."""
    q = np.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    norm = np.linalg.norm(v, axis=-1)
    angle = 2.0 * np.arctan2(norm, q[..., 0])
    # angle / sin(angle/2) → 2 as the angle → 0
    scale = np.where(norm > 1e-12, angle / np.where(norm > 1e-12, norm, 1.0), 2.0)
    return v * scale[..., None]


def from_rotation_vector(rotvec: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions (N, 4) of rotation vectors (axis × angle, rad), (N, 3)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1)
    half = 0.5 * angle
    # sin(angle/2) / angle → 1/2 as the angle → 0 (Taylor term keeps full precision for tiny angles)
    small = angle < 1e-6
    scale = np.where(small, 0.5 - angle * angle / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half)[..., None], rotvec * scale[..., None]], axis=-1)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectors ``v`` (…, 3) rotated by unit quaternions ``q`` (…, 4): q ⊗ v ⊗ q*."""
    q = np.asarray(q, dtype=np.float64)
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)
