"""Per-hold and per-session metrics (meaning and units in ``docs/metrics.md``). Arrays in, numbers out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from imutrack.holds import Rep
from imutrack.intervals import runs
from imutrack.series import gradient, median


@dataclass
class MetricParams:
    """Thresholds and bands used by the metrics."""

    target_hold_s: float = 60.0
    edge_s: float = 10.0
    slouch_threshold_deg: float = 10.0
    forcing_band_hz: tuple[float, float] = (0.5, 3.0)
    forced_bounce_deg: float = 1.0
    tremor_band_hz: tuple[float, float] = (4.0, 12.0)
    breath_band_hz: tuple[float, float] = (0.08, 0.8)
    breath_max_rate_deg_s: float = 2.0
    breath_guard_s: float = 1.0
    breath_trim_s: float = 5.0
    shallow_breath_deg: float = 0.3
    hips_moved_deg: float = 2.0  # a pelvis turning this much during a hold: the hips moved (two sensors)


@dataclass
class HoldMetrics:
    """What one hold looked like. Angles in degrees (twist + = left), times in s, rates in °/s.

    ``mean_twist_deg`` and ``peak_twist_deg`` keep the side's sign; ``rom_deg`` is the unsigned mean twist,
    the range of motion this hold reached and held. Twists are measured from the rest before the rep;
    ``neutral_shift_deg`` is how far that rest faced from the session's starting neutral (+ = left).

    With a second sensor on the pelvis (:func:`two_sensor_metrics`; NaN with one): ``pelvis_mean_twist_deg`` is the
    pelvis's own turn on the seat, mean over the hold; ``spine_mean_twist_deg`` the spine's twist (chest against
    pelvis); ``pelvis_share`` the pelvis's part of the chest's turn (0-1; NaN for a turn under 5°);
    ``hips_moved_deg`` how far the pelvis turned during the hold (range of its 1-s mean).
    """

    rep: int
    side: str
    turn_start_s: float
    hold_start_s: float
    hold_end_s: float
    duration_s: float
    time_to_end_s: float
    mean_twist_deg: float
    peak_twist_deg: float
    rom_deg: float
    creep_deg: float
    twist_sd_deg: float
    twist_rate_rms_deg_s: float
    tremor_rms_deg_s: float
    bounce_deg: float
    forced: bool
    slouch_fraction: float
    max_flexion_deg: float
    mean_lean_deg: float
    max_abs_lean_deg: float
    breath_rate_bpm: float
    breath_depth_deg: float
    neutral_shift_deg: float = 0.0
    spine_mean_twist_deg: float = float("nan")
    pelvis_mean_twist_deg: float = float("nan")
    pelvis_share: float = float("nan")
    hips_moved_deg: float = float("nan")


@lru_cache(maxsize=64)
def _bandpass(lo_hz: float, hi_hz: float, fs: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A 2nd-order Butterworth band-pass as second-order sections, its steady-state initial conditions, and the
    length of the odd extension scipy's ``sosfiltfilt`` pads with (computed once: they cost more than the filtering
    of a hold)."""
    from scipy.signal import butter, sosfilt_zi  # scipy.signal costs a second to import: only when needed

    sos = butter(2, [lo_hz, hi_hz], btype="bandpass", fs=fs, output="sos")
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return sos, sosfilt_zi(sos), 3 * taps


def _band(signal: np.ndarray, fs: float, band_hz: tuple[float, float]) -> np.ndarray:
    """Zero-phase band-pass along the last axis (time; channels, if any, before it): what
    ``scipy.signal.sosfiltfilt`` gives (odd extension, steady-state start), with the filter's set-up cached."""
    lo, hi = band_hz
    hi = min(hi, 0.45 * fs)
    if signal.shape[-1] < 30 or lo >= hi:
        return np.zeros_like(signal)
    from scipy.signal import sosfilt, sosfiltfilt

    sos, zi, edge = _bandpass(lo, hi, round(fs, 6))
    if signal.shape[-1] <= edge:
        return sosfiltfilt(sos, signal, axis=-1)
    x = np.asarray(signal, dtype=np.float64)
    ext = np.concatenate([2 * x[..., :1] - x[..., edge:0:-1], x, 2 * x[..., -1:] - x[..., -2:-edge - 2:-1]], axis=-1)
    zi = zi.reshape((len(sos),) + (1,) * (x.ndim - 1) + (2,))
    y, _ = sosfilt(sos, ext, axis=-1, zi=zi * ext[..., :1])
    y, _ = sosfilt(sos, y[..., ::-1], axis=-1, zi=zi * y[..., -1:])
    return y[..., ::-1][..., edge:-edge]


