"""The analysis pipeline: samples → rests + orientation → trunk angles → reps and holds → metrics.

``analyze(path)`` is the Python API behind ``imutrack analyze``; it returns a :class:`SessionAnalysis` with the
per-sample angles, the reps, the per-hold metrics and the session summary.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from imutrack.calibration import GyroCalibration, saved
from imutrack.errors import ImutrackError, ImutrackWarning
from imutrack.gaps import Gap, GapParams, breaks, regularise
from imutrack.intervals import runs
from imutrack.holds import HoldParams, Rep, find_reps, on_the_body, twist_rate_deg_s
from imutrack.metrics import (
    HoldMetrics,
    MetricParams,
    SessionMetrics,
    hold_metrics,
    session_metrics,
    two_sensor_metrics,
)
from imutrack.placement import check_placement, negated
from imutrack.orientation import OrientationEstimator, OrientationParams, OrientationResult
from imutrack.rests import (
    FROM_REST_AFTER,
    NOT_MEASURABLE,
    RestParams,
    block_mean,
    block_size,
    estimate_orientation,
    find_rests,
    from_latest_rest,
    up_from_orientation,
)
from imutrack.io import find_pelvis, load
from imutrack.recording import Recording, RecordingMeta
from imutrack.samples import ImuSamples
from imutrack.trunk import Neutral, neutral_from, trunk_angles_deg


MAX_RATE_HZ = 10_000.0  # above any IMU's rate: time in another unit (the gap filling would make a grid at that step)
ANALYSIS_SCHEMA_VERSION = 1  # of what SessionAnalysis.to_dict() gives (docs/analysis.schema.json)
# The version of the numbers: raised with every entry under "Scientific changes" in CHANGELOG.md, so stored sessions
# computed by an earlier analysis are known (imutrack reanalyze). 2: the rest stage (the bias fitted on all rests).
# 3: a sensor found facing into the chest is measured the other way round (imutrack.placement).
# 4: a turn is looked for only after facing forward (a short rest no longer joins a return to the next turn).
# 5: block sizes (rest stage, breathing) no longer depend on the last bit of the measured sampling rate.
ANALYSIS_VERSION = 5


# A pelvis on a chair is far stiller than a breathing chest: still means within 0.3 °/s (the 25 Hz block means of a
# consumer gyro scatter by 0.02-0.05 °/s), so its slow share of a turn (a few °/s) is never taken for a bias.
PELVIS_STILL = RestParams(still_min_s=3.0, still_margin_s=1.0, still_vertical_sd_deg_s=0.3,
                          still_vertical_rate_deg_s=0.3, still_horizontal_sd_deg_s=0.5)
# and still for a whole hold: a minute in which a warming sensor's bias moves, so each 10 s is a sample of it
PELVIS_BIAS_PIECE_S = 10.0


@dataclass
class AnalysisParams:
    """Everything that tunes the analysis (plain data: printed and stored with results).

    Attributes:
        neutral_s: (start, end) of the neutral posture in s; None finds it (the first still stretch).
        pelvis_rests: when a second sensor on the pelvis is still (each still stretch a sample of its gyro bias).
        chest_normal_axis: overrides the recording's declared chest axis ("+z", "-y", ...).
    """

    orientation: OrientationParams = field(default_factory=OrientationParams)
    holds: HoldParams = field(default_factory=HoldParams)
    metrics: MetricParams = field(default_factory=MetricParams)
    gaps: GapParams = field(default_factory=GapParams)
    rests: RestParams = field(default_factory=RestParams)
    pelvis_rests: RestParams = field(default_factory=lambda: PELVIS_STILL)
    neutral_s: tuple[float, float] | None = None
    chest_normal_axis: str | None = None


@dataclass
class SessionAnalysis:
    """The result of analysing one session. Angles in degrees relative to neutral (twist + = left,
    flexion + = forward, lean + = left); times in s from the recording start."""

    source: str
    meta: RecordingMeta
    t_s: np.ndarray
    twist_deg: np.ndarray
    flexion_deg: np.ndarray
    lean_deg: np.ndarray
    neutral: Neutral
    orientation: OrientationResult
    reps: list[Rep]
    holds: list[HoldMetrics]
    session: SessionMetrics
    params: AnalysisParams
    facing_deg: np.ndarray | None = None  # per sample: twist of the rest it is measured from, from the neutral, °
    warnings: list[str] = field(default_factory=list)  # what the user should know about this analysis
    calibration: GyroCalibration | None = None  # the gyro scale applied (imutrack calibrate), if any
    sensors: str = "chest"  # "chest", or "chest+pelvis" with a second sensor on the sacrum
    pelvis_twist_deg: np.ndarray | None = None  # per sample: the pelvis's own twist, from the same rest, °
    level_windows_s: list[tuple[float, float]] = field(default_factory=list)  # the rests twists are measured from

    @property
    def spine_twist_deg(self) -> np.ndarray | None:
        """Per sample: the spine's own twist (chest against pelvis), degrees; None with one sensor."""
        return None if self.pelvis_twist_deg is None else self.twist_deg - self.pelvis_twist_deg

    def rep_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Per sample: the rep number (1-based, 0 outside reps) and the phase ("rest", "turn", "hold", "return")."""
        rep_no = np.zeros(len(self.t_s), dtype=np.int64)
        phase = np.full(len(self.t_s), "rest", dtype=object)
        for k, rep in enumerate(self.reps, start=1):
            bounds = np.searchsorted(self.t_s, [rep.turn_start_s, rep.hold_start_s, rep.hold_end_s, rep.return_end_s])
            rep_no[bounds[0] : bounds[3]] = k
            phase[bounds[0] : bounds[1]] = "turn"
            phase[bounds[1] : bounds[2]] = "hold" if rep.has_hold else "turn"
            phase[bounds[2] : bounds[3]] = "return"
        return rep_no, phase

    def write_angles_csv(self, path: str | os.PathLike) -> Path:
        """Per-sample time series for researchers: t_s, twist_deg, flexion_deg, lean_deg, rep, phase, facing_deg
        (twist_deg + facing_deg is the twist from the session's starting neutral)."""
        rep_no, phase = self.rep_labels()
        facing = self.facing_deg if self.facing_deg is not None else np.zeros_like(self.t_s)
        path = Path(path)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("t_s,twist_deg,flexion_deg,lean_deg,rep,phase,facing_deg\n")
            rows = zip(self.t_s.tolist(), self.twist_deg.tolist(), self.flexion_deg.tolist(), self.lean_deg.tolist(),
                       rep_no.tolist(), phase.tolist(), facing.tolist())
            f.write("".join(f"{t:.6f},{a:.4f},{b:.4f},{c:.4f},{r},{ph},{d:.4f}\n" for t, a, b, c, r, ph, d in rows))
        return path

    def hold_rows(self) -> list[dict]:
        """One row per hold: ``source``, ``session_start`` (ISO 8601, local offset), ``time_slot``, then every
        :class:`HoldMetrics` field (units in their names; NaN where not measured)."""
        head = {"source": self.source, "session_start": self.session.start_time, "time_slot": self.session.time_slot}
        return [head | asdict(h) for h in self.holds]

    def to_dict(self) -> dict:
        """JSON-ready summary (NaN as None): schema version, source, metadata, neutral, reps, holds, session metrics,
        bias, parameters, gyro calibration and warnings (docs/analysis.schema.json)."""
        return json_safe({
            "schema_version": ANALYSIS_SCHEMA_VERSION,
            "analysis_version": ANALYSIS_VERSION,
            "source": self.source,
            "meta": asdict(self.meta),
            "neutral": {"start_s": self.neutral.start_s, "end_s": self.neutral.end_s},
            "reps": [asdict(r) | {"hold_duration_s": r.hold_duration_s} for r in self.reps],
            "holds": [asdict(h) for h in self.holds],
            "session": asdict(self.session),
            "gyro_bias_deg_s": {
                "t_s": self.orientation.bias.t_s.tolist(),
                "bias": np.degrees(self.orientation.bias.bias_rad_s).tolist(),
            },
            "params": asdict(self.params),
            "gyro_calibration": asdict(self.calibration) if self.calibration is not None else None,
            "warnings": list(self.warnings),
            "sensors": self.sensors,
        })


HOLD_TABLE_COLUMNS = ["source", "session_start", "time_slot", *(f.name for f in fields(HoldMetrics))]


def holds_frame(*sources, params: AnalysisParams | None = None):
    """A pandas DataFrame of every hold of the given recordings (paths, :class:`Recording`s or analyses already
    made), one row each, with ``HOLD_TABLE_COLUMNS`` (:meth:`SessionAnalysis.hold_rows`)."""
    import pandas

    rows = []
    for source in sources:
        result = source if isinstance(source, SessionAnalysis) else analyze(source, params)
        rows += result.hold_rows()
    return pandas.DataFrame(rows, columns=HOLD_TABLE_COLUMNS)


def json_safe(value):
    """NaN and inf → None, numpy scalars → Python numbers, tuples → lists: strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def analyze(
    source: str | os.PathLike | Recording | ImuSamples,
    params: AnalysisParams | None = None,
    meta: RecordingMeta | None = None,
    calibration: GyroCalibration | None | str = "auto",
    pelvis: Recording | ImuSamples | None | str = "auto",
) -> SessionAnalysis:
    """Analyse a session from a recording path, a :class:`Recording` or bare samples (then ``meta`` describes them).

    ``calibration``: the gyro's scale to apply (:mod:`imutrack.calibration`); "auto" takes the one kept for the
    recording's device, if any; None applies none.

    ``pelvis``: a second sensor's samples on the sacrum, on the chest's clock (``docs/recording-format.md``): the
    spine's own twist and the pelvis's are measured too. "auto" takes the recording's ``NAME.pelvis.csv`` if there is
    one; None analyses the chest alone."""
    p = params or AnalysisParams()
    if isinstance(source, ImuSamples):
        samples, meta, name = source, meta or RecordingMeta(), "<samples>"
        pelvis = None if isinstance(pelvis, str) else pelvis
    else:
        recording = source if isinstance(source, Recording) else load(source)
        samples, meta = recording.samples, recording.meta
        name = str(recording.path) if recording.path is not None else "<recording>"
        if isinstance(pelvis, str):
            pelvis = find_pelvis(recording)
    pelvis_samples = pelvis.samples if isinstance(pelvis, Recording) else pelvis
    pelvis_axis = pelvis.meta.chest_normal_axis if isinstance(pelvis, Recording) else "-z"
    if meta.extra.get("has_gyro") == "false":
        raise ImutrackError(
            f"{name}: recorded with an accelerometer-only sensor ({meta.profile}): the twist cannot be measured "
            "without a gyroscope; such a sensor can still show posture (slouch, lean) and breathing"
        )
    if len(samples) < 10:
        raise ImutrackError(f"{name}: too few samples to analyse ({len(samples)})")
    if not 1.0 <= samples.rate_hz <= MAX_RATE_HZ:  # (a grid at a nanosecond step would fill the memory)
        raise ImutrackError(f"{name}: the samples are {1.0 / samples.rate_hz:.3g} s apart ({samples.rate_hz:.3g} Hz): "
                            "no chest sensor records like that; is the time column in another unit?")
    if calibration == "auto":
        calibration = saved(meta.device) if meta.device not in ("", "unknown") else None
    if calibration is not None:
        samples = calibration.apply(samples)
    result = _analyze(samples, meta, name, p, calibration)
    if pelvis_samples is not None:
        result = _with_pelvis(result, pelvis_samples, pelvis_axis, p)
    return result


def _analyze(recorded: ImuSamples, meta: RecordingMeta, name: str, p: AnalysisParams,
             calibration: GyroCalibration | None) -> SessionAnalysis:
    """The analysis of checked (and calibrated) samples."""
    axis = p.chest_normal_axis or meta.chest_normal_axis
    samples, position = regularise(recorded, p.gaps)  # everything runs on these; per-sample output at `position`
    t_s = samples.t_s

    gaps = breaks(recorded, position, p.gaps)
    unbridged = [g for g in gaps if not g.bridged]  # not filled in: the rotation during these is unknown
    splits = [g for g in gaps if g.splits]
    if p.neutral_s is None and samples.duration_s < p.rests.still_min_s + 2 * p.rests.still_margin_s + 1.0:
        raise ImutrackError(f"{name}: only {samples.duration_s:.1f} s of data; a session starts with a few seconds "
                            "sitting upright and still")
    rests = find_rests(samples, p.rests, p.orientation, axis, p.neutral_s, [g.at for g in unbridged], name,
                       [(g.at, g.error_deg) for g in gaps if g.bridged])
    quat = OrientationEstimator(samples.rate_hz, p.orientation, rests.bias).update(samples).quat_wxyz_
    orientation = OrientationResult(quat, rests.bias, rests.still, rests.rests)
    neutral = neutral_from(t_s, quat, rests.neutral_s, axis)
    twist, flexion, lean = trunk_angles_deg(quat, neutral.quat_wxyz, neutral.forward_earth)
    rate = twist_rate_deg_s(t_s, twist, p.holds.smooth_s, samples.step_s)  # of the continuous twist: real movements
    twist, facing, how = from_latest_rest(twist, rests.levels, int(np.searchsorted(t_s, neutral.start_s)),
                                          [g.at for g in splits], [g.at for g in splits if g.bridged])
    twist[how == NOT_MEASURABLE] = np.nan  # the rotation lost in a gap before it is unknown
    after_neutral = [g.at for g in unbridged if t_s[g.at] > neutral.end_s]
    if after_neutral:
        facing[after_neutral[0]:] = np.nan  # how far a rest faces from the start is unknown across a long gap
    tilt = np.sqrt(flexion * flexion + lean * lean)
    reps = on_the_body(find_reps(t_s, twist, p.holds, rate, samples.step_s), t_s, tilt, p.holds)
    reps, notes = _measurable(reps, t_s, how, gaps, name, neutral.end_s, p.gaps.bridge_max_deg)
    notes += [f"{name}: the {rep.side} twist at {rep.turn_start_s:.0f} s comes before the first rest facing forward "
              f"(at {neutral.start_s:.0f} s; the recording starts with the person turning), so it is measured from "
              "that rest" for rep in reps if rep.measured_s[0] < neutral.start_s
              and not any(f"twist at {rep.turn_start_s:.0f} s" in note for note in notes)]
    holds = [
        replace(hold_metrics(k, rep, t_s, twist, flexion, lean, samples.gyr_rad_s, p.metrics, samples.rate_hz),
                neutral_shift_deg=float(facing[np.searchsorted(t_s, rep.hold_start_s)]))
        for k, rep in enumerate(reps, start=1)
        if rep.has_hold
    ]
    session = session_metrics(reps, holds, meta.start_time, meta.assisted, samples.duration_s, p.metrics)
    turning = np.zeros(len(t_s), dtype=bool)
    for rep in reps:
        a, b = np.searchsorted(t_s, (rep.turn_start_s, rep.return_end_s))
        turning[a:b] = True
    coarse = block_mean(samples, 25.0)  # ≤ 25 Hz block means are plenty for turns (and 4x cheaper at 100 Hz)
    block = block_size(samples.rate_hz, 25.0)  # block_mean's block: the orientation at each block's centre
    centre = np.arange(len(coarse)) * block + block // 2
    placement = check_placement(coarse.t_s, coarse.acc_m_s2, coarse.gyr_rad_s, up_from_orientation(quat[centre]),
                                axis, turning[centre], is_phone=meta.sensor_frame.startswith("phone"))
    if placement.facing == "inward":
        if p.chest_normal_axis is None:  # declared by the recording, not chosen by the person: measure it right
            turned = replace(p, chest_normal_axis=negated(axis))
            fixed = _analyze(recorded, meta, name, turned, calibration)
            how = "the phone screen outward" if meta.sensor_frame.startswith("phone") else "it as documented"
            note = (f"{name}: the sensor seems to be worn facing into the chest (the turns swing it like a point "
                    f"{-100 * placement.lever_m:.0f} cm behind its declared chest axis {axis}): measured with "
                    f"{negated(axis)} as the chest's front instead. Wear {how}, or pass --chest-axis "
                    f"{negated(axis)} to say so")
            warnings.warn(note, ImutrackWarning, stacklevel=2)
            fixed.warnings.insert(0, note)
            return replace(fixed, params=p)
        notes.append(f"{name}: the turns swing the sensor like a point {-100 * placement.lever_m:.0f} cm behind the "
                     f"chest axis given ({axis}): is it the axis out of the chest? Slouching reads as leaning back "
                     "if not")
    if placement.upside_down:
        notes.append(f"{name}: the phone is worn upside down (its top points down); that does not change the angles")
    notes = rests.warnings + notes
    for note in notes:
        warnings.warn(note, ImutrackWarning, stacklevel=2)
    exact = position.astype(np.int64)  # the recorded samples' indices, unless they had to be resampled
    if not (exact == position).all():
        exact = None
    same = exact is not None and len(exact) == len(t_s)  # (increasing whole indices: every sample, as it came)

    def recorded_at(values: np.ndarray) -> np.ndarray:
        if same:
            return values
        return values[exact] if exact is not None else np.interp(position, np.arange(len(values)), values)

    levels_s = [(float(t_s[a]), float(t_s[min(b, len(t_s)) - 1])) for a, b in rests.levels if b > a]
    return SessionAnalysis(name, meta, recorded.t_s, recorded_at(twist), recorded_at(flexion), recorded_at(lean),
                           neutral, _on_samples(orientation, t_s, recorded.t_s, position), reps, holds, session, p,
                           recorded_at(facing), notes, calibration, level_windows_s=levels_s)


def _with_pelvis(result: SessionAnalysis, recorded: ImuSamples, axis: str, p: AnalysisParams) -> SessionAnalysis:
    """The chest's analysis with the pelvis's own twist and the spine's: the pelvis sensor's orientation (its gyro
    bias from its still stretches, its neutral over the chest's), its twist about vertical on the chest's sample
    times, measured from the same rests as the chest's; the spine's twist is the chest's minus it."""
    name = f"{result.source} (pelvis)"
    needed = (result.neutral.start_s, max([h.hold_end_s for h in result.holds], default=result.neutral.end_s))
    if recorded.t_s[0] > needed[0] + 0.5 or recorded.t_s[-1] < needed[1] - 0.5:
        raise ImutrackError(f"{name}: the pelvis recording ({recorded.t_s[0]:.1f}-{recorded.t_s[-1]:.1f} s) does not "
                            f"run from the chest's first still moment to its last hold ({needed[0]:.1f}-"
                            f"{needed[1]:.1f} s): start the pelvis sensor first and stop it last (or not one session?)")
    samples, _ = regularise(recorded, p.gaps)
    # A pelvis is still through the holds as well as the rests, and does not breathe: every still stretch is a
    # sample of its gyro bias (which follows a warming sensor far better than the rests alone would)
    quat = estimate_orientation(samples, p.orientation, p.pelvis_rests, piece_s=PELVIS_BIAS_PIECE_S).quat_wxyz
    neutral = neutral_from(samples.t_s, quat, (result.neutral.start_s, result.neutral.end_s), axis)
    turned, _, _ = trunk_angles_deg(quat, neutral.quat_wxyz, neutral.forward_earth)
    on_chest = np.interp(result.t_s, samples.t_s, np.unwrap(turned, period=360.0), left=np.nan, right=np.nan)
    # measured from the chest's rests, as the chest's twist is (their index windows on the chest's times)
    levels = [(int(np.searchsorted(result.t_s, a)), int(np.searchsorted(result.t_s, b))) for a, b in
              result.level_windows_s]
    pelvis_deg, facing, _ = from_latest_rest(on_chest, levels, int(np.searchsorted(result.t_s, result.neutral.start_s)))
    pelvis_deg[~np.isfinite(result.twist_deg)] = np.nan
    # how far the body had turned on the seat at each rep's rest: measured by the pelvis, not inferred from the chest
    chest_rate_hz = 1.0 / float(np.median(np.diff(result.t_s)))  # (the arrays are on the chest's times)
    holds = [replace(two_sensor_metrics(h, result.t_s, result.twist_deg, pelvis_deg, chest_rate_hz),
                     neutral_shift_deg=float(facing[np.searchsorted(result.t_s, h.hold_start_s)]))
             for h in result.holds]
    moved = [h for h in holds if h.hips_moved_deg > p.metrics.hips_moved_deg]
    notes = [f"{result.source}: the hips turned {h.hips_moved_deg:.0f}° during the {h.side} hold at "
             f"{h.hold_start_s:.0f} s (keep them still, knees together)" for h in moved]
    for note in notes:
        warnings.warn(note, ImutrackWarning, stacklevel=3)
    return replace(result, holds=holds, pelvis_twist_deg=pelvis_deg, sensors="chest+pelvis",
                   warnings=[*result.warnings, *notes])


def _measurable(reps: list[Rep], t_s: np.ndarray, how: np.ndarray, gaps: list[Gap], name: str, after_s: float,
                bridge_max_deg: float) -> tuple[list[Rep], list[str]]:
    """The reps that can be measured across the recording's gaps, and what the user should know: the stretches after
    a gap that was not filled in and that cannot be measured (no rest facing forward in them; those before
    ``after_s``, the end of the neutral, are not worth a word), the reps measured from the rest after such a gap, and
    the reps carried across a filled-in gap that may have hidden more than ``bridge_max_deg`` of rotation."""
    notes = []
    for a, b in runs(how == NOT_MEASURABLE):
        if t_s[b - 1] <= after_s:
            continue  # before the neutral: the sensor was being put on
        gap = next((g for g in gaps if g.at == a), None)
        where = f"the {gap.length_s:.1f} s gap in the recording at {gap.start_s:.1f} s" if gap else "a gap"
        notes.append(f"{name}: after {where} there is no rest facing forward to measure the twist from, so the "
                     f"{t_s[b - 1] - t_s[a]:.0f} s from there on are left out")
    kept = []
    for rep in reps:
        a, b = np.searchsorted(t_s, rep.measured_s)
        span = how[a:max(b, a + 1)]
        if (span == NOT_MEASURABLE).any():
            continue
        lost = [f"{g.length_s:.1f} s at {g.start_s:.1f} s" for g in gaps
                if not g.bridged and rep.turn_start_s < t_s[g.at] <= rep.hold_end_s]
        if (span == FROM_REST_AFTER).any() and lost:
            notes.append(f"{name}: the {rep.side} twist at {rep.turn_start_s:.0f} s is measured from the rest "
                         f"after it, because of the gap in the recording ({', '.join(lost)})")
        carried = [g for g in gaps if g.bridged and g.error_deg > bridge_max_deg
                   and rep.turn_start_s < t_s[g.at] <= rep.return_end_s]
        if carried:
            notes.append(f"{name}: the {rep.side} twist at {rep.turn_start_s:.0f} s is carried across "
                         f"{'a gap' if len(carried) == 1 else 'gaps'} in the recording while the trunk was moving ("
                         + ", ".join(f"{g.length_s:.1f} s at {g.start_s:.1f} s" for g in carried)
                         + f"): it may be off by {sum(g.error_deg for g in carried):.0f}° or more")
        kept.append(rep)
    return kept, notes


def _on_samples(orientation: OrientationResult, t_s: np.ndarray, recorded_t_s: np.ndarray,
                position: np.ndarray) -> OrientationResult:
    """The orientation result on the recorded samples (it was computed on regular ones: the nearest is taken)."""
    if len(position) == len(t_s) and (position == np.arange(len(t_s))).all():
        return orientation

    def mapped(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(int(np.searchsorted(recorded_t_s, t_s[a])), int(np.searchsorted(recorded_t_s, t_s[b - 1], "right")))
                for a, b in intervals]

    nearest = np.clip(np.round(position).astype(np.int64), 0, len(t_s) - 1)
    return replace(orientation, quat_wxyz=orientation.quat_wxyz[nearest], still=mapped(orientation.still),
                   rests=mapped(orientation.rests))
