"""Sensor orientation with `vqf`, and the gyro bias handling a seated twist needs.

In 6D (gyro + accelerometer, the default) the twist about vertical is pure gyro integration, so the result hinges on
the gyro bias. vqf's own bias estimators would take the slow, real rotation of a hold (creep, sway) for bias during
its "rest" phases and bend the twist by degrees. We therefore switch vqf's rest bias estimation off and estimate the
bias ourselves from *true* stillness:

1. find still stretches (low gyro and accelerometer variability) — the neutral start, rests between sides, the end;
2. take the first still stretch as the first bias estimate and compute a first orientation;
3. keep only still stretches where the trunk faces forward (twist within ``rest_max_twist_deg`` of the previous rest:
   rests, not holds, and a person who shifted on the seat between reps still counts as facing forward), take the
   mean gyro of each as a bias sample at its centre time, and interpolate the bias linearly in time between them (it
   drifts slowly with temperature);
4. run vqf again on the corrected gyro.

Breathing rocks the sternum during "stillness", but about a horizontal axis; its effect on the vertical bias
component (the one the twist depends on) averages out over a few seconds. Evidence: ``docs/accuracy.md``.

:class:`OrientationEstimator` is the streaming form (``update`` per batch, same numbers as one batch call);
:func:`estimate_orientation` runs the whole batch procedure above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter1d
from vqf import VQF

from imutrack.errors import ImutrackError
from imutrack.gaps import split_at
from imutrack.intervals import runs
from imutrack.samples import ImuSamples


@dataclass
class OrientationParams:
    """How orientation is estimated.

    Attributes:
        use_mag: 9D (with magnetometer) instead of 6D. Indoors the field is often disturbed; 6D is the default.
        tau_acc_s: vqf's accelerometer time constant, s (inclination correction).
        vqf_motion_bias: let vqf estimate the bias during motion too (observable only in its horizontal components).
        still_window_s: window for the stillness test, s.
        still_gyr_sd_deg_s: a window is still when every gyro axis varies less than this (SD), °/s.
        still_acc_sd_m_s2: ... and every accelerometer axis less than this (SD), m/s².
        still_min_s: shortest still stretch used for bias, s.
        still_margin_s: left out at both ends of a still stretch, s (a slow movement's start or end is often
            below the stillness thresholds and would be taken for bias).
        rest_max_twist_deg: a still stretch counts as a rest for bias only where the first-pass twist is within
            this of the previous rest's (the first: of neutral); None accepts every still stretch (for data that is
            not a seated twist).
        excursion_deg: after a long gap, a still stretch is a rest when a movement leaves it by more than this and
            comes back to it.
    """

    use_mag: bool = False
    tau_acc_s: float = 3.0
    vqf_motion_bias: bool = False
    still_window_s: float = 1.0
    still_gyr_sd_deg_s: float = 1.5
    still_acc_sd_m_s2: float = 0.15
    still_min_s: float = 3.0
    still_margin_s: float = 1.0
    rest_max_twist_deg: float | None = 12.0
    excursion_deg: float = 15.0


@dataclass
class BiasModel:
    """Gyro bias over time: linear interpolation between samples ``(t_s, bias_rad_s)``, constant beyond them.

    Attributes:
        t_s: times of the bias samples, s (K,), increasing.
        bias_rad_s: bias in the sensor frame, rad/s (K, 3).
    """

    t_s: np.ndarray = field(default_factory=lambda: np.zeros(1))
    bias_rad_s: np.ndarray = field(default_factory=lambda: np.zeros((1, 3)))

    def at(self, t_s: np.ndarray) -> np.ndarray:
        """Bias at times ``t_s``, rad/s (N, 3)."""
        return np.column_stack([np.interp(t_s, self.t_s, self.bias_rad_s[:, k]) for k in range(3)])


class OrientationEstimator:
    """Streaming vqf with an externally supplied gyro bias. ``update`` any number of batches; the quaternions equal
    those of one batch over the whole data.

    Results: ``quat_wxyz_`` of the last batch (N, 4), sensor → earth.
    """

    def __init__(self, sample_rate_hz: float, params: OrientationParams | None = None, bias: BiasModel | None = None):
        self.params = params or OrientationParams()
        self.bias = bias or BiasModel()
        self.sample_rate_hz = sample_rate_hz
        p = self.params
        self._vqf = VQF(
            1.0 / sample_rate_hz,
            tauAcc=p.tau_acc_s,
            restBiasEstEnabled=False,
            motionBiasEstEnabled=p.vqf_motion_bias,
        )
        self.quat_wxyz_ = np.zeros((0, 4))

    def update(self, samples: ImuSamples) -> OrientationEstimator:
        if len(samples) == 0:
            self.quat_wxyz_ = np.zeros((0, 4))
            return self
        gyr = np.ascontiguousarray(samples.gyr_rad_s - self.bias.at(samples.t_s))
        acc = np.ascontiguousarray(samples.acc_m_s2)
        if self.params.use_mag:
            if samples.mag_uT is None:
                raise ImutrackError("9D orientation needs a magnetometer, and this data has none; use 6D")
            out = self._vqf.updateBatch(gyr, acc, np.ascontiguousarray(samples.mag_uT))
            self.quat_wxyz_ = out["quat9D"]
        else:
            self.quat_wxyz_ = self._vqf.updateBatch(gyr, acc)["quat6D"]
        return self


def still_mask(samples: ImuSamples, params: OrientationParams | None = None) -> np.ndarray:
    """True where the sensor is still (bool (N,)): every gyro and acc axis varies little over a moving window."""
    p = params or OrientationParams()
    n = len(samples)
    if n == 0:
        return np.zeros(0, dtype=bool)
    width = max(3, int(round(p.still_window_s * samples.rate_hz)))
    both = np.hstack([samples.gyr_rad_s, samples.acc_m_s2])
    mean = uniform_filter1d(both, width, axis=0, mode="nearest")
    mean_sq = uniform_filter1d(both * both, width, axis=0, mode="nearest")
    sd = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    gyr_ok = (sd[:, :3] < np.radians(p.still_gyr_sd_deg_s)).all(axis=1)
    acc_ok = (sd[:, 3:] < p.still_acc_sd_m_s2).all(axis=1)
    return gyr_ok & acc_ok


def still_stretches(samples: ImuSamples, params: OrientationParams | None = None) -> list[tuple[int, int]]:
    """Still index intervals, each shortened by ``still_margin_s`` at both ends (where a movement may be fading in
    or out), that are still at least ``still_min_s`` long."""
    p = params or OrientationParams()
    # Stillness is a matter of seconds: the test runs on ≤ 25 Hz block means (4× cheaper at 100 Hz, same stretches
    # to within a block), and the stretches are mapped back onto the full-rate samples.
    coarse = _block_mean(samples, 25.0)
    t, tc = samples.t_s, coarse.t_s
    stretches = []
    for a, b in runs(still_mask(coarse, p)):
        a, b = np.searchsorted(t, [tc[a] + p.still_margin_s, tc[b - 1] - p.still_margin_s], side="left")
        if b > a and t[b - 1] - t[a] >= p.still_min_s:
            stretches.append((int(a), int(b)))
    return stretches


def still_bias(samples: ImuSamples, stretch: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The gyro bias over one still index interval, and its standard error, both rad/s (3,) in the sensor frame.

    The bias is the mean gyro over the stretch, leaving out the seconds whose mean lies more than 3 robust SDs from
    the others' median — a slow movement the stillness test let through (a small shift on the seat) — so it does not
    spoil the estimate; with nothing to leave out this is the plain mean. The standard error comes from the scatter
    of the kept seconds' means (body sway included, not only sensor noise); with fewer than 5 seconds it is that of
    the samples' mean.
    """
    a, b = stretch
    gyr = samples.gyr_rad_s[a:b]
    block = max(1, int(round(samples.rate_hz)))
    blocks = (b - a) // block
    if blocks < 5:
        return gyr.mean(axis=0), gyr.std(axis=0) / np.sqrt(max(1, len(gyr)))
    means = gyr[: blocks * block].reshape(blocks, block, 3).mean(axis=1)
    median = np.median(means, axis=0)
    spread = 1.4826 * np.median(np.abs(means - median), axis=0)
    typical = (np.abs(means - median) <= 3.0 * spread + 1e-12).all(axis=1)
    keep = np.repeat(typical, block)
    keep = np.concatenate([keep, np.full(len(gyr) - len(keep), typical[-1])])
    kept = means[typical]
    return gyr[keep].mean(axis=0), kept.std(axis=0, ddof=1) / np.sqrt(len(kept)) if len(kept) > 1 else spread


