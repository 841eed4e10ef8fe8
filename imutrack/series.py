"""Numeric helpers on one time series, for the analysis's hot paths."""

from __future__ import annotations

import numpy as np

# Whole-recording arithmetic runs on chunks of this many samples when it makes many temporary arrays: a chunk's
# temporaries (128 KB each) stay in the processor's cache and are reused by the allocator, where an hour's (3 MB each)
# are fresh memory every time; over an hour at 100 Hz, twice as fast.
CHUNK_SAMPLES = 16384


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


def median(values: np.ndarray) -> float:
    """``float(np.median(values))`` of a 1-D array, to the bit (NaN when it holds a NaN or nothing). Written out:
    numpy's general reduction costs ~3x the work on the few hundred samples of a rest or a hold, and the analysis
    asks for hundreds of medians."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return float("nan")
    half = n // 2
    middle = [half - 1, half] if n % 2 == 0 else [half]
    part = np.partition(v, middle + [n - 1])  # the largest last: a NaN, if any, is there
    if np.isnan(part[-1]):
        return float("nan")
    return float(part[half]) if n % 2 else float((part[half - 1] + part[half]) / 2.0)


def column_mean(values: np.ndarray) -> np.ndarray:
    """The mean of each column of a narrow (N, k) array, (k,), as a matrix product: numpy's mean over axis 0 walks
    rows of a few numbers ~5x slower. The same to rounding (another order of summation)."""
    v = np.asarray(values, dtype=np.float64)
    return (np.ones(len(v)) @ v) / len(v)
