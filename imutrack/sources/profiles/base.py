"""What every device profile provides, and the assembler that turns decoded packets into a sample stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from imutrack.io.merge import interpolate_onto
from imutrack.samples import ImuSamples
from imutrack.sources.profiles.timing import ArrivalClock


@dataclass(frozen=True)
class DecodedPacket:
    """One notification, decoded. Arrays in SI units in the profile's sensor frame, shape (n, 3).

    Attributes:
        gyr_rad_s: angular rate, rad/s; None for a device without a gyroscope (or in an "acc" packet).
        acc_m_s2: specific force, m/s²; None only in a "gyr" packet.
        mag_uT: magnetic field, µT, or None.
        first_seq: the device's sample counter for the first sample (wraps at the profile's ``seq_modulo``), or None.
        sensor_time_s: the device clock at the first sample, s (wraps at ``time_modulo_s``), or None.
        rate_hz: the sample rate the packet declares, or None to use the profile's.
        channel: "imu" when the packet holds whole samples; "acc" or "gyr" for a device that sends its accelerometer
            and gyroscope as separate streams, each stamped by the device clock (``sensor_time_end_s``).
        sensor_time_end_s: the device clock at the *last* sample, s (never wraps), for "acc"/"gyr" packets.
    """

    gyr_rad_s: np.ndarray | None
    acc_m_s2: np.ndarray | None
    mag_uT: np.ndarray | None = None
    first_seq: int | None = None
    sensor_time_s: float | None = None
    rate_hz: float | None = None
    channel: str = "imu"
    sensor_time_end_s: float | None = None

    def __len__(self) -> int:
        return len(self.acc_m_s2 if self.acc_m_s2 is not None else self.gyr_rad_s)


@dataclass(frozen=True)
class DeviceProfile:
    """A supported sensor.

    Attributes:
        name: short id used on the command line (``--profile``).
        title: what it is, for people.
        service_uuid: the GATT service holding the data characteristic.
        data_uuid: the characteristic that notifies the data.
        advertised_uuid: a service UUID the device advertises (to recognise it in a scan).
        name_prefixes: advertised name prefixes that identify it when no UUID is advertised.
        has_gyro: False for accelerometer-only devices (no twist, only posture and breathing).
        chest_normal_axis: sensor axis pointing out of the chest when worn as documented.
        sensor_frame: how the axes sit when worn as documented.
        rate_hz: the sample rate it streams at after ``start_writes``.
        start_writes: (characteristic UUID, bytes) written, in order, to start streaming.
        decode: ``decode(payload, settings) -> DecodedPacket | None`` — pure; None for anything malformed.
            ``settings`` holds what the device said on its control characteristic (see ``configure``).
        seq_modulo: where the device's sample counter wraps; None without a counter.
        time_modulo_s: where the device clock wraps, s; None without a clock.
        battery_uuid: the standard Battery Level characteristic when the device has it.
        reassemble: for devices that split one message over two notifications: ``reassemble(pending, payload)``
            returns (the whole message or None, what to keep pending).
        control_uuid: a characteristic whose notifications/indications answer the ``start_writes`` (subscribed
            before they are written; each answer is awaited).
        configure: ``configure(answer) -> dict`` — pure; the settings an answer carries (e.g. a scale factor), for
            ``decode``; raises :class:`~imutrack.errors.ImutrackError` when the device refused to start.
        subscribe_after_writes: subscribe to the data only once ``start_writes`` are done (a device that streams as
            soon as it is subscribed, at whatever rate it was left at, until the writes set it).
    """

    name: str
    title: str
    service_uuid: str
    data_uuid: str
    advertised_uuid: str
    name_prefixes: tuple[str, ...]
    has_gyro: bool
    chest_normal_axis: str
    sensor_frame: str
    rate_hz: float
    decode: Callable[[bytes, Mapping[str, float] | None], DecodedPacket | None]
    start_writes: tuple[tuple[str, bytes], ...] = ()
    seq_modulo: int | None = None
    time_modulo_s: float | None = None
    battery_uuid: str | None = "00002a19-0000-1000-8000-00805f9a34fb"
    reassemble: Callable[[bytes | None, bytes], tuple[bytes | None, bytes | None]] | None = None
    control_uuid: str | None = None
    configure: Callable[[bytes], dict[str, float]] | None = None
    subscribe_after_writes: bool = False


def _unwrap(value: float, previous: float | None, modulo: float) -> float:
    """``value`` (which wraps at ``modulo``) made continuous after ``previous`` (already unwrapped)."""
    if previous is None:
        return value
    base = previous - (previous % modulo)
    candidate = base + value
    if candidate < previous - modulo / 2:
        candidate += modulo
    elif candidate > previous + modulo / 2:
        candidate -= modulo
    return candidate


@dataclass
class PacketStream:
    """Turns notifications of one device into timed samples, across link drops.

    Times: from the device clock when it has one; else from its sample counter at the profile's rate; else, for a
    device with neither, from when its notifications arrive (:class:`~imutrack.sources.profiles.timing.ArrivalClock`:
    the lower envelope of arrival times against the sample count, per connection, so a reconnection's gap is dated
    by the first packet after it). The configured rate is then only a check (``rate_warning``), and the first
    ``settle_s`` of samples wait in the stream until the rate is measured (:meth:`take` gives them after that, or
    with ``final=True``). Samples missing after a gap are counted from the counter, the clock or the arrival times.
    ``t_s`` starts at 0 at the first sample and always increases: if the device's clock or counter goes back (it
    restarted), its samples carry on after the last one, as far on as the host clock says. A packet up to a second
    behind the counter is a repeat and is dropped. Host receive times are kept in ``host_t_s``.

    A device that sends accelerometer and gyroscope as separate streams (packets of channel "acc"/"gyr", each
    stamped at its last sample; an accelerometer-only device sends "acc" packets alone): each stream is timed by its
    stamps (sample spacing from consecutive stamps, so the device's true rate is used), and the accelerometer is
    interpolated linearly onto the gyroscope's times — never extrapolated, never across a gap
    (:func:`imutrack.io.merge.interpolate_onto`). Gyroscope samples wait until the accelerometer has caught up with
    them; those before the first accelerometer sample are not used, those with no accelerometer sample on one side
    within the gap limit (after a link gap) are counted as lost.

    Counters: ``packets``, ``dropped_packets`` (could not be decoded), ``lost_samples`` (gaps in the counter or clock).
    ``settings``: what the device said on its control characteristic (:meth:`control`), passed to the decoder.
    """

    profile: DeviceProfile
    packets: int = 0
    dropped_packets: int = 0
    lost_samples: int = 0
    _next_seq: float | None = None
    _raw_next: float | None = None  # the device's own counter, unwrapped, expected next
    _seq_offset: float = 0.0  # added to it for the recording (moves on when the device restarts its counter)
    _last_t: float | None = None  # time of the last sample handed out, s
    _time0: float | None = None
    _last_time: float | None = None
    _host0: float | None = None
    _last_host: float | None = None
    _pending: list = field(default_factory=list)
    _part: bytes | None = None
    settings: dict[str, float] = field(default_factory=dict)
    _ends: dict[str, float] = field(default_factory=dict)
    _steps: dict[str, float] = field(default_factory=dict)
    _split: dict[str, list] = field(default_factory=lambda: {"acc": [], "gyr": []})
    arrival: ArrivalClock | None = None  # for a device with neither counter nor clock
    _unclocked: list = field(default_factory=list)
    _origin: float | None = None  # host time of the first sample of an arrival-timed device, s
    _segment: int = 0

    def __post_init__(self) -> None:
        if self.arrival is None and self.profile.seq_modulo is None and self.profile.time_modulo_s is None:
            self.arrival = ArrivalClock(self.profile.rate_hz)

    @property
    def host0_s(self) -> float | None:
        """The host time of the first notification decoded (``host_t_s`` counts from it), s."""
        return self._host0

    @property
    def rate_warning(self) -> str | None:
        """A sentence when the device streams at another rate than it was set to (arrival-timed devices)."""
        return self.arrival.rate_warning() if self.arrival is not None else None

    @property
    def measured_rate_hz(self) -> float | None:
        """The rate measured from arrival times (arrival-timed devices, once settled), Hz."""
        return self.arrival.rate_hz if self.arrival is not None else None

    def control(self, payload: bytes) -> None:
        """A message from the device's control characteristic: keep the settings it carries. Raises
        :class:`~imutrack.errors.ImutrackError` when it says the device refused to start."""
        if self.profile.configure is not None:
            self.settings.update(self.profile.configure(bytes(payload)))

    def feed(self, payload: bytes, host_time_s: float) -> DecodedPacket | None:
        """Decode one notification received at ``host_time_s`` (host monotonic clock, s)."""
        self.packets += 1
        payload = bytes(payload)
        if self.profile.reassemble is not None:
            payload, self._part = self.profile.reassemble(self._part, payload)
            if payload is None:
                return None
        packet = self.profile.decode(payload, self.settings)
        if packet is None or len(packet) == 0:
            self.dropped_packets += 1
            return None
        if self._host0 is None:
            self._host0 = host_time_s
        if packet.channel != "imu":
            return self._feed_split(packet, host_time_s)
        p = self.profile
        n = len(packet)
        if self.arrival is not None:
            segment, first = self.arrival.add(n, host_time_s - self._host0)
            self._unclocked.append((segment, first, host_time_s - self._host0, packet))
            return packet
        rate_hz = packet.rate_hz or p.rate_hz
        counted = packet.first_seq is not None and p.seq_modulo
        if counted:
            raw0 = _unwrap(packet.first_seq, self._raw_next, p.seq_modulo) if self._raw_next is not None else float(
                packet.first_seq)
            if self._raw_next is not None:
                behind = self._raw_next - raw0
                if 0 < behind <= max(64.0, rate_hz):  # a repeat or an old packet (within a second): nothing new
                    self.dropped_packets += 1
                    return None
                if behind > 0:  # far behind: the sensor started counting again (it restarted); number on
                    self._seq_offset += behind
                else:
                    self.lost_samples += int(-behind)
            self._raw_next = raw0 + n
            seq0 = raw0 + self._seq_offset
        else:
            seq0 = self._next_seq if self._next_seq is not None else 0.0
        seq = seq0 + np.arange(n)
        if packet.sensor_time_s is not None and p.time_modulo_s:
            t_first = _unwrap(packet.sensor_time_s, self._last_time, p.time_modulo_s)
            self._last_time = t_first
            if self._time0 is None:
                self._time0 = t_first
            t_s = t_first - self._time0 + np.arange(n) / rate_hz
            if not counted and self._last_t is not None:  # a clock without a counter: the clock says what is missing
                missing = int(round((t_s[0] - self._last_t) * rate_hz)) - 1
                if missing > 0:
                    self.lost_samples += missing
                    seq = seq + missing
        else:
            t_s = seq / rate_hz
        if self._last_t is not None and t_s[0] <= self._last_t:
            # The device clock (or counter) went back — it restarted, or sent nonsense: carry on from the last sample,
            # as far on as the host clock says, and measure later packets from there.
            resumed = self._last_t + max(1.0 / rate_hz, host_time_s - self._last_host)
            if packet.sensor_time_s is not None and p.time_modulo_s:
                self._time0 += t_s[0] - resumed
            t_s = t_s - t_s[0] + resumed
        self._last_t = float(t_s[-1])
        self._next_seq = seq[-1] + 1
        self._last_host = host_time_s
        self._pending.append((t_s, seq, np.full(n, host_time_s - self._host0), packet))
        return packet

    def _feed_split(self, packet: DecodedPacket, host_time_s: float) -> DecodedPacket | None:
        """One "acc" or "gyr" packet: its samples' device times from its end stamp (and the previous one's)."""
        n, end = len(packet), packet.sensor_time_end_s
        previous = self._ends.get(packet.channel)
        if end is None or not np.isfinite(end) or (previous is not None and end <= previous):
            self.dropped_packets += 1  # unstamped, a repeat or an old packet
            return None
        # sample spacing: measured between consecutive stamps (the device's true rate), else the last one measured,
        # else the nominal rate
        step = self._steps.get(packet.channel, 1.0 / (packet.rate_hz or self.profile.rate_hz))
        periods = (end - previous) / step if previous is not None else None
        if periods is not None and periods <= n + 0.5:  # nothing missing: the samples lie between the two stamps
            fitted = (end - previous) / n
            if periods >= n - 0.5:
                self._steps[packet.channel] = fitted
            step = fitted  # (stamps closer than expected too: the times must still increase)
        t_abs = end - step * np.arange(n - 1, -1, -1)
        self._ends[packet.channel] = end
        values = packet.acc_m_s2 if packet.channel == "acc" else packet.gyr_rad_s
        if packet.channel != self._clock:
            self._split[packet.channel].append((t_abs, values))
            return packet
        missing = int(round(periods)) - n if periods is not None else 0
        if missing > 0:
            self.lost_samples += missing
        seq0 = (self._next_seq or 0.0) + max(missing, 0)
        self._next_seq = seq0 + n
        self._split[packet.channel].append((t_abs, seq0 + np.arange(n), np.full(n, host_time_s - self._host0), values))
        return packet

    @property
    def _clock(self) -> str:
        """The stream whose times the samples take: the gyroscope's, or the accelerometer's on a device without."""
        return "gyr" if self.profile.has_gyro else "acc"

    def _take_split(self) -> tuple[ImuSamples, np.ndarray, np.ndarray] | None:
        """Gyroscope samples the accelerometer covers, with it interpolated onto their times (on a device without a
        gyroscope: the accelerometer's samples on their own times)."""
        acc, gyr = self._split["acc"], self._split["gyr"]
        if not self.profile.has_gyro:  # accelerometer only: its own times, no merging
            if not acc:
                return None
            self._split["acc"] = []
            t_abs, seq, host, values = (np.concatenate([a[k] for a in acc]) for k in range(4))
            if self._time0 is None:
                self._time0 = float(t_abs[0])
            return ImuSamples(t_abs - self._time0, np.zeros_like(values), values), seq.astype(np.int64), host
        if not acc or not gyr:
            return None
        ta, va = (np.concatenate([a[k] for a in acc]) for k in range(2))
        tg, seq, host, vg = (np.concatenate([g[k] for g in gyr]) for k in range(4))
        ready = tg <= ta[-1]
        later = ~ready
        self._split["gyr"] = [(tg[later], seq[later], host[later], vg[later])] if later.any() else []
        if not ready.any():
            return None
        tg, seq, host, vg = tg[ready], seq[ready], host[ready], vg[ready]
        acc_on_gyr, ok = interpolate_onto(tg, ta, va)
        keep_from = max(0, int(np.searchsorted(ta, tg[-1], side="right")) - 1)
        self._split["acc"] = [(ta[keep_from:], va[keep_from:])]
        started = self._time0 is not None
        if not started:
            ok &= np.cumsum(ok) > 0  # before the first paired sample: the streams simply start at different times
        else:
            self.lost_samples += int((~ok).sum())
        if not ok.any():
            return None
        if self._time0 is None:
            self._time0 = float(tg[ok][0])
        samples = ImuSamples(tg[ok] - self._time0, vg[ok], acc_on_gyr[ok])
        return samples, seq[ok].astype(np.int64), host[ok]

    @property
    def awaiting_continuation(self) -> bool:
        """A message's first part arrived and its continuation has not (yet)."""
        return self._part is not None

    def reconnected(self) -> None:
        """The link came back: an arrival-timed device's samples are counted afresh (the first packet after the gap
        dates it); devices with a counter or a clock say themselves what the gap held."""
        if self.arrival is not None:
            self.arrival.new_segment()

    def take(self, final: bool = False) -> tuple[ImuSamples, np.ndarray, np.ndarray] | None:
        """Everything decoded since the last call: (samples, seq, host_t_s), or None. Times always increase: a
        device clock that goes back is re-anchored after the last sample (:meth:`feed`). An arrival-timed device's
        samples wait until its rate is measured, unless ``final``."""
        if self._ends:
            return self._take_split()
        if self.arrival is not None:
            return self._take_arrival(final)
        if not self._pending:
            return None
        pending, self._pending = self._pending, []
        return _assemble([p[3] for p in pending], [p[0] for p in pending], [p[1] for p in pending],
                         [p[2] for p in pending])

    def _take_arrival(self, final: bool) -> tuple[ImuSamples, np.ndarray, np.ndarray] | None:
        """An arrival-timed device's waiting samples, each connection's on its own envelope line."""
        if not self._unclocked or not (final or self.arrival.settled):
            return None
        ready = len(self._unclocked)
        if not final and not self.arrival.dated(self._unclocked[-1][0]):  # a connection just back: wait for a few
            ready = next(i for i, p in enumerate(self._unclocked) if p[0] == self._unclocked[-1][0])  # more packets
        if ready == 0:
            return None
        pending, self._unclocked = self._unclocked[:ready], self._unclocked[ready:]
        times, seqs = [], []
        for segment, first, _host, packet in pending:
            alpha, step = self.arrival.line(segment)
            t_s = alpha + step * (first + np.arange(len(packet)))
            if self._origin is None:
                self._origin = float(t_s[0])
            t_s -= self._origin
            seq0 = self._next_seq if self._next_seq is not None else 0.0
            if segment != self._segment and self._last_t is not None:  # the first packet after a gap dates it
                missing = max(0, int(round((t_s[0] - self._last_t) / step)) - 1)
                self.lost_samples += missing
                seq0 += missing
            self._segment = segment
            if self._last_t is not None:  # the envelope moved back: close in on it at half steps (times increase)
                t_s = np.maximum(t_s, self._last_t + 0.5 * step * (1 + np.arange(len(t_s))))
            self._last_t = float(t_s[-1])
            self._next_seq = seq0 + len(packet)
            times.append(t_s)
            seqs.append(seq0 + np.arange(len(packet)))
        return _assemble([p[3] for p in pending], times, seqs, [np.full(len(p[3]), p[2]) for p in pending])


def _assemble(packets: list[DecodedPacket], times: list, seqs: list, hosts: list
              ) -> tuple[ImuSamples, np.ndarray, np.ndarray]:
    """Whole-sample packets and their per-sample times (s), sequence numbers and host times (s), joined."""
    acc = np.concatenate([p.acc_m_s2 for p in packets])
    gyr = np.concatenate([p.gyr_rad_s if p.gyr_rad_s is not None else np.zeros_like(p.acc_m_s2) for p in packets])
    mags = [p.mag_uT for p in packets]
    mag = np.concatenate(mags) if all(m is not None for m in mags) else None
    return (ImuSamples(np.concatenate(times), gyr, acc, mag), np.concatenate(seqs).astype(np.int64),
            np.concatenate(hosts))
