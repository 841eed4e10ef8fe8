"""Rests: still stretches → rests → the gyro-bias model → "facing forward" references, in one stage.

In 6D the twist about vertical is pure gyro integration, so everything hinges on the gyro bias, and on what the
twist is measured from. This module owns both. It serves the analysis (:func:`find_rests`, the batch form) and the
live guide (:class:`RestTracker`, the incremental form); both feed the same :class:`BiasFit`, so the same rests give
the same bias model either way.

**Still stretches** are found on the vertical and horizontal parts of the rate separately: breathing pitches the
sternum about a horizontal axis (up to ~2.5°/s), which must not stop a stretch from counting as still, while a turn
is a rotation about vertical. The accelerometer's magnitude (not its direction, which breathing tilts) rules out
tapping and walking. Stretches of 1.5 s are enough: a real session may start with only 2–3 s still.

**Rests** are the stretches between reps, where the person faces forward. A rest is not still: people settle back
towards forward by a degree or two over it (0.1–0.3°/s, smoothly), and breathe. Its mean rate is therefore the bias
*plus* slow motion, and a standard-deviation test cannot tell them apart. What each rest really tells:

* its **level**: the twist over its last seconds, where the person has settled facing forward before turning again.
  Between two rests the person left forward and came back, so the twist gained between their levels is the bias's
  integral over the interval — plus how exactly the person came back (``return_sd_deg``), plus any quick movement in
  a rest that is not settling (a shift on the seat: a second or two, where settling takes many), which is measured
  and taken out;
* its **rate** over the same last seconds: the bias plus what is left of the settling, good to
  ``rest_rate_sd_deg_s``;
* its **horizontal bias**: the mean rate about the two horizontal axes, with the net tilt the accelerometer saw over
  the rest taken out (breathing in a short rest leaves a net pitch that would otherwise read as bias).

:class:`BiasFit` combines the levels and rates of all rests with a smoothness prior (a bias drifts slowly, with
warm-up and temperature) by robust (Huber) least squares: the vertical bias at each rest, linear in between. A shift
on the seat that was not seen, or a rest that is far from still, is down-weighted rather than trusted. The last
interval of a session (after the last rest followed by a turn) has no level ahead of it; there the bias is carried on
from the rests before.

Each rep is then measured from the **level of the rest before it** (:func:`from_latest_rest`), so a shift on the seat
between sides is not counted as twist.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from imutrack.errors import ImutrackError
from imutrack.intervals import runs
from imutrack.orientation import BiasModel, OrientationEstimator, OrientationParams, OrientationResult
from imutrack.samples import ImuSamples
from imutrack.series import column_mean, gradient, median


@dataclass
class RestParams:
    """How still stretches, rests and the bias are found (degrees, seconds).

    Attributes:
        still_window_s: window of the stillness test, s.
        still_vertical_sd_deg_s: a window is still when the rate about vertical varies less than this (SD), °/s ...
        still_vertical_rate_deg_s: ... its mean differs from the session's typical still rate by less than this, °/s
            (a slow steady turn has a small SD) ...
        still_horizontal_sd_deg_s: ... the rate about the horizontal axes varies less than this (SD, both axes
            together; breathing alone reaches ~2 °/s) ...
        still_acc_sd_m_s2: ... and the accelerometer's magnitude varies less than this (SD), m/s².
        still_min_s: shortest still stretch used, s.
        still_margin_s: left out at both ends of a still stretch, s.
        rest_max_twist_deg: a still stretch is a rest (facing forward) when its twist is within this of the previous
            rest's (the first: of the neutral); None takes every still stretch (data that is not a seated twist).
        excursion_deg: after a long gap, a still stretch is a rest when a movement leaves it by more than this and
            comes back to it.
        level_s: a rest's level is its mean twist over its last ``level_s`` seconds.
        step_rate_deg_s: a movement within a rest whose rate over half a second departs from that over four seconds
            by more than this is a shift on the seat (measured and taken out of the levels); slower is settling (the
            person coming back to face forward), °/s.
        return_sd_deg: how closely a person comes back to face the same way at the end of a rest.
        rest_rate_sd_deg_s: how far a rest's mean rate about vertical may stray from the bias (settling).
        drift_deg_s_per_s: how fast the bias may change (warm-up, temperature), °/s per s.
        drift_curvature_deg_s_per_s2: how fast that rate of change may change, °/s per s² (a warm-up of 0.25 °/s
            with a 5 min time constant bends by 0.25 / 300² at most). Without it, the fit could trade the bias of one
            rest against the next: levels fix only each interval's mean bias.
    """

    still_window_s: float = 1.0
    still_vertical_sd_deg_s: float = 1.5
    still_vertical_rate_deg_s: float = 2.0
    still_horizontal_sd_deg_s: float = 4.0
    still_acc_sd_m_s2: float = 0.15
    still_min_s: float = 1.5
    still_margin_s: float = 0.3
    rest_max_twist_deg: float | None = 12.0
    excursion_deg: float = 15.0
    level_s: float = 5.0
    step_rate_deg_s: float = 0.3
    return_sd_deg: float = 0.5
    rest_rate_sd_deg_s: float = 0.05
    drift_deg_s_per_s: float = 0.001
    drift_curvature_deg_s_per_s2: float = 3e-6


# --- still stretches --------------------------------------------------------------------------------------------------
def up_from_orientation(quat_wxyz: np.ndarray) -> np.ndarray:
    """The earth's up direction in the sensor frame, unit (N, 3), from orientations (sensor → earth, (N, 4))."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64).T  # the rotation matrix's last row, written out
    return np.column_stack([2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y)])


def still_mask(samples: ImuSamples, params: RestParams | None = None) -> np.ndarray:
    """True where the sensor is still (bool (N,)): over a moving window the rate about vertical varies little and is
    near the session's typical still rate, the rate about the horizontal axes varies little (breathing allowed), and
    the accelerometer's magnitude varies little."""
    p = params or RestParams()
    n = len(samples)
    if n == 0:
        return np.zeros(0, dtype=bool)
    width = max(3, int(round(p.still_window_s * samples.rate_hz)))
    # (a component at a time: whole-array arithmetic on rows of three numbers is several times slower)
    gyr, acc = samples.gyr_rad_s.T, samples.acc_m_s2.T
    up = [uniform_filter1d(a, width, mode="nearest") for a in acc]  # the accelerometer's mean: up, at rest
    length = np.maximum(np.sqrt(up[0] * up[0] + up[1] * up[1] + up[2] * up[2]), 1e-9)
    up = [u / length for u in up]
    vertical = gyr[0] * up[0] + gyr[1] * up[1] + gyr[2] * up[2]
    series = [vertical] + [g - vertical * u for g, u in zip(gyr, up)] + [
        np.sqrt(acc[0] * acc[0] + acc[1] * acc[1] + acc[2] * acc[2])]  # rate about vertical, the others', |acc|

    def mean_and_sd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = uniform_filter1d(x, width, mode="nearest")
        return mean, np.sqrt(np.maximum(uniform_filter1d(x * x, width, mode="nearest") - mean * mean, 0.0))

    (mean, sd_vertical), *horizontal, (_, sd_acc) = [mean_and_sd(x) for x in series]
    sd_horizontal = np.sqrt(sum(sd * sd for _, sd in horizontal))
    quiet = (sd_vertical < np.radians(p.still_vertical_sd_deg_s)) & (
        sd_horizontal < np.radians(p.still_horizontal_sd_deg_s)) & (sd_acc < p.still_acc_sd_m_s2)
    if not quiet.any():
        return quiet
    typical = median(mean[quiet])  # the bias about vertical, give or take creep and settling
    return quiet & (np.abs(mean - typical) < np.radians(p.still_vertical_rate_deg_s))