def _bias_from(samples: ImuSamples, stretches: list[tuple[int, int]]) -> BiasModel:
    """A bias sample (:func:`still_bias`) at the centre of each still stretch."""
    centres = np.array([0.5 * (samples.t_s[a] + samples.t_s[b - 1]) for a, b in stretches])
    return BiasModel(centres, np.array([still_bias(samples, stretch)[0] for stretch in stretches]))


def _rests(still, t_s, coarse_t_s, twist_deg, breaks, p: OrientationParams) -> list[tuple[int, int]]:
    """The still stretches that are rests (facing forward), from the first-pass twist (°, on ``coarse_t_s``).

    A rest faces within ``rest_max_twist_deg`` of the rest before it (the first: of the neutral; a person may shift
    on the seat between reps). After a long gap the twist has lost the rotation done during it, so the first rest
    of the new piece is instead recognised by what follows it: a movement away by more than ``excursion_deg`` that
    comes back to within ``rest_max_twist_deg`` of it (a hold is left for a rest, and not come back to)."""
    piece = np.searchsorted(np.asarray(breaks, dtype=np.int64), [a for a, _ in still], side="right")
    spans = [tuple(np.searchsorted(coarse_t_s, [t_s[a], t_s[b - 1]])) for a, b in still]
    level = [float(np.median(twist_deg[i0:i1])) if i1 > i0 else float("nan") for i0, i1 in spans]

    def come_back_to(k: int) -> bool | None:
        """Whether a movement leaves stretch k and comes back to it; None when nothing follows it in its piece."""
        followed = False
        for j in range(k + 1, len(still)):
            if piece[j] != piece[k]:
                break
            followed = True
            if abs(level[j] - level[k]) <= p.rest_max_twist_deg:
                between = twist_deg[spans[k][1]:spans[j][0]]
                if len(between) and np.abs(between - level[k]).max() > p.excursion_deg:
                    return True
        return False if followed else None

    rests, facing, facing_piece = [], 0.0, piece[0] if len(still) else 0
    for k, (a, b) in enumerate(still):
        if np.isnan(level[k]):
            continue
        is_rest = come_back_to(k) if piece[k] != facing_piece else None
        if is_rest is None:  # in the same piece as the last rest, or the end of a piece: by its twist
            is_rest = abs(level[k] - facing) <= p.rest_max_twist_deg
        if is_rest:
            rests.append((a, b))
            facing, facing_piece = level[k], piece[k]
    return rests