def breathing(t_s: np.ndarray, flexion_deg: np.ndarray, params: MetricParams, fs_hz: float | None = None
              ) -> tuple[float, float]:
    """Breathing rate (breaths/min) and depth (peak-to-peak sternum pitch, °) from the flexion angle.

    Each breath pitches the sternum by a fraction of a degree to a degree or two, slowly (well under
    ``breath_max_rate_deg_s``). Posture changes (slouching, shifting) are faster and larger: samples within
    ``breath_guard_s`` of any such movement are left out, and a Lomb–Scargle periodogram over the remaining
    stretches, each with its own floating offset (a 0.01 Hz grid in ``breath_band_hz``, refined to 0.0005 Hz around
    its peak), gives the rate.
    Depth is 2√2 × the SD of the cleaned series (exact for a sinusoid). ``fs_hz``: the sampling rate, Hz, when
    known (else from the median step).
    """
    n = len(t_s)
    if n < 10 or t_s[-1] - t_s[0] < 15.0:  # fewer than ~2 slow breaths: no estimate
        return float("nan"), float("nan")
    fs = fs_hz or 1.0 / float(np.median(np.diff(t_s)))
    step = int(fs / 5.0 + 1e-9)  # (a rate a rounding below 100 Hz still averages 20 samples)
    if step > 1:  # breathing is below 1 Hz: average down to about 5 Hz first (cheaper, and no aliasing)
        flexion_deg = uniform_filter1d(flexion_deg, step, mode="nearest")[::step]
        t_s, fs, n = t_s[::step], fs / step, len(t_s[::step])
    window = max(5, int(round(0.5 * fs)) | 1)
    rate = _savgol_slope(flexion_deg, window) * fs if window < n else gradient(flexion_deg, t_s)
    # A breath's pitch rate is sinusoidal: its robust SD (1.4826 × MAD) is about its amplitude (1.05×), so 2.5 robust
    # SDs — 2.6× a breath's own peak rate — are never reached by breathing but are by a posture shift on top of it.
    robust_sd = 1.4826 * median(np.abs(rate - median(rate)))
    moving = np.abs(rate) > min(params.breath_max_rate_deg_s, max(2.5 * robust_sd, 0.3))
    guard = int(round(params.breath_guard_s * fs))
    if moving.any():
        moving = maximum_filter1d(moving.astype(np.uint8), size=2 * guard + 1).astype(bool)
    thin = 2 if fs > 4.0 else 1  # every other sample is plenty for rates below 0.8 Hz, and halves the cost
    pieces_t, pieces_y = [], []
    for a, b in runs(~moving):
        if t_s[b - 1] - t_s[a] < 4.0:
            continue
        t, y = t_s[a:b:thin], flexion_deg[a:b:thin]
        pieces_t.append(t)
        pieces_y.append(y - y.mean())
    if not pieces_t or sum(t[-1] - t[0] for t in pieces_t) < 15.0:
        return float("nan"), float("nan")
    y = np.concatenate(pieces_y)
    depth = 2.0 * np.sqrt(2.0) * float(np.std(y))
    # Coarse grid first, then a fine one around its peak (same answer as a fine grid throughout, 10× cheaper).
    coarse = np.arange(params.breath_band_hz[0], params.breath_band_hz[1], 0.01)
    peak = coarse[np.argmax(_periodogram(pieces_t, y, coarse))]
    fine = np.arange(max(peak - 0.01, params.breath_band_hz[0]), min(peak + 0.01, params.breath_band_hz[1]), 0.0005)
    rate_hz = float(fine[np.argmax(_periodogram(pieces_t, y, fine))])
    return 60.0 * rate_hz, depth