def block_size(rate_hz: float, max_rate_hz: float) -> int:
    """How many samples at ``rate_hz`` :func:`block_mean` averages to get down to at most ``max_rate_hz``: the
    whole ratio, counting a rate a rounding short of a multiple as that multiple (time stamps rounded to the
    microsecond make 100 Hz read 99.99999999999 Hz, which is not a reason for blocks of 7 instead of 8)."""
    return max(1, int(rate_hz / max_rate_hz + 1e-9))


def block_mean(samples: ImuSamples, max_rate_hz: float) -> ImuSamples:
    """Samples averaged in blocks of :func:`block_size` down to at most ``max_rate_hz`` (a block's mean rate
    integrates to the same rotation, so a quick first pass can run on it)."""
    k = block_size(samples.rate_hz, max_rate_hz)
    if k <= 1:
        return samples
    n = len(samples) // k * k

    def mean(a: np.ndarray) -> np.ndarray:
        # Each row holds one block's k samples side by side; a matrix of k stacked identities / k sums them: one
        # matrix product, ~10x faster than a mean over a middle axis (the same numbers to rounding).
        return a[:n].reshape(n // k, k * a.shape[1]) @ (np.tile(np.eye(a.shape[1]), (k, 1)) / k)

    # (the times as numpy's mean gives them: where a still stretch's margin ends falls on a sample at a tie)
    return ImuSamples(samples.t_s[:n].reshape(n // k, k).mean(axis=1), mean(samples.gyr_rad_s), mean(samples.acc_m_s2),
                      None if samples.mag_uT is None else mean(samples.mag_uT))


def still_stretches(samples: ImuSamples, params: RestParams | None = None) -> list[tuple[int, int]]:
    """Still index intervals, each shortened by ``still_margin_s`` at both ends, that last at least ``still_min_s``.
    Stillness is a matter of seconds: the test runs on ≤ 25 Hz block means and the stretches are mapped back."""
    return _stretches_of(samples.t_s, block_mean(samples, 25.0), params or RestParams())


def _stretches_of(t: np.ndarray, coarse: ImuSamples, p: RestParams) -> list[tuple[int, int]]:
    """:func:`still_stretches` of samples at times ``t`` (s), given their block means."""
    tc = coarse.t_s
    stretches = []
    for a, b in runs(still_mask(coarse, p)):
        a, b = np.searchsorted(t, [tc[a] + p.still_margin_s, tc[b - 1] - p.still_margin_s], side="left")
        if b > a and t[b - 1] - t[a] >= p.still_min_s:
            stretches.append((int(a), int(b)))
    return stretches


def stretch_bias(samples: ImuSamples, stretch: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The gyro bias over a still index interval, rad/s (3,) in the sensor frame, and the mean up direction there
    (unit, (3,)).

    The part about the horizontal axes is the mean rate less the net tilt the accelerometer saw between the first and
    the last half second (breathing leaves a net pitch over a short stretch: over 2 s of a deep breath, up to
    0.5 °/s); the part about vertical is the plain mean rate, which slow turning (settling) also moves —
    :class:`BiasFit` deals with that.
    """
    a, b = stretch
    return _bias_of(samples.t_s[a:b], samples.gyr_rad_s[a:b], samples.acc_m_s2[a:b], samples.rate_hz)


def _bias_of(t: np.ndarray, gyr: np.ndarray, acc: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stretch_bias` of a still stretch's times (s), gyro (rad/s) and accelerometer (m/s²) samples."""
    edge = max(1, int(round(0.5 * rate_hz)))
    mean = column_mean(gyr)
    up = column_mean(acc)
    up /= max(float(np.linalg.norm(up)), 1e-9)
    if len(t) < 2 * edge or t[-1] - t[0] <= 0:
        return mean, up
    first, last = column_mean(acc[:edge]), column_mean(acc[-edge:])
    first /= max(float(np.linalg.norm(first)), 1e-9)
    last /= max(float(np.linalg.norm(last)), 1e-9)
    # between the two half seconds' centres: the tilt the accelerometer saw, and the rate the gyro measured
    i0, i1 = edge // 2, len(t) - edge + edge // 2
    span = float(t[i1] - t[i0])
    # the sensor's true mean rate about the horizontal axes: -(first × last) / span (written out: np.cross costs
    # ~0.1 ms on two 3-vectors, more than the rest of this)
    tilt_rate = np.array([first[2] * last[1] - first[1] * last[2], first[0] * last[2] - first[2] * last[0],
                          first[1] * last[0] - first[0] * last[1]]) / span
    between = column_mean(gyr[i0:i1])
    horizontal = between - (between @ up) * up - tilt_rate
    return horizontal - (horizontal @ up) * up + (mean @ up) * up, up


# --- the bias fit -----------------------------------------------------------------------------------------------------
@dataclass
class RestObservation:
    """What one rest tells about the bias, all *raw*: measured as if no bias had been taken out.

    Attributes:
        start_s, end_s: the rest, s.
        level_start_s, level_end_s: the window its level is taken over, s.
        level_deg: raw twist (the integral of the rate about vertical, bias included) over the level window, °.
        rate_deg_s: raw mean rate about vertical over the level window, °/s (bias + what is left of settling: by the
            rest's end people have mostly settled).
        horizontal_bias_rad_s: the bias about the horizontal axes (sensor frame, ⊥ ``up``), rad/s (3,).
        up: mean up direction in the sensor frame over the rest, unit (3,).
        steps_before_deg: quick movements that are not settling, from the previous rest's level window to this
            rest's, °: taken out of the level difference.
        up_integral_s: ∫ up dt (sensor frame) from the previous rest's level to this one's, s (3,): over a slouch the
            vertical is another sensor direction, and the bias's part along it is what bends the twist.
        link_sd_deg: extra uncertainty of the twist gained since the previous rest's level, ° (a gap filled in while
            the trunk was moving).
        faces_forward: a turn follows it (the person settled facing forward); False for a session's last rest.
        piece: which piece of the recording it is in (a long gap breaks the chain of levels).
    """

    start_s: float
    end_s: float
    level_start_s: float
    level_end_s: float
    level_deg: float
    rate_deg_s: float
    horizontal_bias_rad_s: np.ndarray
    up: np.ndarray
    steps_before_deg: float = 0.0
    up_integral_s: np.ndarray = field(default_factory=lambda: np.zeros(3))
    link_sd_deg: float = 0.0
    faces_forward: bool = True
    piece: int = 0

    @property
    def centre_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)

    @property
    def level_at_s(self) -> float:
        return 0.5 * (self.level_start_s + self.level_end_s)


@dataclass
class BiasFit:
    """The bias about vertical at each rest, from all rests' levels and rates (module docstring).

    Results: ``vertical_deg_s_`` (K,) at the rests' centres, ``weights_`` of the level links (K − 1,; 1 = trusted,
    smaller = down-weighted as an outlier), ``model_`` the full 3-axis :class:`BiasModel`.
    """

    params: RestParams = field(default_factory=RestParams)
    noise_deg_rts: float = 0.0  # the gyro's angle random walk about vertical, °/√s

    def fit(self, rests: list[RestObservation]) -> BiasFit:
        p = self.params
        k = len(rests)
        if k == 0:
            raise ImutrackError("no rest to measure the gyro bias from")
        centres = np.array([r.centre_s for r in rests])
        rows, values, sds, kinds = [], [], [], []
        for i, r in enumerate(rests):  # rates: bias + settling
            row = np.zeros(k)
            row[i] = 1.0
            rows.append(row)
            values.append(r.rate_deg_s)
            duration = max(r.level_end_s - r.level_start_s, 1e-3)
            sds.append(np.hypot(p.rest_rate_sd_deg_s, self.noise_deg_rts / np.sqrt(duration)))
            kinds.append(0)
        for i in range(1, k):  # levels: the bias's integral between consecutive rests' levels
            before, after = rests[i - 1], rests[i]
            if after.piece != before.piece:
                continue
            span = after.level_at_s - before.level_at_s
            if span <= 0:
                continue
            # ∫ b·up dt with b linear between the two rests: the horizontal parts are known, the vertical ones fitted
            row = np.zeros(k)
            row[i - 1] = 0.5 * float(before.up @ after.up_integral_s)
            row[i] = 0.5 * float(after.up @ after.up_integral_s)
            horizontal = np.degrees(0.5 * (before.horizontal_bias_rad_s + after.horizontal_bias_rad_s))
            rows.append(row / span)
            values.append((after.level_deg - before.level_deg - after.steps_before_deg
                           - float(horizontal @ after.up_integral_s)) / span)
            returned = p.return_sd_deg * (1.0 if after.faces_forward else 4.0)
            sds.append(np.sqrt(returned**2 + self.noise_deg_rts**2 * span + after.link_sd_deg**2) / span)
            kinds.append(1)
        for i in range(1, k):  # smoothness: a bias drifts slowly ...
            row = np.zeros(k)
            row[i], row[i - 1] = 1.0, -1.0
            rows.append(row)
            values.append(0.0)
            sds.append(max(p.drift_deg_s_per_s * (centres[i] - centres[i - 1]), 1e-4))
            kinds.append(2)
        for i in range(1, k - 1):  # ... and smoothly (warm-up): levels give each interval's mean, not its shape
            before, after = max(centres[i] - centres[i - 1], 1e-3), max(centres[i + 1] - centres[i], 1e-3)
            row = np.zeros(k)
            row[i - 1], row[i], row[i + 1] = 1.0 / before, -1.0 / before - 1.0 / after, 1.0 / after
            rows.append(row)
            values.append(0.0)
            sds.append(max(p.drift_curvature_deg_s_per_s2 * 0.5 * (before + after), 1e-7))
            kinds.append(2)
        a, y, sd, kinds = np.array(rows), np.array(values), np.array(sds), np.array(kinds)
        weights = np.ones(len(y))
        x = np.zeros(k)
        for _ in range(20):  # Huber IRLS on rates and levels; the smoothness prior is never down-weighted
            w = weights / sd**2
            x_new = np.linalg.lstsq(a * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
            residual = np.abs(a @ x_new - y) / sd
            weights = np.where((kinds == 2) | (residual <= 1.5), 1.0, 1.5 / np.maximum(residual, 1e-12))
            if np.allclose(x_new, x, atol=1e-6, rtol=0):
                x = x_new
                break
            x = x_new
        self.vertical_deg_s_ = x
        self.weights_ = weights[kinds == 1]
        bias = np.array([r.horizontal_bias_rad_s + np.radians(v) * r.up for r, v in zip(rests, x)])
        self.model_ = BiasModel(centres, bias)
        return self


# --- the batch form ---------------------------------------------------------------------------------------------------
@dataclass
class Rests:
    """What :func:`find_rests` found. Index intervals are half-open, into the samples given.

    Attributes:
        still: the still stretches.
        rests: the still stretches that are rests (facing forward), one per observation.
        levels: each rest's level window: what the rep after it is measured from.
        observations: what each rest tells about the bias (:class:`RestObservation`).
        neutral_s: (start, end) of the neutral posture, s.
        bias: the gyro bias model, sensor frame.
        fit: the bias fit (its link weights say which levels were trusted).
        warnings: what the user should know.
    """

    still: list[tuple[int, int]]
    rests: list[tuple[int, int]]
    levels: list[tuple[int, int]]
    observations: list[RestObservation]
    neutral_s: tuple[float, float]
    bias: BiasModel
    fit: BiasFit | None
    warnings: list[str] = field(default_factory=list)


def find_rests(
    samples: ImuSamples,
    params: RestParams | None = None,
    orientation: OrientationParams | None = None,
    chest_normal_axis: str = "+z",
    neutral_s: tuple[float, float] | None = None,
    breaks: list[int] | tuple = (),
    name: str = "",
    filled: list[tuple[int, float]] | tuple = (),
) -> Rests:
    """Still stretches, rests, the bias model and the level each rep is measured from, for a whole recording.

    Args:
        samples: the recording's samples at a regular rate (:func:`imutrack.gaps.regularise`).
        params, orientation: settings.
        chest_normal_axis: the sensor axis out of the chest (a stretch lying on a table is not the neutral).
        neutral_s: (start, end) of the neutral posture, s; None finds it (the first still stretch worn upright).
        breaks: sample indices where the data starts again after a long gap (the rotation during it is unknown).
        name: the recording's name, for messages.
        filled: (sample index, °) of gaps that were filled in, with how much rotation the filling may have missed.
    """
    from imutrack.gaps import split_at
    from imutrack.trunk import twist_only_deg, worn_upright

    p = params or RestParams()
    op = orientation or OrientationParams()
    t = samples.t_s
    where = f"{name}: " if name else ""
    coarse = block_mean(samples, 12.5)  # rests are seconds long: 80 ms blocks see them (a whole hour in 0.1 s)
    still = split_at(_stretches_of(t, coarse, p), breaks, t, p.still_min_s)
    # A stretch lying on a table (before the sensor is put on, after it is taken off) is neither neutral nor rest.
    candidates = [(a, b) for a, b in still if worn_upright(samples.acc_m_s2[a:b], chest_normal_axis)] or still
    given = None
    if neutral_s is not None:
        i0, i1 = (int(i) for i in np.searchsorted(t, neutral_s))
        if i1 - i0 < 1:
            raise ImutrackError(
                f"{where}the neutral interval {neutral_s[0]:g}–{neutral_s[1]:g} s holds no samples "
                f"(the recording covers {t[0]:g}–{t[-1]:g} s)"
            )
        candidates = sorted([s for s in candidates if s[1] <= i0 or s[0] >= i1] + [(i0, i1)])
        given = candidates.index((i0, i1))
    elif not still:
        raise ImutrackError(
            f"{where}found no still period in {samples.duration_s:.1f} s of data, so neither facing forward nor "
            "the gyro bias can be measured; sit upright and still for a few seconds during the session"
        )
    reference = candidates[given or 0]
    applied = _provisional_bias(samples, reference, candidates)
    coarse_breaks = np.searchsorted(coarse.t_s, t[np.asarray(breaks, dtype=np.int64)]) if len(breaks) else []
    coarse_filled = [(int(np.searchsorted(coarse.t_s, t[i])), error) for i, error in filled]
    coarse_candidates = [_to_coarse(coarse.t_s, t, s) for s in candidates]
    noise = _vertical_noise_deg_rts(samples, still)
    # One pass of vqf with a first bias. The observations are raw (the applied bias added back), so a better bias
    # changes them only through which stretches are rests: the twist is corrected linearly and the rests told again
    # until they stay the same.
    quat = OrientationEstimator(coarse.rate_hz, op, applied).update(coarse).quat_wxyz_
    r0, r1 = _to_coarse(coarse.t_s, t, reference)
    twist = twist_only_deg(quat, _mean_quat(quat[r0:r1]))
    up = up_from_orientation(quat)
    raw = twist + _integral_deg(coarse.t_s, applied, up)
    fit, observations, rests, levels, confirmed, coarse_rests = None, [], [], [], True, None
    for _ in range(3):
        told, confirmed = _chain_rests(coarse_candidates, twist, coarse_breaks, p, given)
        if told == coarse_rests:
            break
        coarse_rests = told
        observations, coarse_levels = _observe(coarse, twist, raw, up, coarse_rests, coarse_breaks, coarse_filled, p)
        if not observations:
            break
        fit = BiasFit(p, noise).fit(observations)
        applied = fit.model_
        rests = [_to_full(t, coarse.t_s, s) for s in coarse_rests]
        levels = [_to_full(t, coarse.t_s, s) for s in coarse_levels]
        twist = raw - _integral_deg(coarse.t_s, applied, up)
        twist -= median(twist[r0:r1])
    notes = []
    if rests:
        first = rests[0] if given is None else candidates[given]
        a, b = _to_coarse(coarse.t_s, t, first)
        if not confirmed and np.abs(twist - median(twist[a:b])).max() > p.excursion_deg:
            notes.append(
                f"{where}facing forward is taken from the still moment at {t[first[0]]:.0f}–{t[first[1] - 1]:.0f} s, "
                "but no rest after a turn confirms it (the turns do not come back to it from both sides): if the "
                "session did not start facing forward, its angles are off")
    else:
        first = reference
        notes.append(
            f"{where}facing forward could not be told from the session (no still moment that the turns leave to both "
            f"sides and come back to): twist is measured from the still moment at {t[first[0]]:.0f}–"
            f"{t[first[1] - 1]:.0f} s, and the gyro bias could not be checked, so angles may drift")
    return Rests(still, rests, levels, observations, (float(t[first[0]]), float(t[first[1] - 1])), applied, fit,
                 notes)


def _integral_deg(t_s: np.ndarray, bias: BiasModel, up: np.ndarray) -> np.ndarray:
    """∫₀ᵗ bias · up dt, ° (N,): how far a bias turns the twist about vertical (``up``: the up direction in the
    sensor frame, (N, 3))."""
    rate = np.degrees(np.einsum("ij,ij->i", bias.at(t_s), up))
    return np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t_s))])


