"""Gaps in a recording — a BLE link lost and found again, a phone app's hiccup — and what the analysis does with them.

The twist is gyro integration, so a gap loses the rotation that happened during it. Two kinds:

* a **short** gap (at most ``fill_max_s``): the samples are filled in by linear interpolation at the recording's rate
  and the rotation during the gap is integrated. That is right while the rate changes little over the gap;
* a gap longer than ``split_s`` also splits the data into pieces, and the twist within each piece is measured from a
  rest in that same piece (:func:`imutrack.rests.from_latest_rest`) — a rep whose turn fell into a gap is measured
  from the rest after it, since the person came back to face forward. Interpolation would miss a bounce in a forced
  hold (a 0.47 s gap over half a bounce had cost 7°). A piece with no rest in it carries on from the one before when
  its gap was *bridged* (filled in; the analysis says so when the filling may have missed more than
  ``bridge_max_deg``, :func:`breaks`), and cannot be measured otherwise.

A gap is a step between samples of more than ``gap_factor`` × the median step. Even one dropped sample counts (a phone
under load drops sensor events): orientation integrates every sample over the median step, so a 2× step not filled
in would lose half of its rotation — 5 % of samples dropped made a 48° hold read 47°, 20 % made it 40°.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imutrack.samples import ImuSamples


@dataclass
class GapParams:
    """When a step between samples is a gap (× the median step), up to how long one is filled in (s), from how long
    on it splits the data into pieces (s), how much rotation the filling of a gap may miss before the analysis warns
    (°, :func:`breaks`), and how far steps may stray from the median (a fraction) before the samples are put on a
    regular grid."""

    gap_factor: float = 1.5
    fill_max_s: float = 0.5
    split_s: float = 0.2
    bridge_max_deg: float = 0.5
    jitter: float = 0.01


def _gaps(t_s: np.ndarray, params: GapParams, step_s: float | None = None) -> tuple[np.ndarray, float]:
    """Indices i where the step t[i] − t[i−1] is a gap, and the usual (median) step, s (``step_s`` when known)."""
    steps = np.diff(t_s)
    dt = (step_s if step_s is not None else float(np.median(steps))) if len(steps) else 0.0
    return np.flatnonzero(steps > params.gap_factor * dt) + 1, dt


def fill_short_gaps(samples: ImuSamples, params: GapParams | None = None) -> tuple[ImuSamples, np.ndarray]:
    """The samples with every short gap filled in at the median rate: linearly between the mean of the samples just
    before the gap and that of those just after, over half the gap's length on each side (at most 0.1 s). One sample
    at either edge carries its share of tremor and noise, which a fill would stretch over the whole gap (0.25° per
    0.2 s gap in a simulated hold); a longer mean would lag behind a turn.

    Returns:
        ``(filled, original)``: the filled samples, and the index in ``filled`` of each original sample (N,).
    """
    p = params or GapParams()
    starts, dt = _gaps(samples.t_s, p, samples.step_s)
    t = samples.t_s
    short = [i for i in starts if t[i] - t[i - 1] <= p.fill_max_s]
    if not short:
        return samples, np.arange(len(samples))
    blocks = [v for v in (samples.gyr_rad_s, samples.acc_m_s2, samples.mag_uT) if v is not None]
    times, values, last = [], [[] for _ in blocks], 0
    for i in short:
        inner = np.linspace(t[i - 1], t[i], int(round((t[i] - t[i - 1]) / dt)) + 1)[1:-1]
        share = ((inner - t[i - 1]) / (t[i] - t[i - 1]))[:, None]
        k = int(np.clip(round(0.5 * (t[i] - t[i - 1]) / dt), 1, max(1, round(0.1 / dt))))
        times += [t[last:i], inner]
        for out, v in zip(values, blocks):
            before, after = v[max(0, i - k):i].mean(axis=0), v[i:i + k].mean(axis=0)
            out += [v[last:i], before + share * (after - before)]
        last = i
    times.append(t[last:])
    for out, v in zip(values, blocks):
        out.append(v[last:])
    t_new = np.concatenate(times)
    joined = [np.concatenate(out) for out in values]
    filled = ImuSamples(t_new, joined[0], joined[1], joined[2] if len(joined) > 2 else None)
    return filled, np.searchsorted(t_new, t)


def regularise(samples: ImuSamples, params: GapParams | None = None) -> tuple[ImuSamples, np.ndarray]:
    """The samples at a regular rate, which orientation needs (it integrates every sample over one fixed step).

    Short gaps are filled in (:func:`fill_short_gaps`). Sample times that stray from the median step by more than
    ``jitter`` — a phone's sensor events, which come when the system delivers them, 9 and 11 ms apart in turns, say
    — are resampled by linear interpolation onto a grid at the median step, piece by piece between long gaps:
    integrated over the median step as they are, such samples had bent a 48° hold by 5°, either way.

    Returns:
        ``(regular, position)``: the regular samples, and where each original sample lies in them, as a fractional
        index (N,) — whole numbers when nothing had to be resampled.
    """
    p = params or GapParams()
    t = samples.t_s
    steps = np.diff(t)
    if len(steps) == 0:
        return samples, np.arange(len(samples), dtype=np.float64)
    dt = samples.step_s
    ordinary = steps <= p.gap_factor * dt
    if not ordinary.any() or np.abs(steps[ordinary] / dt - 1.0).max() <= p.jitter:
        filled, original = fill_short_gaps(samples, p)
        return filled, original.astype(np.float64)
    bounds = [0, *long_gaps(t, p), len(t)]
    grid = np.concatenate([np.linspace(t[a], t[b - 1], max(2, int(round((t[b - 1] - t[a]) / dt)) + 1))
                           if b - a > 1 else t[a:b] for a, b in zip(bounds[:-1], bounds[1:])])

    def at(values: np.ndarray) -> np.ndarray:
        return np.column_stack([np.interp(grid, t, values[:, k]) for k in range(values.shape[1])])

    mag = None if samples.mag_uT is None else at(samples.mag_uT)
    regular = ImuSamples(grid, at(samples.gyr_rad_s), at(samples.acc_m_s2), mag)
    return regular, np.interp(t, grid, np.arange(len(grid), dtype=np.float64))


@dataclass(frozen=True)
class Gap:
    """A gap in a recording: ``at`` is the index of the first regular sample after it (:func:`regularise`),
    ``start_s`` when it began and ``length_s`` how long it lasted (s); ``splits`` when it is longer than ``split_s``;
    ``bridged`` when it was filled in, and then ``error_deg``, how much rotation the filling may have missed (°; inf
    when not filled)."""

    at: int
    start_s: float
    length_s: float
    splits: bool
    bridged: bool
    error_deg: float


def breaks(recorded: ImuSamples, position: np.ndarray, params: GapParams | None = None) -> list[Gap]:
    """The gaps of a recording; those longer than ``split_s`` split the regular samples (:func:`regularise`) into
    pieces.

    A filled-in gap may have hidden rotation that linear interpolation of the rate misses — what its curvature adds,
    about length² × (the change of angular acceleration across the gap) / 12. A smooth turn keeps that small (a
    0.3 s gap: ~0.4°), a bounce does not (a 0.25 s gap: ~2.5°)."""
    p = params or GapParams()
    t = recorded.t_s
    starts, dt = _gaps(t, p, recorded.step_s)
    if not len(starts):
        return []
    gyr = np.degrees(recorded.gyr_rad_s)
    k = max(1, int(round(0.1 / dt)))  # the angular acceleration over 0.1 s on each side
    found = []
    for i in starts:
        length = float(t[i] - t[i - 1])
        bridged, error = length <= p.fill_max_s, float("inf")
        if bridged and i - 1 - k >= 0 and i + k < len(t):
            before = (gyr[i - 1] - gyr[i - 1 - k]) / (t[i - 1] - t[i - 1 - k])
            after = (gyr[i + k] - gyr[i]) / (t[i + k] - t[i])
            error = length**2 * float(np.linalg.norm(after - before)) / 12.0
        found.append(Gap(int(round(position[i])), float(t[i - 1]), length, length > p.split_s, bridged, error))
    return found


def long_gaps(t_s: np.ndarray, params: GapParams | None = None) -> list[int]:
    """Indices where a new piece of data starts after a gap longer than ``fill_max_s``."""
    p = params or GapParams()
    starts, _ = _gaps(t_s, p)
    return [int(i) for i in starts if t_s[i] - t_s[i - 1] > p.fill_max_s]


def split_at(intervals: list[tuple[int, int]], breaks: list[int] | tuple, t_s: np.ndarray,
             min_s: float) -> list[tuple[int, int]]:
    """Index intervals cut at the ``breaks`` (a still stretch across a long gap is two), keeping the parts that still
    last ``min_s`` seconds."""
    if not len(breaks):
        return list(intervals)
    out = []
    for a, b in intervals:
        cuts = [a, *[i for i in breaks if a < i < b], b]
        out += [(c0, c1) for c0, c1 in zip(cuts[:-1], cuts[1:]) if c1 > c0 and t_s[c1 - 1] - t_s[c0] >= min_s]
    return out