@lru_cache(maxsize=16)
def _slope_weights(window: int) -> np.ndarray:
    """The slope of the least-squares quadratic through ``window`` samples one step apart, at each of their
    positions: row i weighs the samples into the slope at sample i (window, window)."""
    position = np.arange(window, dtype=np.float64)
    fit = np.linalg.pinv(np.vander(position, 3, increasing=True))  # samples -> (c0, c1, c2) of c0 + c1 i + c2 i²
    return fit[1][None, :] + 2.0 * position[:, None] * fit[2][None, :]


def _savgol_slope(values: np.ndarray, window: int) -> np.ndarray:
    """Savitzky–Golay slope (quadratic, odd ``window`` ≤ len(values)) per sample step: what
    ``scipy.signal.savgol_filter(values, window, 2, deriv=1)`` gives (its "interp" edges: the end windows' own fits),
    without its per-call set-up, which costs more than a hold's few hundred samples."""
    weights = _slope_weights(window)
    half = window // 2
    out = np.empty(len(values))
    out[half:len(values) - half] = np.correlate(values, weights[half], mode="valid")
    out[:half] = weights[:half] @ values[:window]
    out[len(values) - half:] = weights[window - half:] @ values[-window:]
    return out


def _quadratic_trend(t_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The least-squares quadratic in time through ``values`` (at times ``t_s``), evaluated there: what
    ``np.polyval(np.polyfit(t_s, values, 2), t_s)`` gives, ~8x cheaper (normal equations on time scaled to ±1,
    whose Gram matrix is well-conditioned)."""
    half_span = 0.5 * float(t_s[-1] - t_s[0])
    u = (t_s - 0.5 * float(t_s[-1] + t_s[0])) / (half_span if half_span > 0 else 1.0)
    basis = np.stack([np.ones_like(u), u, u * u])
    return np.linalg.solve(basis @ basis.T, basis @ values) @ basis


def _periodogram(pieces_t: list[np.ndarray], y: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Power of a sinusoid at each frequency fitted to stretches with a free offset each (a Lomb–Scargle
    periodogram with a floating mean per stretch): the share of ``y``'s variance it explains. ``y`` is the
    stretches' samples concatenated, each with its mean removed. A stretch cut short by a posture change may hold
    less than one slow breath, and removing its mean first would distort that breath; fitting the offset together
    with the sinusoid does not."""
    t = np.concatenate(pieces_t)
    # e^(2πi f t) on the grid of frequencies (evenly spaced): one exponential per row and cumulative products, a
    # third of the cost of a cosine and a sine per element (the products' rounding: ~1e-14 over a hundred rows)
    e = np.empty((len(freqs_hz), len(t)), dtype=np.complex128)
    e[0] = np.exp(2j * np.pi * freqs_hz[0] * t)
    if len(freqs_hz) > 1:
        e[1:] = np.exp(2j * np.pi * (freqs_hz[1] - freqs_hz[0]) * t)
        np.cumprod(e, axis=0, out=e)
    if len(pieces_t) == 1:  # the offsets, projected out
        e -= e.mean(axis=1, keepdims=True)
    else:
        starts = np.cumsum([0] + [len(p) for p in pieces_t[:-1]])
        lengths = np.array([len(p) for p in pieces_t])
        e -= np.repeat(np.add.reduceat(e, starts, axis=1) / lengths, lengths, axis=1)
    # with c, s the real and imaginary parts: Σc², Σs², Σcs from Σe² and Σ|e|²
    square = np.einsum("ij,ij->i", e, e)
    power = np.einsum("ij,ij->i", e.real, e.real) + np.einsum("ij,ij->i", e.imag, e.imag)
    cc, ss, cs = 0.5 * (power + square.real), 0.5 * (power - square.real), 0.5 * square.imag
    projection = e @ y
    yc, ys = projection.real, projection.imag
    det = np.maximum(cc * ss - cs * cs, 1e-12)
    explained = (ss * yc * yc - 2.0 * cs * yc * ys + cc * ys * ys) / det
    return explained / max(float(y @ y), 1e-300)


def hold_metrics(
    index: int,
    rep: Rep,
    t_s: np.ndarray,
    twist_deg: np.ndarray,
    flexion_deg: np.ndarray,
    lean_deg: np.ndarray,
    gyr_rad_s: np.ndarray,
    params: MetricParams | None = None,
    fs_hz: float | None = None,
) -> HoldMetrics:
    """Metrics of one rep's hold; all series share the times ``t_s`` (s) sampled at about ``fs_hz``."""
    p = params or MetricParams()
    fs = fs_hz or 1.0 / float(np.median(np.diff(t_s)))
    i0, i1 = np.searchsorted(t_s, [rep.hold_start_s, rep.hold_end_s])
    i1 = max(i1, i0 + 2)
    t, twist = t_s[i0:i1], twist_deg[i0:i1]
    sign = rep.sign
    edge = min(p.edge_s, (t[-1] - t[0]) / 3.0)
    first = twist[t < t[0] + edge]
    last = twist[t > t[-1] - edge]
    trend = _quadratic_trend(t, twist) if len(t) > 3 else twist
    residual = twist - trend
    rate = gradient(residual, t)
    # (the axes as rows: filtered along time without moving them; a filter is linear, so degrees come after)
    tremor = _band(np.ascontiguousarray(gyr_rad_s[i0:i1].T), fs, p.tremor_band_hz)
    bounce = np.sqrt(2.0) * float(np.std(_band(twist, fs, p.forcing_band_hz)))
    flexion = flexion_deg[i0:i1]
    lean = lean_deg[i0:i1]
    settled = slice(int(np.searchsorted(t, t[0] + p.breath_trim_s, side="left")),
                    int(np.searchsorted(t, t[-1] - p.breath_trim_s, side="right")))  # (t is increasing)
    rate_bpm, depth = breathing(t[settled], flexion[settled], p, fs)
    mean_twist = float(np.mean(twist))
    return HoldMetrics(
        rep=index,
        side=rep.side,
        turn_start_s=rep.turn_start_s,
        hold_start_s=rep.hold_start_s,
        hold_end_s=rep.hold_end_s,
        duration_s=rep.hold_duration_s,
        time_to_end_s=rep.hold_start_s - rep.turn_start_s,
        mean_twist_deg=mean_twist,
        peak_twist_deg=float(sign * np.max(sign * twist)),
        rom_deg=abs(mean_twist),
        creep_deg=float(sign * (np.mean(last) - np.mean(first))),
        twist_sd_deg=float(np.std(residual)),
        twist_rate_rms_deg_s=float(np.sqrt(np.mean(rate**2))),
        tremor_rms_deg_s=float(np.degrees(np.sqrt(np.vdot(tremor, tremor) / max(tremor.shape[-1], 1)))),
        bounce_deg=bounce,
        forced=bool(bounce > p.forced_bounce_deg),
        slouch_fraction=float(np.mean(flexion > p.slouch_threshold_deg)),
        max_flexion_deg=float(np.max(flexion)),
        mean_lean_deg=float(np.mean(lean)),
        max_abs_lean_deg=float(np.max(np.abs(lean))),
        breath_rate_bpm=rate_bpm,
        breath_depth_deg=depth,
    )


@dataclass(frozen=True)
class DayParts:
    """Where the parts of the day begin, in local hours from midnight (``morning_h`` < ``afternoon_h`` <
    ``evening_h``). The evening lasts until the next morning: every session falls in a part of the day, and one after
    midnight but before ``morning_h`` is that night's evening session, counted on the day before (the day it ends)."""

    morning_h: float = 5.0
    afternoon_h: float = 12.0
    evening_h: float = 17.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.morning_h < self.afternoon_h < self.evening_h <= 24.0:
            raise ValueError(f"the parts of the day must begin in order within 0–24 h (morning < afternoon < "
                             f"evening), got {self.morning_h:g}, {self.afternoon_h:g}, {self.evening_h:g}")

    @classmethod
    def parse(cls, text: str) -> DayParts:
        """From "MORNING,AFTERNOON,EVENING" hours, e.g. "5,12,17" or "6:30,12,18" (raises ValueError)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise ValueError(f"expected three hours MORNING,AFTERNOON,EVENING such as 5,12,17, got {text!r}")
        hours = []
        for part in parts:
            h, _, m = part.partition(":")
            try:
                hours.append(float(h) + (float(m) / 60.0 if m else 0.0))
            except ValueError:
                raise ValueError(f"{part!r} is not an hour (such as 5 or 6:30)") from None
        return cls(*hours)

    def part_of(self, start_time: str) -> tuple[str | None, str]:
        """The exercise day (ISO date; None when the time is not known) and the part of the day of a session that
        began at ``start_time`` (ISO 8601, local time): "morning", "afternoon", "evening" or "unknown"."""
        try:
            start = datetime.fromisoformat(start_time)
        except (TypeError, ValueError):
            return None, "unknown"
        hour = start.hour + start.minute / 60.0 + start.second / 3600.0
        day = start.date()
        if hour < self.morning_h:
            return (day - timedelta(days=1)).isoformat(), "evening"
        if hour < self.afternoon_h:
            return day.isoformat(), "morning"
        if hour < self.evening_h:
            return day.isoformat(), "afternoon"
        return day.isoformat(), "evening"


DAY_PARTS = ("morning", "afternoon", "evening")


def time_slot(start_time: str, parts: DayParts | None = None) -> str:
    """The part of the day a session began in (:class:`DayParts`, by default morning from 05 h, afternoon from 12 h,
    evening from 17 h until the next morning), or "unknown"."""
    return (parts or DayParts()).part_of(start_time)[1]


@dataclass
class SideSummary:
    """Per side: reps, holds, best and mean range of motion (°), mean hold duration (s)."""

    reps: int
    holds: int
    best_rom_deg: float
    mean_rom_deg: float
    mean_hold_s: float


@dataclass
class SessionMetrics:
    """Per session. ``asymmetry_deg`` = best left − best right ROM (° ; + = left turns further)."""

    start_time: str
    time_slot: str
    assisted: str
    duration_s: float
    left: SideSummary
    right: SideSummary
    asymmetry_deg: float
    asymmetry_pct: float
    compliant_holds: int


def _side(reps: list[Rep], holds: list[HoldMetrics], side: str) -> SideSummary:
    roms = [h.rom_deg for h in holds if h.side == side]
    durations = [h.duration_s for h in holds if h.side == side]
    nan = float("nan")
    return SideSummary(
        reps=sum(r.side == side for r in reps),
        holds=len(roms),
        best_rom_deg=max(roms) if roms else nan,
        mean_rom_deg=float(np.mean(roms)) if roms else nan,
        mean_hold_s=float(np.mean(durations)) if durations else nan,
    )


def session_metrics(
    reps: list[Rep], holds: list[HoldMetrics], start_time: str, assisted: str, duration_s: float,
    params: MetricParams | None = None,
) -> SessionMetrics:
    p = params or MetricParams()
    left, right = _side(reps, holds, "left"), _side(reps, holds, "right")
    asymmetry = left.best_rom_deg - right.best_rom_deg
    larger = max(left.best_rom_deg, right.best_rom_deg)
    return SessionMetrics(
        start_time=start_time,
        time_slot=time_slot(start_time),
        assisted=assisted,
        duration_s=duration_s,
        left=left,
        right=right,
        asymmetry_deg=asymmetry,
        asymmetry_pct=100.0 * asymmetry / larger if larger > 0 else float("nan"),
        compliant_holds=sum(h.duration_s >= 0.9 * p.target_hold_s for h in holds),
    )


def two_sensor_metrics(hold: HoldMetrics, t_s: np.ndarray, twist_deg: np.ndarray, pelvis_twist_deg: np.ndarray,
                       rate_hz: float) -> HoldMetrics:
    """``hold`` with the spine's and the pelvis's part of it, from the chest's twist and the pelvis's own
    (degrees, measured from the same rest, on the same times ``t_s``)."""
    i0, i1 = np.searchsorted(t_s, (hold.hold_start_s, hold.hold_end_s))
    pelvis = pelvis_twist_deg[i0:i1]
    if len(pelvis) < 2 or not np.isfinite(pelvis).all():
        return hold
    pelvis_mean = float(np.mean(pelvis))
    width = max(1, int(round(rate_hz)))
    smooth = np.convolve(pelvis, np.ones(width) / width, mode="valid") if len(pelvis) > width else pelvis
    share = pelvis_mean / hold.mean_twist_deg if abs(hold.mean_twist_deg) >= 5.0 else float("nan")
    return replace(hold, pelvis_mean_twist_deg=pelvis_mean,
                   spine_mean_twist_deg=float(np.mean(twist_deg[i0:i1] - pelvis)),
                   pelvis_share=float(share), hips_moved_deg=float(np.ptp(smooth)))