def _to_coarse(coarse_t_s: np.ndarray, t_s: np.ndarray, interval: tuple[int, int]) -> tuple[int, int]:
    """An index interval of the full-rate samples as one of the block means."""
    a, b = np.searchsorted(coarse_t_s, [t_s[interval[0]], t_s[interval[1] - 1]])
    return int(a), int(max(b, a + 1))


def _to_full(t_s: np.ndarray, coarse_t_s: np.ndarray, interval: tuple[int, int]) -> tuple[int, int]:
    """An index interval of the block means as one of the full-rate samples."""
    a, b = np.searchsorted(t_s, [coarse_t_s[interval[0]], coarse_t_s[interval[1] - 1]])
    return int(a), int(max(b, a + 1))


def _mean_quat(quat_wxyz: np.ndarray) -> np.ndarray:
    """The mean of nearby unit quaternions (N, 4) → (4,)."""
    q = quat_wxyz * np.where(quat_wxyz @ quat_wxyz[0] < 0, -1.0, 1.0)[:, None]
    mean = q.mean(axis=0)
    return mean / np.linalg.norm(mean)


def _provisional_bias(samples: ImuSamples, first: tuple[int, int], still: list[tuple[int, int]]) -> BiasModel:
    """A first bias: the neutral stretch's (:func:`stretch_bias`), or, when it is short, the per-axis median of all
    still stretches' (holds creep both ways, so their median is near the bias)."""
    t = samples.t_s
    a, b = first
    if t[b - 1] - t[a] >= 1.5 or not still:
        return BiasModel(np.array([t[a]]), stretch_bias(samples, first)[0][None, :])
    return BiasModel(np.array([t[a]]), np.median([stretch_bias(samples, s)[0] for s in still], axis=0)[None, :])


