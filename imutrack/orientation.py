"""Sensor orientation with `vqf`, given the gyro bias.

In 6D (gyro + accelerometer, the default) the twist about vertical is pure gyro integration, so the result hinges on
the gyro bias. vqf's own bias estimators would take the slow, real rotation of a hold (creep, sway) for bias during
their "rest" phases and bend the twist by degrees, so they are off: the bias comes from the rest stage
(:mod:`imutrack.rests`), which measures it on the rests between reps, and vqf is given the bias-corrected gyro.

:class:`OrientationEstimator` is the streaming form (``update`` per batch, same numbers as one batch call).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from vqf import VQF

from imutrack.errors import ImutrackError
from imutrack.samples import ImuSamples


@dataclass
class OrientationParams:
    """How orientation is estimated.

    Attributes:
        use_mag: 9D (with magnetometer) instead of 6D. Indoors the field is often disturbed; 6D is the default.
        tau_acc_s: vqf's accelerometer time constant, s (inclination correction).
        vqf_motion_bias: let vqf estimate the bias during motion too (observable only in its horizontal components).
    """

    use_mag: bool = False
    tau_acc_s: float = 3.0
    vqf_motion_bias: bool = False


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
        """Bias at times ``t_s`` (s), rad/s (N, 3): what ``np.interp`` gives per axis, to the bit. For increasing
        times (a recording's), it is written out one segment between knots and one axis at a time into a (3, N)
        array, returned transposed: a few dozen knots over an hour at 100 Hz, 4x cheaper than a search per sample
        and axis."""
        t = np.asarray(t_s, dtype=np.float64)
        knots, values = self.t_s, self.bias_rad_s
        if len(knots) > 1 and (np.any(np.diff(knots) <= 0) or np.any(t[1:] < t[:-1])):
            return np.column_stack([np.interp(t, knots, values[:, k]) for k in range(3)])
        out = np.empty((3, len(t)))
        bounds = np.searchsorted(t, knots, side="left")  # a segment: from its first knot (inclusive) to the next
        out[:, :bounds[0]] = values[0][:, None]
        out[:, bounds[-1]:] = values[-1][:, None]
        slopes = np.diff(values, axis=0) / np.diff(knots)[:, None]
        for j in np.flatnonzero(bounds[1:] > bounds[:-1]):
            a, b = bounds[j], bounds[j + 1]
            since = t[a:b] - knots[j]
            for k in range(3):
                np.multiply(since, slopes[j, k], out=out[k, a:b])
                out[k, a:b] += values[j, k]
        return out.T


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


@dataclass
class OrientationResult:
    """A recording's orientation and how it was found.

    Attributes:
        quat_wxyz: sensor orientation, sensor → earth (N, 4).
        bias: the gyro bias model used.
        still: still index intervals found.
        rests: the still intervals used for the bias.
    """

    quat_wxyz: np.ndarray
    bias: BiasModel
    still: list[tuple[int, int]]
    rests: list[tuple[int, int]]
