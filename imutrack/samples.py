"""`ImuSamples`: the one container every source, reader and algorithm exchanges.

All arrays are float64, C-contiguous (what `vqf` needs), in SI units, in the device's common *sensor frame*
(right-handed; see ``docs/frames.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from imutrack.errors import InvalidSamplesError


def _as_vectors(name: str, values, n: int) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.shape != (n, 3):
        raise InvalidSamplesError(f"{name} must have shape ({n}, 3) to match t_s, got {array.shape}")
    return array


def _check_finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InvalidSamplesError(f"{name} has a non-finite value at sample {row}")


@dataclass(frozen=True, eq=False)
class ImuSamples:
    """A block of IMU samples.

    Attributes:
        t_s: sample times in s, shape (N,), strictly increasing; from the sensor clock when the device has one,
            counted from the recording start.
        gyr_rad_s: angular rate in the sensor frame, rad/s, shape (N, 3).
        acc_m_s2: specific force (acceleration minus gravity, so +9.81 m/s² *up* at rest) in the sensor frame,
            m/s², shape (N, 3).
        mag_uT: magnetic flux density in the sensor frame, µT, shape (N, 3), or None when the device has none.
    """

    t_s: np.ndarray
    gyr_rad_s: np.ndarray
    acc_m_s2: np.ndarray
    mag_uT: np.ndarray | None = None

    def __post_init__(self) -> None:
        t_s = np.ascontiguousarray(self.t_s, dtype=np.float64)
        if t_s.ndim != 1:
            raise InvalidSamplesError(f"t_s must be one-dimensional, got shape {t_s.shape}")
        n = len(t_s)
        object.__setattr__(self, "t_s", t_s)
        object.__setattr__(self, "gyr_rad_s", _as_vectors("gyr_rad_s", self.gyr_rad_s, n))
        object.__setattr__(self, "acc_m_s2", _as_vectors("acc_m_s2", self.acc_m_s2, n))
        if self.mag_uT is not None:
            object.__setattr__(self, "mag_uT", _as_vectors("mag_uT", self.mag_uT, n))
        for name in ("t_s", "gyr_rad_s", "acc_m_s2", "mag_uT"):
            array = getattr(self, name)
            if array is not None:
                _check_finite(name, array)
        if n > 1:
            steps = np.diff(t_s)
            if (steps <= 0).any():
                i = int(np.argmax(steps <= 0)) + 1
                raise InvalidSamplesError(
                    f"t_s must increase strictly; sample {i} at {t_s[i]:.6f} s follows {t_s[i - 1]:.6f} s"
                )

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def has_mag(self) -> bool:
        return self.mag_uT is not None

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample, s."""
        return float(self.t_s[-1] - self.t_s[0]) if len(self) > 1 else 0.0

    @cached_property
    def step_s(self) -> float:
        """Median step between samples, s (robust to the occasional gap); nan for fewer than two samples. Kept once
        computed (the arrays are not changed in place): a median of an hour's steps costs 2 ms, and every stage
        needs it."""
        if len(self) < 2:
            return float("nan")
        return float(np.median(np.diff(self.t_s)))

    @cached_property
    def rate_hz(self) -> float:
        """Median sampling rate, Hz (1 / :attr:`step_s`); nan for fewer than two samples."""
        return float(1.0 / self.step_s)

    def slice(self, start: int, stop: int) -> ImuSamples:
        """Samples with indices in ``[start, stop)``."""
        mag = None if self.mag_uT is None else self.mag_uT[start:stop]
        return ImuSamples(self.t_s[start:stop], self.gyr_rad_s[start:stop], self.acc_m_s2[start:stop], mag)

    @staticmethod
    def concatenate(blocks: list[ImuSamples]) -> ImuSamples:
        """Join blocks in time order; all must agree on having a magnetometer."""
        if not blocks:
            raise InvalidSamplesError("cannot concatenate an empty list of sample blocks")
        with_mag = {b.has_mag for b in blocks}
        if len(with_mag) != 1:
            raise InvalidSamplesError("cannot join sample blocks with and without magnetometer data")
        mag = np.concatenate([b.mag_uT for b in blocks]) if blocks[0].has_mag else None
        return ImuSamples(
            np.concatenate([b.t_s for b in blocks]),
            np.concatenate([b.gyr_rad_s for b in blocks]),
            np.concatenate([b.acc_m_s2 for b in blocks]),
            mag,
        )