def _vertical_noise_deg_rts(samples: ImuSamples, still: list[tuple[int, int]]) -> float:
    """The gyro's angle random walk, °/√s, from the sample-to-sample scatter in the still stretches."""
    if not still:
        return 0.0
    a, b = max(still, key=lambda s: s[1] - s[0])
    gyr = np.degrees(samples.gyr_rad_s[a:b])
    if len(gyr) < 4:
        return 0.0
    sd = float(np.median(np.std(np.diff(gyr, axis=0), axis=0)) / np.sqrt(2.0))
    return sd / np.sqrt(samples.rate_hz)


def _chain_rests(still, twist_deg, breaks, p: RestParams, first: int | None = None
                 ) -> tuple[list[tuple[int, int]], bool]:
    """The still stretches that are rests (facing forward).

    In each piece of the recording (between long gaps), one rest is found first — stretch ``first`` when the neutral
    was given, otherwise from the exercise's structure (:func:`_first_rest_in_piece`): a recording may start with
    the person already turning, and the first still moment is then a hold. When the structure tells nothing, the
    recording's first still stretch is taken (a session starts facing forward); a later piece has no rest then.
    From it, the rests are chained both ways: a stretch is a rest when its twist is within ``rest_max_twist_deg`` of
    the neighbouring rest (a person may shift on the seat between reps, and the twist may drift a little before the
    bias is known).

    Returns the rests, and whether the session's structure was seen: a rest given, or found in any piece."""
    if p.rest_max_twist_deg is None:
        return list(still), True
    piece = np.searchsorted(np.asarray(breaks, dtype=np.int64), [a for a, _ in still], side="right")
    level = [median(twist_deg[a:max(b, a + 1)]) for a, b in still]
    rest = [False] * len(still)
    confirmed = True
    for pc in sorted(set(piece.tolist())):
        members = [k for k in range(len(still)) if piece[k] == pc]
        if first is not None and piece[first] == pc:
            anchor = first
        else:
            anchor = _first_rest_in_piece(still, level, piece, members[0], twist_deg, breaks, p)
            if anchor is None and pc == piece[0]:  # no sign of the contrary: the session starts facing forward
                anchor, confirmed = members[0], False
        if anchor is None:
            continue
        if pc != piece[0]:
            confirmed = True  # the session's structure is seen in a later piece
        for direction in (members[members.index(anchor):], members[members.index(anchor)::-1]):
            facing = level[anchor]
            for k in direction:
                if abs(level[k] - facing) <= p.rest_max_twist_deg:
                    rest[k], facing = True, level[k]
    return [stretch for stretch, is_rest in zip(still, rest) if is_rest], confirmed


