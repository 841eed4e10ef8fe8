"""Live BLE sensors with bleak: scan, connect, subscribe, record, reconnect.

The transport is bleak's, chosen by its ``backend`` parameters: bleak's own platform backend in normal use, and a
bumble-based virtual controller in the tests (``tests/virtual_ble.py``), so the same code path runs in both.

Notifications go into an ``asyncio.Queue`` straight from bleak's callback (nothing is decoded there); a consumer
decodes them with the device profile (:class:`~imutrack.sources.profiles.PacketStream`) and appends them to the
recording, which flushes to disk every second. On a link drop the recorder writes a ``gap`` event and reconnects
with exponential backoff, continuing the same recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError

from imutrack.errors import ImutrackError
from imutrack.recording import RecordingMeta, RecordingWriter, local_now_iso
from imutrack.samples import ImuSamples
from imutrack.sources.profiles import PROFILES, DeviceProfile, PacketStream, identify


class BleError(ImutrackError):
    """Bluetooth is missing or off, a device is not found, or it is not the expected kind of sensor."""


@dataclass(frozen=True)
class FoundDevice:
    """A device seen in a scan."""

    name: str
    address: str
    rssi: int | None
    profile: DeviceProfile | None


def require_gyroscope(target: str, profile: DeviceProfile) -> None:
    """Refuse an accelerometer-only sensor where the twist is needed, saying what it can still do."""
    if not profile.has_gyro:
        raise BleError(
            f"{target} is a {profile.title}: without a gyroscope the twist cannot be measured; it can still record "
            "posture (slouch, lean) and breathing with 'imutrack record'"
        )


@contextlib.contextmanager
def bluetooth_errors(what: str):
    """Turn the platform's Bluetooth failures into one actionable line."""
    try:
        yield
    except BleakBluetoothNotAvailableError as exc:
        raise BleError(f"{what}: Bluetooth is not available ({exc}); switch it on and try again") from None
    except BleakDeviceNotFoundError as exc:
        raise BleError(f"{what}: device {exc.identifier} not found; is it on, charged and in range?") from None
    except (FileNotFoundError, ConnectionRefusedError):
        raise BleError(
            f"{what}: no Bluetooth adapter or BlueZ found (on Linux: is bluetoothd running and the adapter powered?)"
        ) from None
    except BleakError as exc:
        raise BleError(f"{what}: {exc}") from None
    except TimeoutError:
        raise BleError(f"{what}: timed out") from None


async def scan(timeout_s: float = 5.0, scanner_backend=None) -> list[FoundDevice]:
    """Nearby BLE devices, recognised sensors first, strongest signal first."""
    with bluetooth_errors("scan"):
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, backend=scanner_backend)
    devices = [
        FoundDevice(adv.local_name or device.name or "", device.address, adv.rssi,
                    identify(adv.local_name or device.name, adv.service_uuids))
        for device, adv in found.values()
    ]
    return sorted(devices, key=lambda d: (d.profile is None, -(d.rssi if d.rssi is not None else -999)))


@dataclass
class RecorderStatus:
    """What the status line shows. Rates are over the last second."""

    state: str = "searching"
    samples: int = 0
    rate_hz: float = 0.0
    dropped_packets: int = 0
    lost_samples: int = 0
    reconnects: int = 0
    battery_pct: int | None = None
    path: Path | None = None
    warning: str | None = None  # e.g. the sensor streams at another rate than it was set to