@dataclass
class OrientationResult:
    """Output of :func:`estimate_orientation`.

    Attributes:
        quat_wxyz: sensor orientation, sensor → earth (N, 4).
        bias: the gyro bias model used.
        still: still index intervals found.
        rests: the still intervals used for the bias (facing forward).
    """

    quat_wxyz: np.ndarray
    bias: BiasModel
    still: list[tuple[int, int]]
    rests: list[tuple[int, int]]


def _block_mean(samples: ImuSamples, max_rate_hz: float) -> ImuSamples:
    """Samples averaged in blocks down to at most ``max_rate_hz`` (for a quick first pass)."""
    k = int(samples.rate_hz // max_rate_hz)
    if k <= 1:
        return samples
    n = len(samples) // k * k

    def mean(a: np.ndarray) -> np.ndarray:
        return a[:n].reshape(n // k, k, -1).mean(axis=1)

    return ImuSamples(mean(samples.t_s[:, None])[:, 0], mean(samples.gyr_rad_s), mean(samples.acc_m_s2),
                      None if samples.mag_uT is None else mean(samples.mag_uT))


def estimate_orientation(
    samples: ImuSamples,
    params: OrientationParams | None = None,
    twist_of=None,
    still: list[tuple[int, int]] | None = None,
    breaks: list[int] | tuple = (),
) -> OrientationResult:
    """Orientation of a whole recording with the bias procedure described in this module's docstring.

    Args:
        samples: the recording's samples.
        params: estimation parameters.
        twist_of: function ``(t_s (N,), quat_wxyz (N, 4)) -> twist_deg (N,)`` relative to neutral, for the first
            pass; needed when ``params.rest_max_twist_deg`` is set (the trunk stage supplies it).
        still: the still stretches, if already found (:func:`still_stretches`).
        breaks: sample indices where the data starts again after a long gap (:mod:`imutrack.gaps`). The rotation
            during such a gap is unknown, so the first rest after it cannot be told by its twist; it is the first
            still stretch that a movement leaves and comes back to (:func:`_rests`).
    """
    p = params or OrientationParams()
    if len(samples) < 2:
        raise ImutrackError("need at least two samples to estimate orientation")
    still = split_at(still_stretches(samples, p) if still is None else still, breaks, samples.t_s, p.still_min_s)
    if not still:
        raise ImutrackError(
            "found no still period to measure the gyro bias: start each session sitting upright and still for "
            f"a few seconds (at least {p.still_min_s:g} s)"
        )
    rests = still
    if p.rest_max_twist_deg is not None and twist_of is not None:
        # The first pass only tells rests (facing forward) from holds, so a 25 Hz version of the data serves.
        coarse = _block_mean(samples, 25.0)
        first = OrientationEstimator(coarse.rate_hz, p, _bias_from(samples, still[:1])).update(coarse).quat_wxyz_
        twist = twist_of(coarse.t_s, first)
        rests = _rests(still, samples.t_s, coarse.t_s, twist, breaks, p) or still[:1]
    bias = _bias_from(samples, rests)
    final = OrientationEstimator(samples.rate_hz, p, bias).update(samples).quat_wxyz_
    return OrientationResult(final, bias, still, rests)