def _first_rest_in_piece(still, level, piece, k0: int, twist_deg, breaks, p: RestParams) -> int | None:
    """The first rest among the still stretches of the piece that stretch ``k0`` starts, or None when the piece
    cannot tell.

    A rest is the level the holds of both sides are left from and come back to: from the still stretch before it
    to the next time the twist comes back to it, the twist goes beyond ``excursion_deg`` to both sides, and no less
    than a third as far to one side as to the other (from a hold's level, the rest and the other side's holds lie
    on one side, far; the same side's holds, which reach a little further or less far, on the other, near). A piece
    with turns to one side only is read by the simpler rule: the first stretch that a movement leaves by more than
    ``excursion_deg`` and that the next still stretch elsewhere comes back to."""
    members = [k for k in range(k0, len(still)) if piece[k] == piece[k0]]
    for i, k in enumerate(members):
        back = [j for j in members[i + 1:] if abs(level[j] - level[k]) <= p.rest_max_twist_deg]
        around = np.concatenate([twist_deg[still[members[i - 1]][0]:still[k][0]] if i else [],
                                 twist_deg[still[k][1]:still[back[0]][0]] if back else []]) - level[k]
        if len(around):
            above, below = around.max(), -around.min()
            if min(above, below) > max(p.excursion_deg, max(above, below) / 3.0):
                return k
    for i, k in enumerate(members):
        away = [j for j in members[i + 1:] if abs(level[j] - level[k]) > p.rest_max_twist_deg]
        back = [j for j in members[i + 1:] if abs(level[j] - level[k]) <= p.rest_max_twist_deg]
        if back and (not away or back[0] < away[0] or all(
                abs(level[j] - level[away[0]]) <= p.rest_max_twist_deg for j in away if j < back[0])):
            between = twist_deg[still[k][1]:still[back[0]][0]] - level[k]
            if len(between) and np.abs(between).max() > p.excursion_deg:
                return k
    return None


def _fast_runs(t_s: np.ndarray, twist_deg: np.ndarray, a: int, b: int, p: RestParams, step_s: float
               ) -> list[tuple[int, int]]:
    """Index intervals in [a, b) where the twist makes a quick movement: its rate over half a second departs from
    its median rate over four seconds by more than ``step_rate_deg_s`` (settling is slow and stays with the longer
    median; a shift on the seat takes a second or two), widened by half a second on both sides to take the whole
    movement. ``step_s``: the samples' (median) step, s."""
    if b - a < 3:
        return []
    rate = gradient(twist_deg[a:b], t_s[a:b])
    short = uniform_filter1d(rate, max(1, int(round(0.5 / step_s))), mode="nearest")
    long = median_filter(rate, max(1, int(round(4.0 / step_s))), mode="nearest")  # a return's tail does not move it
    pad = int(round(0.5 / step_s))
    widened = []
    for i, j in runs(np.abs(short - long) > p.step_rate_deg_s):
        i, j = a + max(i - pad, 0), a + min(j + pad, b - a)
        if widened and i <= widened[-1][1]:
            widened[-1] = (widened[-1][0], j)
        else:
            widened.append((i, j))
    return widened


def _step(twist_deg: np.ndarray, t_s: np.ndarray, run: tuple[int, int], baseline_deg_s: float) -> float:
    """The twist a quick movement added, less what the baseline rate would have, °."""
    i, j = max(run[0] - 1, 0), min(run[1], len(twist_deg) - 1)
    return float(twist_deg[j] - twist_deg[i] - baseline_deg_s * (t_s[j] - t_s[i]))


def _observe(samples: ImuSamples, twist_deg: np.ndarray, raw_deg: np.ndarray, up: np.ndarray,
             rests: list[tuple[int, int]], breaks, filled, p: RestParams
             ) -> tuple[list[RestObservation], list[tuple[int, int]]]:
    """One :class:`RestObservation` per rest, and its level window (index interval), on the given samples.

    ``twist_deg`` is the twist as computed, ``raw_deg`` the same with the applied bias added back, ``up`` the up
    direction in the sensor frame (N, 3); ``filled``: (index, °) of gaps filled in (:func:`find_rests`)."""
    t = samples.t_s
    up_integral = np.vstack([np.zeros(3), np.cumsum(0.5 * (up[1:] + up[:-1]) * np.diff(t)[:, None], axis=0)])
    previous_level_at = None
    piece = np.searchsorted(np.asarray(breaks, dtype=np.int64), [a for a, _ in rests], side="right")
    observations, windows = [], []
    pending = 0.0  # quick movements since the previous rest's level window
    for k, (a, b) in enumerate(rests):
        if b - a < 2:
            continue
        if k > 0:
            pa, pb = rests[k - 1]
            if piece[k] != piece[k - 1]:
                pending = 0.0
            else:
                pending += _between_steps(t, twist_deg, pb, a, rests[k - 1], p, samples.step_s)
        baseline = _slope(t[a:b], twist_deg[a:b])
        fast = _fast_runs(t, twist_deg, a, b, p, samples.step_s)
        w1 = b
        w0 = max(a, int(np.searchsorted(t, t[b - 1] - p.level_s)))
        if fast:
            last = fast[-1]
            if t[b - 1] - t[min(last[1], b - 1)] >= 1.0:
                w0 = max(w0, last[1])
            else:
                w1 = last[0]
                w0 = max(a, int(np.searchsorted(t, t[max(w1 - 1, a)] - p.level_s)))
        if w1 - w0 < 2:
            w0, w1 = a, b
        steps_in = [_step(twist_deg, t, run, baseline) for run in fast]
        before = sum(s for run, s in zip(fast, steps_in) if run[1] <= w0)
        after = sum(s for run, s in zip(fast, steps_in) if run[0] >= w1)
        quiet = np.ones(b - a, dtype=bool)
        for i, j in fast:
            quiet[i - a:j - a] = False
        raw_rate = gradient(raw_deg[a:b], t[a:b])
        late = quiet & (np.arange(a, b) >= w0)  # the rest's end: settling, if any, has mostly run its course
        rate = float(raw_rate[late].mean()) if late.sum() > 2 else (
            float(raw_rate[quiet].mean()) if quiet.any() else float(raw_rate.mean()))
        bias, up = _bias_of(t[a:b], samples.gyr_rad_s[a:b], samples.acc_m_s2[a:b], samples.rate_hz)
        horizontal = bias - (bias @ up) * up
        level_at = (w0 + w1 - 1) // 2  # the level window's middle sample
        swept = np.zeros(3) if previous_level_at is None else up_integral[level_at] - up_integral[previous_level_at]
        missed = [error for i, error in filled if previous_level_at is not None and
                  previous_level_at <= i < w0 and np.isfinite(error)]
        previous_level_at = level_at
        observations.append(RestObservation(
            start_s=float(t[a]), end_s=float(t[b - 1]), level_start_s=float(t[w0]), level_end_s=float(t[w1 - 1]),
            level_deg=float(raw_deg[w0:w1].mean()), rate_deg_s=rate, horizontal_bias_rad_s=horizontal, up=up,
            steps_before_deg=pending + before, up_integral_s=swept, link_sd_deg=float(np.sum(missed)),
            faces_forward=True, piece=int(piece[k])))
        windows.append((w0, w1))
        pending = after
    for k, obs in enumerate(observations):  # the last rest of a piece: nothing follows, maybe not settled
        if k == len(observations) - 1 or observations[k + 1].piece != obs.piece:
            obs.faces_forward = False
    return observations, windows


