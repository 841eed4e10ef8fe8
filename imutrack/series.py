"""Numeric helpers on one time series, for the analysis's hot paths."""

from __future__ import annotations

import numpy as np


def gradient(values: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """``np.gradient(values, t_s)`` of a 1-D series (per second, at times ``t_s`` in s, at least 2 samples):
    second-order differences inside, weighted for uneven steps, first-order at the ends. Written out: numpy's
    general version costs 2-3x more on the few hundred samples of a rest, and the analysis calls it hundreds of
    times."""
    values = np.asarray(values, dtype=np.float64)
    step = np.diff(t_s)
    change = np.diff(values)
    out = np.empty(len(values))
    before, after = step[:-1], step[1:]
    out[1:-1] = (before * before * change[1:] + after * after * change[:-1]) / (before * after * (before + after))
    out[0] = change[0] / step[0]
    out[-1] = change[-1] / step[-1]
    return out
