"""Sample times for a sensor with neither a clock nor a sample counter, measured from when its notifications arrive.

A notification cannot arrive before its last sample was taken, and most arrive a little later (the radio waits for
the next connection event, the host's scheduler for its turn). So in the plane of (sample index k, arrival time a),
the packets' last samples lie on or above the line of the true times, ``a = alpha + k / rate``, and the lowest of
them — the ones that came through with the least delay — lie on it. The line is the lower envelope of the points:
the edge of their lower convex hull under the mean index, which is the solution of the linear programme "the highest
line below every point" (the clock-skew estimator of Moon, Skelly and Towsley, *Estimation and removal of clock skew
from network delay measurements*, IEEE INFOCOM 1999). Late packets, however late, do not move it.

Each connection is a segment with its own line (the sensor's samples are only countable within one); the rate
carries over from the longest segment measured. The configured rate is only a check: a sensor that ignored the rate
command (a WitMotion left locked stays at its 10 Hz) is timed at the rate it really streams at, and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RATE_TOLERANCE = 0.05  # a measured rate this far from the configured one is reported (crystals are within 1-2 %)
SETTLE_PACKETS = 20  # and over at least this many packets (a few of them come through with almost no delay)


@dataclass
class _Segment:
    """One connection's packets: the lower convex hull of (last sample's index, arrival time)."""

    hull_k: list[float] = field(default_factory=list)
    hull_a: list[float] = field(default_factory=list)
    samples: int = 0  # samples received in this segment so far
    sum_k: float = 0.0
    points: int = 0
    first_a: float | None = None
    last_a: float | None = None

    def add(self, n: int, arrival_s: float) -> int:
        """A packet of ``n`` samples arrived; returns the segment index of its first sample."""
        first = self.samples
        self.samples += n
        k, a = float(self.samples - 1), float(arrival_s)
        hk, ha = self.hull_k, self.hull_a
        while len(hk) >= 2 and (hk[-1] - hk[-2]) * (a - ha[-2]) <= (ha[-1] - ha[-2]) * (k - hk[-2]):
            hk.pop()
            ha.pop()
        hk.append(k)
        ha.append(a)
        self.sum_k += k
        self.points += 1
        self.first_a = a if self.first_a is None else self.first_a
        self.last_a = a
        return first

    @property
    def span_s(self) -> float:
        return 0.0 if self.first_a is None else self.last_a - self.first_a

    def line(self, step_s: float, fit: bool) -> tuple[float, float]:
        """(alpha, step): arrival time of index 0 and seconds per sample — the highest line below every point, of
        slope ``step_s``, or with ``fit`` of the hull edge under the mean index when there is one."""
        hk, ha = self.hull_k, self.hull_a
        if fit and len(hk) >= 2:
            mean_k = self.sum_k / self.points
            j = 0
            while j < len(hk) - 2 and hk[j + 1] <= mean_k:
                j += 1
            step = (ha[j + 1] - ha[j]) / (hk[j + 1] - hk[j])
            if step > 0:
                return ha[j] - step * hk[j], step
        return min(a - step_s * k for k, a in zip(hk, ha, strict=True)), step_s


@dataclass
class ArrivalClock:
    """Times the samples of one clockless, counterless sensor from their notifications' arrival times.

    Attributes:
        configured_hz: the rate the sensor was asked for (the check, and the step until one is measured).
        settle_s: arrival time a segment must span (over ``SETTLE_PACKETS`` packets at least) before its own rate
            is trusted; shorter ones borrow it.
        rate_hz: the rate measured (None until a segment spans ``settle_s``).
    """

    configured_hz: float
    settle_s: float = 2.0
    rate_hz: float | None = None
    _segments: list[_Segment] = field(default_factory=list)
    _best_span_s: float = 0.0

    def new_segment(self) -> None:
        """The link came back: the samples that follow are counted afresh."""
        if self._segments and self._segments[-1].samples:
            self._segments.append(_Segment())

    def add(self, n: int, arrival_s: float) -> tuple[int, int]:
        """A packet of ``n`` samples arrived at ``arrival_s`` (host clock, s): (segment, index of its first sample)."""
        if not self._segments:
            self._segments.append(_Segment())
        segment = self._segments[-1]
        first = segment.add(n, arrival_s)
        if self._long(segment) and segment.span_s >= self._best_span_s:
            _, step = segment.line(0.0, fit=True)
            if step > 0:
                self.rate_hz, self._best_span_s = 1.0 / step, segment.span_s
        return len(self._segments) - 1, first

    @property
    def settled(self) -> bool:
        """A rate has been measured (over ``settle_s`` of one connection)."""
        return self.rate_hz is not None

    def _long(self, segment: _Segment, share: float = 1.0) -> bool:
        return segment.span_s >= share * self.settle_s and segment.points >= share * SETTLE_PACKETS

    def dated(self, segment: int) -> bool:
        """A segment spans enough arrivals (a quarter of the settling ones) for its start to be dated by its least
        delayed packets rather than its first."""
        return self._long(self._segments[segment], 0.25)

    def line(self, segment: int) -> tuple[float, float]:
        """(alpha, step) of a segment: the host time of its first sample, s, and the seconds per sample. A segment
        shorter than ``settle_s`` borrows the measured rate; before there is one, it uses its own if it spans at
        least a quarter of ``settle_s`` (a recording that short), else the configured one."""
        seg = self._segments[segment]
        fit = self._long(seg) or (self.rate_hz is None and self._long(seg, 0.25))
        return seg.line(1.0 / (self.rate_hz or self.configured_hz), fit)

    def rate_warning(self) -> str | None:
        """A sentence when the measured rate is not the configured one, else None."""
        if self.rate_hz is None or abs(self.rate_hz / self.configured_hz - 1.0) <= RATE_TOLERANCE:
            return None
        return (f"the sensor streams at {self.rate_hz:.1f} Hz, not the {self.configured_hz:g} Hz it was set to; "
                "sample times follow the measured rate")