def _slope(t_s: np.ndarray, values: np.ndarray) -> float:
    """The least-squares slope of ``values`` over ``t_s``."""
    dt = t_s - t_s.mean()
    return float((dt @ (values - values.mean())) / max(float(dt @ dt), 1e-12))


def _between_steps(t_s, twist_deg, end_of_previous: int, start: int, previous: tuple[int, int],
                   p: RestParams, step_s: float) -> float:
    """Quick movements that are not a rep between two rests (index ``end_of_previous`` to ``start``), °. With no rep
    between them (the twist stays within ``excursion_deg`` of the earlier rest), the whole change counts; after a
    rep, the quick movements once the return is over (a shift on the seat)."""
    if start <= end_of_previous:
        return 0.0
    a, b = previous
    level = median(twist_deg[a:b])
    between = twist_deg[end_of_previous:start]
    away = np.flatnonzero(np.abs(between - level) > p.excursion_deg)
    if not len(away):
        return float(twist_deg[start] - twist_deg[end_of_previous - 1])
    returning = end_of_previous + int(away[-1]) + 1
    if start - returning < 3:
        return 0.0
    rate = gradient(twist_deg[returning:start], t_s[returning:start])
    stopped = np.flatnonzero(np.abs(uniform_filter1d(rate, max(1, int(round(0.5 / step_s))), mode="nearest")) < 1.0)
    if not len(stopped):
        return 0.0
    settled = returning + int(stopped[0])  # the return is over
    moving = _fast_runs(t_s, twist_deg, settled, start, p, step_s)
    return sum(_step(twist_deg, t_s, run, 0.0) for run in moving)


# --- facing forward ---------------------------------------------------------------------------------------------------
FROM_REST_BEFORE, FROM_REST_AFTER, NOT_MEASURABLE = 0, 1, 2  # how each sample's twist is referenced