@dataclass
class BleRecorder:
    """Record one sensor into an imutrack recording.

    Attributes:
        target: device address, name, or the start of its name (any case; at least 3 characters). Once found, the
            recorder sticks to that device's address (a reconnection never picks another one).
        out: recording path (created; never overwritten).
        profile: device profile; None to recognise it from the scan.
        duration_s: stop after this much data; None to run until stopped.
        assisted, notes: recorded in the metadata.
        client_backend, scanner_backend: bleak backends (None: the platform's).
        on_status: called about once a second with a :class:`RecorderStatus`.
        on_batch: called with every batch of samples as it is written (for a live view).
        max_reconnect_s: give up when the device stays away this long.
        require_gyro: refuse a sensor without a gyroscope (the guided session measures the twist).
        time_origin_s: a host time (``time.monotonic()``) that ``t_s`` and ``host_t_s`` count from, shared by the
            recorders of sensors worn together; None: ``t_s`` counts from this sensor's first sample. The host time
            of the first sample is taken as the least delayed arrival of the first batch less its sample's time.
        extra: further header keys (a two-sensor session's ``session_id`` and ``sensor_role``).
        connect_lock: shared by recorders on one adapter: controllers (and BlueZ) take one connection attempt at a
            time ("connection already pending", "Operation already in progress").
        await_origin: write nothing until ``time_origin_s`` is given (by another thread: the clock of a sensor worn
            with this one is still being measured); at the end, without one, ``t_s`` counts from the first sample.
    """

    target: str
    out: Path
    profile: DeviceProfile | None = None
    duration_s: float | None = None
    assisted: str = "unknown"
    notes: str = ""
    client_backend: type | None = None
    scanner_backend: type | None = None
    on_status: Callable[[RecorderStatus], None] | None = None
    connect_timeout_s: float = 10.0
    max_reconnect_s: float = 60.0
    on_batch: Callable[[ImuSamples], None] | None = None
    require_gyro: bool = False
    time_origin_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    connect_lock: asyncio.Lock | None = None
    await_origin: bool = False
    status: RecorderStatus = field(default_factory=RecorderStatus)
    meta: RecordingMeta | None = None  # the recording's header, once the first samples are written
    _address: str | None = None
    _name: str = ""
    _shift_s: float = 0.0  # added to the stream's times to put them on ``time_origin_s``
    _host_shift_s: float = 0.0  # and to its host times

    async def run(self, stop: asyncio.Event | None = None) -> RecorderStatus:
        """Record until ``duration_s`` of data, ``stop`` is set, or the device stays away too long.
        Everything received is in the file when this returns or raises."""
        stop = stop or asyncio.Event()
        if self.require_gyro and self.profile is not None:
            require_gyroscope(self.target, self.profile)
        device, profile = await self._find()
        if self.require_gyro:
            require_gyroscope(self.target, profile)
        queue: asyncio.Queue = asyncio.Queue()
        stream = PacketStream(profile)
        writer: RecordingWriter | None = None
        gap_started: float | None = None
        try:
            while not stop.is_set():
                lost = asyncio.Event()
                client = await self._connect(device, profile, queue, lost, stream)
                if gap_started is not None:  # back: the gap is dated from now, when data can flow again
                    stream.reconnected()
                    if writer is not None:
                        writer.add_event(writer.last_t_s, "gap",
                                         f"link lost; back after {time.monotonic() - gap_started:.1f} s")
                    self.status.reconnects += 1
                    gap_started = None
                try:
                    self.status.state = "recording"
                    writer = await self._pump(profile, stream, queue, writer, lost, stop)
                finally:
                    with contextlib.suppress(BleakError, OSError, asyncio.TimeoutError):
                        await client.disconnect()
                if stop.is_set() or not lost.is_set():
                    break
                writer = self._write(stream, writer, profile, final=True)  # all before the gap, timed
                gap_started = time.monotonic()
                self.status.state = "reconnecting"
                self._report()
                device = await self._reconnect_wait(device, gap_started, stop)
            if gap_started is not None and writer is not None:
                writer.add_event(writer.last_t_s, "gap", "link lost; not back before the recording stopped")
        finally:
            writer = self._write(stream, writer, profile, final=True)
            if writer is not None:
                writer.close()
            self.status.state = "stopped"
            self._report()
        return self.status

    def _is_target(self, address: str, names: tuple[str | None, ...]) -> bool:
        if self._address is not None:
            return address == self._address
        target = self.target.casefold()
        names = tuple(n.casefold() for n in names if n)
        if target == address.casefold() or target in names:
            return True
        return len(target) >= 3 and any(n.startswith(target) for n in names)

    async def _find(self):
        with bluetooth_errors(f"looking for {self.target}"):
            return await self._find_with_adv()

    async def _find_with_adv(self):
        """Scan until the target shows up (or the timeout passes); returns (device, profile)."""
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_advertisement(device, adv) -> None:
            if not seen.done() and self._is_target(device.address, (device.name, adv.local_name)):
                seen.set_result((device, adv))

        async with BleakScanner(on_advertisement, backend=self.scanner_backend):
            try:
                device, adv = await asyncio.wait_for(seen, self.connect_timeout_s)
            except asyncio.TimeoutError:
                raise BleError(f"device {self.target} not found; is it on, charged and in range?") from None
        self._address = device.address
        self._name = adv.local_name or device.name or ""
        profile = self.profile or identify(adv.local_name or device.name, adv.service_uuids)
        if profile is None:
            raise BleError(
                f"{self.target} is not a sensor imutrack knows; choose one with --profile ({', '.join(PROFILES)})"
            )
        return device, profile

    async def _connect(self, device, profile: DeviceProfile, queue: asyncio.Queue, lost: asyncio.Event,
                       stream: PacketStream):
        answers: asyncio.Queue = asyncio.Queue()

        def on_disconnect(_client) -> None:
            lost.set()

        def on_data(_characteristic, data: bytearray) -> None:
            queue.put_nowait((time.monotonic(), bytes(data)))

        def on_answer(_characteristic, data: bytearray) -> None:
            answers.put_nowait(bytes(data))

        client = BleakClient(device, disconnected_callback=on_disconnect, timeout=self.connect_timeout_s,
                             backend=self.client_backend)
        with bluetooth_errors(f"connecting to {self.target}"):
            async with self.connect_lock or contextlib.nullcontext():  # one connection attempt at a time
                await client.connect()
            if client.services.get_service(profile.service_uuid) is None:
                await client.disconnect()
                raise BleError(
                    f"{self.target} has no {profile.title} service ({profile.service_uuid}): wrong --profile?"
                )
            if profile.battery_uuid and client.services.get_characteristic(profile.battery_uuid) is not None:
                with contextlib.suppress(BleakError):
                    self.status.battery_pct = int((await client.read_gatt_char(profile.battery_uuid))[0])
            if profile.control_uuid:
                await client.start_notify(profile.control_uuid, on_answer)
            if not profile.subscribe_after_writes:
                await client.start_notify(profile.data_uuid, on_data)
            for uuid, command in profile.start_writes:
                await client.write_gatt_char(uuid, command, response=True)
                if profile.control_uuid:
                    await self._take_answer(client, answers, stream)
            if profile.subscribe_after_writes:
                await client.start_notify(profile.data_uuid, on_data)
        return client

    async def _take_answer(self, client, answers: asyncio.Queue, stream: PacketStream) -> None:
        """The device's answer to a start command: its settings go to the decoder; a refusal is reported."""
        try:
            answer = await asyncio.wait_for(answers.get(), self.connect_timeout_s)
            stream.control(answer)
        except (asyncio.TimeoutError, ImutrackError) as exc:
            with contextlib.suppress(BleakError, OSError, asyncio.TimeoutError):
                await client.disconnect()
            reason = "it did not answer the start command" if isinstance(exc, asyncio.TimeoutError) else str(exc)
            raise BleError(f"{self.target}: {reason}") from None

    async def _pump(self, profile, stream: PacketStream, queue: asyncio.Queue, writer, lost: asyncio.Event,
                    stop: asyncio.Event):
        last_status = time.monotonic()
        samples_at_last_status = self.status.samples
        while not stop.is_set():
            try:
                host_time, payload = await asyncio.wait_for(queue.get(), timeout=0.2)
                stream.feed(payload, host_time)
                while not queue.empty():
                    host_time, payload = queue.get_nowait()
                    stream.feed(payload, host_time)
            except asyncio.TimeoutError:
                if lost.is_set():
                    break
            writer = self._write(stream, writer, profile)
            now = time.monotonic()
            if now - last_status >= 1.0:
                self.status.rate_hz = (self.status.samples - samples_at_last_status) / (now - last_status)
                last_status, samples_at_last_status = now, self.status.samples
                self._report()
            if writer is not None and self.duration_s is not None and writer.last_t_s >= self.duration_s:
                stop.set()
            if lost.is_set() and queue.empty():
                break
        return writer

    def _write(self, stream: PacketStream, writer, profile: DeviceProfile, final: bool = False):
        if self.await_origin and self.time_origin_s is None:
            if not final:
                return writer  # the samples wait in the stream
            self.time_origin_s = stream.host0_s
        taken = stream.take(final)
        self.status.dropped_packets, self.status.lost_samples = stream.dropped_packets, stream.lost_samples
        if taken is None:
            return writer
        samples, seq, host = taken
        if writer is None and self.time_origin_s is not None:
            host0 = stream.host0_s or 0.0
            self._host_shift_s = host0 - self.time_origin_s
            self._shift_s = float(np.min(host - samples.t_s)) + self._host_shift_s
        if self._shift_s or self._host_shift_s:
            samples = ImuSamples(samples.t_s + self._shift_s, samples.gyr_rad_s, samples.acc_m_s2, samples.mag_uT)
            host = host + self._host_shift_s
        if writer is None:
            measured = stream.measured_rate_hz
            meta = RecordingMeta(
                device=f"{self._name or self.target} ({self._address})" if self._address else self.target,
                profile=profile.name,
                sensor_frame=profile.sensor_frame,
                chest_normal_axis=profile.chest_normal_axis,
                sample_rate_hz=round(measured, 2) if measured else profile.rate_hz,
                start_time=local_now_iso(),
                assisted=self.assisted,
                notes=self.notes,
                extra=({} if profile.has_gyro else {"has_gyro": "false"}) | self.extra,
            )
            writer = RecordingWriter(self.out, meta, has_mag=samples.has_mag, has_host_time=True)
            self.meta = meta
            self.status.path = self.out
            self.status.warning = stream.rate_warning
            if self.status.warning:
                writer.add_event(0.0, "rate", self.status.warning)
        writer.append(samples, seq=seq, host_t_s=host)
        self.status.samples += len(samples)
        if self.on_batch is not None:
            self.on_batch(samples)
        return writer

    async def _reconnect_wait(self, device, gap_started: float, stop: asyncio.Event):
        delay = 0.5
        while not stop.is_set():
            if time.monotonic() - gap_started > self.max_reconnect_s:
                raise BleError(f"{self.target} stayed away for {self.max_reconnect_s:g} s; recording kept")
            with contextlib.suppress(BleError):
                found, _ = await self._find()
                return found
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 8.0)
        return device

    def _report(self) -> None:
        if self.on_status is not None:
            self.on_status(self.status)


