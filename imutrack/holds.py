"""Segmentation of the twist angle into reps: turn, hold, return, rest.

A **rep** is an excursion of the twist beyond ``excursion_deg`` to one side. Its movements are found on the twist
rate (Savitzky–Golay derivative over ``smooth_s``), with the kinematics convention of
:data:`imutrack.frames.MOVEMENT_ONSET_FRACTION`:

* the **turn** starts when the rate towards the side first exceeds 5 % of the turn's peak rate, and ends (the end of
  range is reached) when it falls below 5 % again;
* the **return** starts when the rate back towards neutral exceeds 5 % of the return's peak rate, ends when it
  falls below;
* the **hold** is the time between the end of the turn and the start of the return. A rep whose hold is shorter
  than ``min_hold_s`` has no hold (``has_hold`` is False): a quick turn, out and back, reported with its peak.

Reps never overlap: a return that runs straight into the next turn is cut where the twist passes closest to facing
forward.

Crossing times are interpolated between samples. Intervals are in seconds; index intervals are half-open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from imutrack.frames import MOVEMENT_ONSET_FRACTION
from imutrack.intervals import runs
from imutrack.series import gradient, median


@dataclass
class HoldParams:
    """Segmentation settings (degrees, seconds).

    ``max_tilt_deg``: a rep whose hold is tilted (flexion and lean together) further than this from neutral for most
    of its time is not a seated twist — the sensor was taken off and put down, or the person bent down — and is
    dropped (:func:`on_the_body`).
    """

    excursion_deg: float = 15.0
    min_excursion_s: float = 0.5
    smooth_s: float = 0.3
    search_s: float = 6.0
    min_hold_s: float = 5.0
    near_level: float = 0.9
    max_tilt_deg: float = 45.0


@dataclass(frozen=True)
class Rep:
    """One repetition. Times in s from the recording start.

    Attributes:
        side: "left" (twist > 0) or "right".
        turn_start_s, hold_start_s, hold_end_s, return_end_s: the movement boundaries.
        has_hold: False when the trunk never settled at the end of range for ``min_hold_s`` (a quick turn).
        peak_twist_deg: the furthest twist of the rep, ° (with the side's sign).
    """

    side: str
    turn_start_s: float
    hold_start_s: float
    hold_end_s: float
    return_end_s: float
    has_hold: bool
    peak_twist_deg: float = float("nan")

    @property
    def sign(self) -> float:
        return 1.0 if self.side == "left" else -1.0

    @property
    def measured_s(self) -> tuple[float, float]:
        """The interval its angle is judged on, s: the hold, or the whole rep when it has none."""
        return (self.hold_start_s, self.hold_end_s) if self.has_hold else (self.turn_start_s, self.return_end_s)

    @property
    def hold_duration_s(self) -> float:
        return self.hold_end_s - self.hold_start_s if self.has_hold else 0.0


def twist_rate_deg_s(t_s: np.ndarray, twist_deg: np.ndarray, smooth_s: float, step_s: float | None = None
                     ) -> np.ndarray:
    """Smoothed twist rate, °/s (N,); ``step_s``: the median step of ``t_s`` (s) when known."""
    dt = step_s or float(np.median(np.diff(t_s)))
    window = max(5, int(round(smooth_s / dt)) | 1)
    if window > len(twist_deg):
        return gradient(twist_deg, t_s)
    from scipy.signal import savgol_filter  # scipy.signal costs a second to import: only when needed

    return savgol_filter(twist_deg, window, 2, deriv=1, delta=dt)


def _crossing(t_s: np.ndarray, values: np.ndarray, level: float, i: int) -> float:
    """Time where ``values`` crosses ``level`` between samples i−1 and i, linearly interpolated."""
    if i <= 0 or i >= len(values):
        return float(t_s[min(max(i, 0), len(t_s) - 1)])
    a, b = float(values[i - 1]), float(values[i])
    frac = 0.0 if a == b else min(max((level - a) / (b - a), 0.0), 1.0)
    return float(t_s[i - 1] + frac * (t_s[i] - t_s[i - 1]))


def _movement(t_s, speed, lo: int, hi: int, peak_hint: int, reach: int) -> tuple[float, float, int]:
    """Onset and offset (s) of the movement whose speed peaks in [lo, hi); also the peak index. The onset and offset
    are looked for within ``reach`` samples of the peak (a movement is seconds long; scanning the whole session for
    every rep would make segmentation quadratic)."""
    peak = lo + int(np.argmax(speed[lo:hi])) if hi > lo else peak_hint
    level = MOVEMENT_ONSET_FRACTION * speed[peak]
    start = max(0, peak - reach)
    before = np.flatnonzero(speed[start:peak] < level)
    onset_i = start + before[-1] + 1 if len(before) else start
    after = np.flatnonzero(speed[peak:peak + reach] < level)
    offset_i = peak + after[0] if len(after) else min(len(speed) - 1, peak + reach)
    return _crossing(t_s, speed, level, onset_i), _crossing(t_s, speed, level, offset_i), peak


def find_reps(t_s: np.ndarray, twist_deg: np.ndarray, params: HoldParams | None = None,
              rate_deg_s: np.ndarray | None = None, step_s: float | None = None) -> list[Rep]:
    """Reps in a twist time series (``t_s`` in s, ``twist_deg`` in degrees, + = left). ``rate_deg_s``: the
    smoothed twist rate (°/s) when it must not be derived from ``twist_deg`` — a twist re-referenced at rests has
    steps there that are not movements; ``step_s``: the median step of ``t_s`` (s) when known."""
    p = params or HoldParams()
    if len(t_s) < 5:
        return []
    dt = step_s or float(np.median(np.diff(t_s)))
    rate = twist_rate_deg_s(t_s, twist_deg, p.smooth_s, dt) if rate_deg_s is None else rate_deg_s
    search = int(round(p.search_s / dt))
    reps = []
    negated = -rate
    for side, sign in (("left", 1.0), ("right", -1.0)):
        # facing forward or turned to the other side; the rate towards this side and away; turned to this side
        if sign > 0:
            behind, toward, away, turned = twist_deg <= 0.0, rate, negated, twist_deg > p.excursion_deg
        else:
            behind, toward, away, turned = twist_deg >= 0.0, negated, rate, twist_deg < -p.excursion_deg
        for a, b in runs(turned):
            if t_s[b - 1] - t_s[a] < p.min_excursion_s:
                continue
            # The turn's peak speed lies before the trunk first gets near the hold's level, the return's after it
            # last leaves it; bouncing in a forced hold can be as fast as the turn, so it must stay out of the search.
            # Nor may the search reach past facing forward: after a short rest, the return from the other side (as
            # fast, and towards this side) lies within it; so does the next turn to the other side after the return.
            excursion = sign * twist_deg[a:b]
            near = np.flatnonzero(excursion >= p.near_level * median(excursion))
            first_near, last_near = a + near[0] + 1, a + near[-1]
            reach = 3 * search
            lo, hi = max(0, a - search), min(len(t_s), b + search)
            crossed = np.flatnonzero(behind[lo:a])
            lo = lo + int(crossed[-1]) if len(crossed) else lo
            crossed = np.flatnonzero(behind[b:hi])
            hi = b + int(crossed[0]) + 1 if len(crossed) else hi
            turn_start, turn_end, _ = _movement(t_s, toward, lo, first_near, a, reach)
            back_start, back_end, _ = _movement(t_s, away, last_near, hi, b, reach)
            has_hold = back_start - turn_end >= p.min_hold_s
            peak = float(sign * np.max(excursion))
            reps.append(Rep(side, turn_start, turn_end, back_start, back_end, has_hold, peak))
    return _apart(sorted(reps, key=lambda rep: rep.turn_start_s), t_s, twist_deg)


def _apart(reps: list[Rep], t_s: np.ndarray, twist_deg: np.ndarray) -> list[Rep]:
    """Reps that do not overlap: where one rep's return runs straight into the next rep's turn (quick turns from side
    to side), the two meet where the twist passes closest to facing forward between them."""
    out = list(reps)
    for k in range(len(out) - 1):
        this, following = out[k], out[k + 1]
        if this.return_end_s <= following.turn_start_s:
            continue
        i0, i1 = np.searchsorted(t_s, [this.hold_end_s, following.hold_start_s])
        i1 = max(i1, i0 + 1)
        cut = float(t_s[min(i0 + int(np.argmin(np.abs(twist_deg[i0:i1]))), len(t_s) - 1)])
        out[k] = replace(this, return_end_s=max(this.hold_end_s, min(this.return_end_s, cut)))
        out[k + 1] = replace(following, turn_start_s=min(following.hold_start_s, max(following.turn_start_s, cut)))
    return out


def on_the_body(reps: list[Rep], t_s: np.ndarray, tilt_deg: np.ndarray, params: HoldParams | None = None,
                after_s: float = -np.inf) -> list[Rep]:
    """The reps that are a seated twist: starting after ``after_s`` (s; the end of the neutral, before which the
    sensor is being put on), and with a hold tilted no more than ``max_tilt_deg`` from neutral for most of its time
    (``tilt_deg``: per-sample tilt from neutral, degrees (N,)). A sensor lying still on a table at an angle looks like
    a hold to the twist alone."""
    p = params or HoldParams()
    kept = []
    for rep in reps:
        if rep.turn_start_s < after_s:
            continue
        a, b = np.searchsorted(t_s, rep.measured_s)
        if b > a and np.mean(tilt_deg[a:b] > p.max_tilt_deg) > 0.5:
            continue
        kept.append(rep)
    return kept