def from_latest_rest(
    twist_deg: np.ndarray, rests: list[tuple[int, int]], after: int = 0, breaks: list[int] | tuple = (),
    bridged: list[int] | tuple = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The twist re-referenced at every rest: from the start of each rest's level window (index interval) on,
    the twist is measured from that window's median twist, until the next rest. Rests starting before
    index ``after`` (the end of the neutral) are left out. A person who shifts on the seat between reps turns the
    whole body; measured from the rest before it, each rep's twist is still the trunk's rotation from facing forward.

    ``breaks``: indices where the data starts again after a long gap (:mod:`imutrack.gaps`), whose rotation is
    unknown. Within each piece between breaks, the twist is measured from that piece's own rests; the part of a piece
    before its first rest from that first rest (the person turned during the gap, and came back to face forward).
    A piece with no rest in it — nor the neutral — carries on from the piece before when its gap is among
    ``bridged`` (filled in, so the twist runs on across it), and cannot be measured otherwise.

    The twist decomposition takes the rotation about vertical out first, so flexion and lean are unaffected by
    such a shift and need no re-referencing.

    Returns:
        (twist_deg, reference_deg, how): the re-referenced twist and, per sample, the twist of the rest it is
        measured from (relative to the session's neutral), degrees (N,) each; and per sample how it is referenced
        (N,) int: ``FROM_REST_BEFORE`` (or the neutral), ``FROM_REST_AFTER`` (after a gap), ``NOT_MEASURABLE``.
    """
    n = len(twist_deg)
    reference = np.zeros_like(twist_deg)
    how = np.full(n, FROM_REST_BEFORE, dtype=np.int8)
    bounds = [0, *sorted(b for b in breaks if 0 < b < n), n]
    neutral_piece = int(np.searchsorted(bounds, max(after - 1, 0), side="right")) - 1
    usable = [(a, b) for a, b in rests if a >= after and b > a]
    previous = 0.0
    for k, (p0, p1) in enumerate(zip(bounds[:-1], bounds[1:])):
        own = [(a, min(b, p1)) for a, b in usable if p0 <= a < p1]
        if k < neutral_piece:  # before the neutral (putting the sensor on): measured from it, across filled gaps
            previous = 0.0
            if any(b not in bridged for b in bounds[k + 1:neutral_piece + 1]):
                how[p0:p1] = NOT_MEASURABLE
        elif k == neutral_piece:
            previous = 0.0
        elif own:
            a, b = own[0]
            previous = median(twist_deg[a:b])
            how[p0:a] = FROM_REST_AFTER
        elif p0 not in bridged or how[p0 - 1] == NOT_MEASURABLE:  # (a filled gap carries on what came before)
            how[p0:p1] = NOT_MEASURABLE
        reference[p0:p1] = previous
        for (a, b), following in zip(own, [a for a, _ in own[1:]] + [p1]):
            reference[a:following] = median(twist_deg[a:b])
        previous = float(reference[p1 - 1])
    return twist_deg - reference, reference, how


# --- the incremental form ---------------------------------------------------------------------------------------------
class RestTracker:
    """The rest stage for a live session: fed sample batches as they come, it keeps the orientation on a fixed-rate
    grid, the twist from the current "facing forward", and, at the end of each rest it is told of, the same
    observations and :class:`BiasFit` as :func:`find_rests` (on what has come so far): the bias from then on is the
    fit's latest, and the rest's level the new facing forward.

    Use: :meth:`start` with the still calibration window (the neutral), then :meth:`track` per batch and
    :meth:`end_rest` when a rest is over. Results: ``facing_deg`` (the current reference, ° from the neutral),
    ``fit`` (the latest :class:`BiasFit`), ``dropped`` (data came back after a drop-out too long to bridge).
    """

    def __init__(self, rate_hz: float, params: RestParams | None = None,
                 orientation: OrientationParams | None = None, chest_normal_axis: str = "+z",
                 fill_max_s: float = 0.5):
        self.params = params or RestParams()
        self.orientation_params = orientation or OrientationParams()
        self.rate_hz = rate_hz
        self.chest_normal_axis = chest_normal_axis
        self.fill_max_s = fill_max_s
        self.facing_deg = 0.0
        self.fit: BiasFit | None = None
        self.dropped = False
        self.estimator: OrientationEstimator | None = None
        self.quat_neutral_wxyz: np.ndarray | None = None
        self.forward_earth: np.ndarray | None = None
        self._noise = 0.0
        self._last_sample: ImuSamples | None = None
        self._next_grid_t = 0.0
        self._applied_deg = 0.0  # ∫ applied bias · up dt so far, °
        self._block = max(1, int(round(rate_hz / 25.0)))
        self._pending: list[np.ndarray] = []  # grid rows not yet averaged into a block
        self._rows: list[np.ndarray] = []  # block means: t, gyr (3), acc (3), twist, raw twist, up (3)
        self._rests: list[tuple[float, float]] = []
        self._windows: list[tuple[float, float]] = []  # each rest's level window, s
        self._breaks_s: list[float] = []

    def start(self, window: ImuSamples) -> RestTracker:
        """Calibrate on a still window (sitting upright, facing forward): the first bias, the neutral orientation
        and the forward direction. Raises :class:`ImutrackError` when the sensor is not worn upright."""
        from imutrack.trunk import forward_at_neutral

        bias, _ = stretch_bias(window, (0, len(window)))
        self.estimator = OrientationEstimator(self.rate_hz, self.orientation_params,
                                              BiasModel(np.array([window.t_s[0]]), bias[None, :]))
        quat = self.estimator.update(window).quat_wxyz_
        self.quat_neutral_wxyz = _mean_quat(quat[-max(1, len(quat) // 4):])
        self.forward_earth = forward_at_neutral(self.quat_neutral_wxyz, self.chest_normal_axis)
        self._noise = _vertical_noise_deg_rts(window, [(0, len(window))])
        self._last_sample = window.slice(len(window) - 1, len(window))
        self._next_grid_t = float(window.t_s[-1]) + 1.0 / self.rate_hz
        self._append(window, quat)
        self._rests.append((float(window.t_s[0]), float(window.t_s[-1])))
        return self

    def track(self, samples: ImuSamples) -> tuple[ImuSamples, np.ndarray, np.ndarray, np.ndarray] | None:
        """A batch: the samples on the fixed-rate grid, and there the twist from facing forward, flexion and lean,
        ° (N,) each; None when no grid time falls in the batch yet."""
        from imutrack.trunk import trunk_angles_deg

        grid = self._regular(samples)
        if grid is None:
            return None
        quat = self.estimator.update(grid).quat_wxyz_
        twist, flexion, lean = trunk_angles_deg(quat, self.quat_neutral_wxyz, self.forward_earth)
        self._append(grid, quat, twist)
        return grid, twist - self.facing_deg, flexion, lean

    def placement(self, start_s: float, end_s: float):
        """How the sensor is worn (:func:`imutrack.placement.check_placement`), from the rep between the times."""
        from imutrack.placement import check_placement

        rows = np.asarray(self._rows)
        if not len(rows):
            return check_placement(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)),
                                   self.chest_normal_axis)
        rows = rows[(rows[:, 0] >= start_s) & (rows[:, 0] <= end_s)]
        return check_placement(rows[:, 0], rows[:, 4:7], rows[:, 1:4], rows[:, 9:12], self.chest_normal_axis)

    def face_the_other_way(self) -> None:
        """Take the declared chest axis's opposite as the chest's front from now on (a sensor worn facing in)."""
        from imutrack.placement import negated

        self.chest_normal_axis = negated(self.chest_normal_axis)
        self.forward_earth = -self.forward_earth

    def end_rest(self, start_s: float, end_s: float, trusted: bool = True, away_deg: float = 10.0) -> float | None:
        """A rest from ``start_s`` to ``end_s`` is over: measure it, fit the bias on every rest so far and make its
        level the new facing forward. ``trusted``: the person certainly came back to face forward (after a drop-out
        lost the angle); otherwise a rest whose level is more than ``away_deg`` from facing forward is not taken.

        Returns how far facing forward moved, ° (None: the rest had no still stretch, or was not taken)."""
        rows = np.array(self._rows)
        t = rows[:, 0]
        a, b = np.searchsorted(t, [start_s, end_s], side="right")
        if b - a < 3:
            return None
        rest = ImuSamples(t[a:b], rows[a:b, 1:4], rows[a:b, 4:7])
        stretches = still_stretches(rest, replace(self.params, still_min_s=min(self.params.still_min_s, 1.0)))
        # The rest's end has come with the prompt to turn: a still spell up to now counts without a margin after it.
        still = runs(still_mask(rest, self.params))
        tail = still[-1] if still and still[-1][1] == len(rest) and rest.t_s[-1] - rest.t_s[still[-1][0]] >= 0.5 \
            else None
        if not stretches and tail is None:
            return None
        first = stretches[0][0] if stretches else tail[0] + int(round(self.params.still_margin_s * rest.rate_hz))
        last = len(rest) if tail is not None else stretches[-1][1]
        interval = (float(rest.t_s[min(first, last - 1)]), float(rest.t_s[last - 1]))
        level = float(rows[np.searchsorted(t, interval[1] - self.params.level_s):
                           np.searchsorted(t, interval[1], side="right"), 7].mean())
        if not trusted and self.linked and abs(level - self.facing_deg) > away_deg:
            return None
        self._rests.append(interval)
        samples = ImuSamples(t, rows[:, 1:4], rows[:, 4:7])
        indices = [tuple(int(i) for i in np.searchsorted(t, [s0, s1 + 1e-9])) for s0, s1 in self._rests]
        breaks = np.searchsorted(t, self._breaks_s).tolist()
        observations, windows = _observe(samples, rows[:, 7], rows[:, 8], rows[:, 9:12], indices, breaks, [],
                                         self.params)
        if observations:
            self.fit = BiasFit(self.params, self._noise).fit(observations)
            self.estimator.bias = self._ahead(self.fit.model_, float(t[-1]))
        self._windows = [(float(t[w0]), float(t[w1 - 1])) for w0, w1 in windows]
        w0, w1 = windows[-1] if windows else (a, b)
        moved = float(rows[w0:w1, 7].mean()) - self.facing_deg
        self.facing_deg += moved
        return moved

    @property
    def linked(self) -> bool:
        """Whether facing forward is tied by level to an earlier rest: the latest rest taken has one before it with no
        long drop-out between. After a drop-out the chain starts again from the rest after it, whose bias rests on
        its rate alone (a tenth of a degree a second off is within reason): the angles then drift by degrees a minute
        until a second rest links up, so that rest is taken however far it reads from facing forward."""
        if len(self._rests) < 2:
            return True  # (the calibration: the person sat facing forward)
        gap_before = np.searchsorted(self._breaks_s, [self._rests[-2][1], self._rests[-1][0]])
        return bool(gap_before[0] == gap_before[1])

    def held_twist_deg(self, start_s: float, end_s: float) -> float | None:
        """The mean twist over ``start_s``–``end_s`` from the level of the rest before, with the bias as now fitted
        on every rest so far (a hold is first shown with the bias known when it began; the next rest tells more).
        None when no rest was measured before it, or a drop-out lies between."""
        if self.fit is None:
            return None
        before = [w for w in self._windows if w[1] <= start_s]
        if not before or any(before[-1][1] < b <= end_s for b in self._breaks_s):
            return None
        rows = np.array(self._rows)
        t = rows[:, 0]
        fitted = rows[:, 8] - _integral_deg(t, self.fit.model_, rows[:, 9:12])
        w0, w1 = np.searchsorted(t, [before[-1][0], before[-1][1]], side="right")
        h0, h1 = np.searchsorted(t, [start_s, end_s])
        if w1 <= w0 or h1 <= h0:
            return None
        return float(fitted[h0:h1].mean() - fitted[max(w0 - 1, 0):w1].mean())

    # --- internals ---------------------------------------------------------------------------------------------
    def _ahead(self, model: BiasModel, now_s: float, horizon_s: float = 120.0) -> BiasModel:
        """The bias from ``now_s`` on: the fit's latest, carried on along its trend over the latest interval (a warming
        sensor's bias keeps moving the way it was going; at most ``drift_deg_s_per_s``) for ``horizon_s``, then
        held. With fewer than three rests the trend is not known well enough and the latest is held."""
        latest = model.bias_rad_s[-1]
        if len(model.t_s) < 3:
            return BiasModel(np.array([now_s]), latest[None, :])
        trend = (model.bias_rad_s[-1] - model.bias_rad_s[-2]) / max(model.t_s[-1] - model.t_s[-2], 1e-3)
        limit = np.radians(self.params.drift_deg_s_per_s)
        trend *= min(1.0, limit / max(float(np.linalg.norm(trend)), 1e-12))
        start = latest + trend * max(now_s - model.t_s[-1], 0.0)
        return BiasModel(np.array([now_s, now_s + horizon_s]), np.vstack([start, start + trend * horizon_s]))

    def _regular(self, samples: ImuSamples) -> ImuSamples | None:
        """The batch on a grid at the estimator's fixed rate, continuing the previous batch's. Orientation integrates
        every sample over that step: a phone's sensor events and a few lost packets (filled in up to
        ``fill_max_s``) would otherwise bend the twist (:func:`imutrack.gaps.regularise` does the same for a whole
        recording)."""
        dt = 1.0 / self.rate_hz
        previous, self._last_sample = self._last_sample, samples.slice(len(samples) - 1, len(samples))
        gap = samples.t_s[0] - previous.t_s[-1] if previous is not None else -1.0
        if 0.0 < gap <= self.fill_max_s:
            start, known = self._next_grid_t, ImuSamples.concatenate([previous, samples])
        else:  # data given again, or a long drop-out: the grid starts again here
            start, known = float(samples.t_s[0]), samples
            if gap > self.fill_max_s:
                self.dropped = True
                self._breaks_s.append(start)
        count = int(np.floor((samples.t_s[-1] - start) / dt + 1e-6)) + 1
        if count < 1:
            return None
        grid = start + dt * np.arange(count)
        self._next_grid_t = float(grid[-1] + dt)

        def at(values: np.ndarray) -> np.ndarray:
            return np.column_stack([np.interp(grid, known.t_s, values[:, k]) for k in range(3)])

        return ImuSamples(grid, at(known.gyr_rad_s), at(known.acc_m_s2),
                          None if known.mag_uT is None else at(known.mag_uT))

    def _append(self, grid: ImuSamples, quat: np.ndarray, twist: np.ndarray | None = None) -> None:
        """Keep the batch as ≤ 25 Hz block means (what the rests are measured on), with the raw twist: the twist
        with the bias taken out so far added back."""
        from imutrack.trunk import twist_only_deg

        if twist is None:
            twist = twist_only_deg(quat, self.quat_neutral_wxyz)
        up = up_from_orientation(quat)
        applied = np.degrees(np.einsum("ij,ij->i", self.estimator.bias.at(grid.t_s), up)) / self.rate_hz
        raw = twist + self._applied_deg + np.cumsum(applied)
        self._applied_deg += float(applied.sum())
        self._pending.append(np.column_stack([grid.t_s, grid.gyr_rad_s, grid.acc_m_s2, twist, raw, up]))
        pending = np.vstack(self._pending)
        n = len(pending) // self._block * self._block
        if n:
            self._rows.extend(pending[:n].reshape(-1, self._block, pending.shape[1]).mean(axis=1))
        self._pending = [pending[n:]]


# --- data that is not a seated twist ----------------------------------------------------------------------------------
def _pieces(t_s: np.ndarray, stretch: tuple[int, int], piece_s: float) -> list[tuple[int, int]]:
    """An index interval cut into pieces of about ``piece_s`` seconds (at least one)."""
    a, b = stretch
    count = max(1, int((t_s[b - 1] - t_s[a]) // piece_s))
    edges = [a, *np.searchsorted(t_s, t_s[a] + (t_s[b - 1] - t_s[a]) * np.arange(1, count) / count).tolist(), b]
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]


def estimate_orientation(samples: ImuSamples, orientation: OrientationParams | None = None,
                         params: RestParams | None = None, piece_s: float | None = None) -> OrientationResult:
    """Orientation of a recording that is not a seated twist (a board turned about every axis, as in BROAD's trials):
    every still stretch is a rest, its bias (:func:`stretch_bias`) a sample of the bias model, linear in between.
    Nobody breathes on a board and it rests for long: by default a still stretch must last 3 s after 1 s is left out
    at each end (on BROAD, 60 s windows' median 0.990° against 0.995° with the seated twist's 1.5 s and 0.3 s).
    ``piece_s``: stretches longer than this are cut into pieces of about this length, each a sample of the bias."""
    p = params or RestParams(still_min_s=3.0, still_margin_s=1.0)
    still = still_stretches(samples, p)
    if piece_s is not None:  # long stretches in pieces, so the bias may change within them (a warming sensor)
        still = [piece for stretch in still for piece in _pieces(samples.t_s, stretch, piece_s)]
    if not still:
        raise ImutrackError(
            "found no still period to measure the gyro bias: start sitting upright and still for a few seconds")
    centres = np.array([0.5 * (samples.t_s[a] + samples.t_s[b - 1]) for a, b in still])
    bias = BiasModel(centres, np.array([stretch_bias(samples, s)[0] for s in still]))
    quat = OrientationEstimator(samples.rate_hz, orientation, bias).update(samples).quat_wxyz_
    return OrientationResult(quat, bias, still, still)
