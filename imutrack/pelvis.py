"""The pelvis's own turn about vertical as its samples arrive, for the live guide with a second sensor.

A pelvis on a chair hardly accelerates, so its accelerometer gives the up direction; the gyro about that direction,
less its bias, integrates to its heading. The bias is taken from its still stretches — a pelvis is still through the
holds as well as the rests: half-second blocks whose mean rate about vertical differs from both neighbours' by less
than ``still_step_deg_s`` (the tail of a turn, slowing down, never does), at least ``still_s`` of them in a row, one
block left out at each end; the bias is the mean over the latest such stretch. The analysis refines all of it
afterwards (:func:`imutrack.analysis.analyze` with ``pelvis``), as it does the chest's angles.
"""

from __future__ import annotations

import numpy as np

from imutrack.samples import ImuSamples


class PelvisTracker:
    """Feed it the pelvis sensor's samples with :meth:`update`; read its heading at a time with
    :meth:`heading_deg` (degrees, + = left, from where it was when its bias was first known; nan before)."""

    def __init__(self, still_s: float = 3.0, still_step_deg_s: float = 0.06, block_s: float = 0.5,
                 keep_s: float = 30.0):
        self.still_s, self.still_step_deg_s, self.block_s, self.keep_s = still_s, still_step_deg_s, block_s, keep_s
        self.bias_deg_s: float | None = None
        self._t = np.zeros(0)  # recent sample times, s
        self._rate = np.zeros(0)  # their rate about vertical, °/s (bias not removed)
        self._heading = np.zeros(0)  # their heading, ° (nan before the bias is known)
        self._last_heading = float("nan")
        self._last_t: float | None = None

    def update(self, samples: ImuSamples) -> None:
        if len(samples) == 0:
            return
        up = samples.acc_m_s2.mean(axis=0)
        up /= max(float(np.linalg.norm(up)), 1e-9)
        rate = np.degrees(samples.gyr_rad_s @ up)
        t = samples.t_s
        if len(self._t):
            keep = self._t >= t[-1] - self.keep_s
            self._t, self._rate, self._heading = self._t[keep], self._rate[keep], self._heading[keep]
        self._t, self._rate = np.concatenate([self._t, t]), np.concatenate([self._rate, rate])
        known = self.bias_deg_s is not None
        self._learn_bias()
        if not known and self.bias_deg_s is not None:  # first known: the samples kept so far get their heading too
            t, rate = self._t, self._rate
            self._heading, self._last_t = np.zeros(0), None
        heading = np.full(len(t), np.nan)
        if self.bias_deg_s is not None:
            dt = np.diff(t, prepend=t[0] if self._last_t is None else self._last_t)
            start = 0.0 if self._last_heading != self._last_heading else self._last_heading
            heading = start + np.cumsum((rate - self.bias_deg_s) * dt)
            self._last_heading = float(heading[-1])
        self._heading = np.concatenate([self._heading, heading])
        self._last_t = float(t[-1])

    def _learn_bias(self) -> None:
        """The bias from the latest still stretch of the recent samples (module docstring)."""
        edges = np.arange(self._t[0], self._t[-1], self.block_s)
        if len(edges) < 3:
            return
        index = np.searchsorted(self._t, edges)
        counts = np.diff(np.append(index, len(self._t)))
        sums = np.add.reduceat(self._rate, index)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)[:-1]  # the last block is not complete
        steady = np.abs(np.diff(means)) < self.still_step_deg_s
        still = np.zeros(len(means), dtype=bool)
        still[1:-1] = steady[:-1] & steady[1:]
        needed = int(np.ceil(self.still_s / self.block_s))
        run_end = len(still)
        while run_end > 0 and not still[run_end - 1]:
            run_end -= 1
        run_start = run_end
        while run_start > 0 and still[run_start - 1]:
            run_start -= 1
        if run_end - run_start >= needed + 2:
            self.bias_deg_s = float(np.mean(means[run_start + 1:run_end - 1]))

    def heading_deg(self, t_s: float) -> float:
        """The heading at ``t_s`` (within the last ``keep_s``), °; nan when not known."""
        if not len(self._t) or t_s < self._t[0]:
            return float("nan")
        return float(np.interp(t_s, self._t, self._heading))

    def mean_heading_deg(self, t0_s: float, t1_s: float) -> float:
        """The mean heading over ``[t0_s, t1_s]``, °; nan when not known."""
        inside = (self._t >= t0_s) & (self._t <= t1_s)
        values = self._heading[inside]
        return float(np.mean(values)) if len(values) and np.isfinite(values).all() else self.heading_deg(t1_s)