def describe(status: RecorderStatus) -> str:
    """A recorder's status as one line."""
    battery = "" if status.battery_pct is None else f", battery {status.battery_pct} %"
    warning = f"; {status.warning}" if status.warning else ""
    return (f"{status.state}: {status.samples:,} samples, {status.rate_hz:.0f} Hz, {status.dropped_packets} bad "
            f"packets, {status.lost_samples} lost samples, {status.reconnects} reconnects{battery}{warning}")


class BleSource:
    """A BLE sensor as a live :class:`~imutrack.sources.Source`. The :class:`BleRecorder` runs on its own thread and
    event loop and writes the recording itself (sequence numbers, host times, gap events); its batches reach the
    consumer through a queue, and batches of None carry the host's clock (shifted onto the sensor's) between them.

    ``backends`` is a factory of an async context manager yielding (client, scanner) bleak backend classes, entered on
    the recorder's own event loop (the tests' virtual sensors); None uses the platform's Bluetooth.

    ``pelvis``: a second recorder for a sensor on the pelvis, run at once on the same loop (each connects and
    reconnects on its own) and put on the same time base (``BleRecorder.time_origin_s``); its batches are not
    passed on. If either fails, both stop (what each received is kept) and the failure is raised.
    """

    writes_recording = True

    def __init__(self, recorder: BleRecorder, backends=None, pelvis: BleRecorder | None = None):
        import queue

        self.recorder = recorder
        self.pelvis = pelvis
        self._pelvis_queue: queue.Queue = queue.Queue()
        if pelvis is not None:
            pelvis.on_batch = self._pelvis_queue.put
        self.backends = backends
        self._queue: queue.Queue = queue.Queue()
        self._failure: list[BaseException] = []
        self._stop: Callable[[], None] | None = None
        self._thread = None
        self._closing = False
        recorder.on_batch = self._queue.put
        profile = recorder.profile
        self._provisional = RecordingMeta(device=recorder.target,
                                          profile=profile.name if profile else "",
                                          chest_normal_axis=profile.chest_normal_axis if profile else "+z",
                                          assisted=recorder.assisted, notes=recorder.notes)

    @property
    def meta(self) -> RecordingMeta:
        return self.recorder.meta or self._provisional

    def _run(self) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def request_stop() -> None:
                with contextlib.suppress(RuntimeError):  # the loop has already ended (the recorder stopped itself)
                    loop.call_soon_threadsafe(stop.set)

            self._stop = request_stop
            if self._closing:  # closed before the loop ran
                stop.set()
            recorders = [self.recorder] if self.pelvis is None else [self.recorder, self.pelvis]
            if self.pelvis is not None:
                self.recorder.time_origin_s = self.pelvis.time_origin_s = time.monotonic()
                self.recorder.connect_lock = self.pelvis.connect_lock = asyncio.Lock()

            async def one(recorder: BleRecorder) -> None:
                try:
                    await recorder.run(stop)
                except BaseException:
                    stop.set()  # the other stops too, keeping what it received
                    raise

            async def all_of_them() -> None:
                done = await asyncio.gather(*(one(r) for r in recorders), return_exceptions=True)
                failed = [r for r in done if isinstance(r, BaseException)]
                if failed:
                    raise failed[0]

            if self.backends is None:
                await all_of_them()
                return
            async with self.backends() as (client_backend, scanner_backend):
                for recorder in recorders:
                    recorder.client_backend, recorder.scanner_backend = client_backend, scanner_backend
                await all_of_them()

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer's thread)
            self._failure.append(exc)

    def batches(self):
        import queue
        import threading

        self._thread = threading.Thread(target=self._run, name="imutrack-ble", daemon=True)
        self._thread.start()
        started, offset = time.monotonic(), None
        while self._thread.is_alive() or not self._queue.empty():
            try:
                batch = self._queue.get(timeout=0.1)
            except queue.Empty:
                yield None, time.monotonic() - started - (offset or 0.0)
                continue
            offset = time.monotonic() - started - float(batch.t_s[-1]) if offset is None else offset
            yield batch, float(batch.t_s[-1])
        if self._failure:
            raise self._failure.pop()

    def pelvis_batches(self) -> list[ImuSamples]:
        """The pelvis sensor's batches received since the last call (none without one)."""
        import queue

        taken = []
        while True:
            try:
                taken.append(self._pelvis_queue.get_nowait())
            except queue.Empty:
                return taken

    def status(self) -> str:
        if self.pelvis is None:
            return describe(self.recorder.status)
        return f"chest {describe(self.recorder.status)}; pelvis {describe(self.pelvis.status)}"

    def close(self) -> None:
        self._closing = True
        if self._stop is not None:
            self._stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._failure and not isinstance(self._failure[0], ImutrackError):
            raise self._failure.pop()
