"""Twist accuracy against a reference orientation (optical motion capture or simulator truth).

The metric is the one in the BROAD baseline this project compares with: **twist** is the rotation about earth z
(swing–twist) of ``q(t) ⊗ q(ref)⁻¹``, computed the same way for the estimate and the truth, and compared only on
scored samples (moving, valid truth) whose true relative rotation tilts by no more than ``max_tilt_deg`` (twist is
ill-defined near a 180° tilt).

* :func:`whole_trial_rmse`: one reference, the first valid truth sample;
* :func:`window_rmse`: 60 s windows every 10 s, each referenced to its own first sample; a window needs valid truth
  at its start, ≥ 50 % of it moving, and ≥ 30 % of its samples left after the selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


def _relative(quat_wxyz: np.ndarray, ref_wxyz: np.ndarray) -> np.ndarray:
    rel = Rotation.from_quat(quat_wxyz, scalar_first=True) * Rotation.from_quat(ref_wxyz, scalar_first=True).inv()
    return rel.as_quat(scalar_first=True)


def relative_twist_and_tilt_deg(quat_wxyz: np.ndarray, ref_wxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twist about earth z and tilt of ``q ⊗ ref⁻¹``, degrees (N,) each."""
    rel = _relative(quat_wxyz, ref_wxyz)
    twist = np.degrees(2.0 * np.arctan2(rel[:, 3], rel[:, 0]))
    tilt = np.degrees(np.arccos(np.clip(1.0 - 2.0 * (rel[:, 1] ** 2 + rel[:, 2] ** 2), -1.0, 1.0)))
    return twist, tilt


def _wrap_deg(angle: np.ndarray) -> np.ndarray:
    return (angle + 180.0) % 360.0 - 180.0


def _rmse_from(est_wxyz, true_wxyz, ref: int, use: np.ndarray, max_tilt_deg: float) -> tuple[float, int]:
    idx = np.flatnonzero(use)
    if len(idx) == 0:
        return float("nan"), 0
    true_twist, tilt = relative_twist_and_tilt_deg(true_wxyz[idx], true_wxyz[ref])
    est_twist, _ = relative_twist_and_tilt_deg(est_wxyz[idx], est_wxyz[ref])
    keep = tilt <= max_tilt_deg
    if not keep.any():
        return float("nan"), 0
    error = _wrap_deg(est_twist[keep] - true_twist[keep])
    return float(np.sqrt(np.mean(error**2))), int(keep.sum())


def whole_trial_rmse(
    est_wxyz: np.ndarray, true_wxyz: np.ndarray, movement: np.ndarray, max_tilt_deg: float = 60.0
) -> float:
    """Twist RMSE (°) over the trial, referenced to the first valid truth sample."""
    valid = ~np.isnan(true_wxyz).any(axis=1)
    ref = int(np.argmax(valid))
    return _rmse_from(est_wxyz, true_wxyz, ref, movement & valid, max_tilt_deg)[0]


@dataclass(frozen=True)
class WindowErrors:
    """Per-window twist RMSE (°) and each window's start (s)."""

    start_s: np.ndarray
    rmse_deg: np.ndarray

    @property
    def median_deg(self) -> float:
        return float(np.median(self.rmse_deg)) if len(self.rmse_deg) else float("nan")

    @property
    def max_deg(self) -> float:
        return float(np.max(self.rmse_deg)) if len(self.rmse_deg) else float("nan")


def window_rmse(
    est_wxyz: np.ndarray,
    true_wxyz: np.ndarray,
    movement: np.ndarray,
    fs_hz: float,
    window_s: float = 60.0,
    step_s: float = 10.0,
    max_tilt_deg: float = 60.0,
) -> WindowErrors:
    """Twist RMSE (°) in windows of ``window_s`` every ``step_s``, each referenced to its own first sample."""
    valid = ~np.isnan(true_wxyz).any(axis=1)
    n = len(true_wxyz)
    width, step = int(round(window_s * fs_hz)), int(round(step_s * fs_hz))
    starts, errors = [], []
    for a in range(0, n - width + 1, step):
        b = a + width
        if not valid[a] or movement[a:b].mean() < 0.5:
            continue
        use = np.zeros(n, dtype=bool)
        use[a:b] = movement[a:b] & valid[a:b]
        rmse, kept = _rmse_from(est_wxyz, true_wxyz, a, use, max_tilt_deg)
        if kept >= 0.3 * width:
            starts.append(a / fs_hz)
            errors.append(rmse)
    return WindowErrors(np.array(starts), np.array(errors))
