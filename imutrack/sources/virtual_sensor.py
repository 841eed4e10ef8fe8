"""A virtual chest sensor: a bumble peripheral that streams samples (e.g. from the simulator) over a device profile.

Serves the DIY profile (``firmware_notes/``), WitMotion, Thingy:52 and Polar Verity Sense the way those devices do,
so the whole BLE path — scan, connect, discover, subscribe, start commands and their answers, notifications, link
loss, reconnection — can run without hardware, in tests (on bumble's in-memory link) and from ``imutrack sim-sensor``
(on any bumble transport). Requires ``bumble``.

WitMotion and Thingy:52 are served as those devices stream: from the moment notifications are turned on, at the rate
they were left at (both 10 Hz out of the box), sending every n-th of the given samples to keep to it; the rate
changes on the commands the devices take (WitMotion: only after its unlock command). The sensor's real timing is in
the samples' ``t_s``, so a client that timed them by the rate it asked for would be caught out.

The Verity Sense is served as its PMD service works: a start command on the control point is answered by an
indication (with the gyroscope's scale factor, here 0.07 °/s per count — the ±2000 °/s sensitivity of ST's LSM6
family); then every ``samples_per_packet`` samples (fewer if the link's MTU is small) it notifies one
delta-compressed ACC frame (mG) and one GYRO frame, each stamped in ns at its last sample.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
from bumble.core import AdvertisingData
from bumble.core import UUID as BumbleUUID
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from imutrack.errors import ImutrackError
from imutrack.frames import GRAVITY_M_S2
from imutrack.samples import ImuSamples
from imutrack.sources.profiles import diy, polar, thingy52, witmotion

BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9a34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9a34fb"
SERVED_PROFILES = ("diy", "witmotion", "thingy52", "polar-sense")
NAMES = {"diy": "imutrack", "witmotion": "WT901BLE", "thingy52": "Thingy", "polar-sense": "Polar Sense 0A1B2C3D"}
POLAR_GYRO_FACTOR_DPS = 0.07
POLAR_EPOCH_NS = 8 * 10**17  # a device clock some 25 years after Polar's 2000-01-01 epoch


def _uuid(text: str) -> BumbleUUID:
    return BumbleUUID(text.upper())


class VirtualSensor:
    """Streams ``samples`` as notifications of ``profile`` from the bumble ``device``.

    Attributes:
        speed: playback speed (1 = real time; ``float("inf")``: as fast as the link takes them).
        samples_per_packet: most DIY or Polar samples per notification (DIY: 1..20; both: as many as the link's MTU
            allows); WitMotion and Thingy send one sample per notification.
        sent: indices ``[start, end)`` of the samples sent in each notification, in order.
        battery_pct: what the battery characteristic reads.
        pmd_status: the status a Polar sensor answers start commands with (0: success; others to try a client's
            handling of a refusal, e.g. 13: in its charger).
        rate_hz: the rate a WitMotion or Thingy streams at now (None: every sample given, for the other profiles).
        takes_settings: False for a WitMotion or Thingy that ignores rate commands (firmware that differs).
        epoch: the event loop's time at which the first sample is due (with a finite speed): sensors given the same
            epoch take their samples on one schedule, as two sensors worn together do, whenever each is connected.
    """

    def __init__(self, device: Device, samples: ImuSamples, profile: str = "diy", name: str | None = None,
                 speed: float = 1.0, samples_per_packet: int = 10, battery_pct: int = 87, pmd_status: int = 0,
                 takes_settings: bool = True, epoch: float | None = None):
        if profile not in SERVED_PROFILES:
            raise ImutrackError(f"the virtual sensor serves {', '.join(SERVED_PROFILES)}, not {profile!r}")
        self.device, self.samples, self.profile = device, samples, profile
        self.speed = speed
        self.samples_per_packet = samples_per_packet if profile in ("diy", "polar-sense") else 1
        self.battery_pct = battery_pct
        self.name = name or NAMES[profile]
        self.pmd_status = pmd_status
        self.takes_settings = takes_settings
        self.epoch = epoch
        self.rate_hz = {"witmotion": witmotion.DEFAULT_RATE_HZ, "thingy52": thingy52.DEFAULT_RATE_HZ}.get(profile)
        self._unlocked = False
        self.polar_started: set[int] = set()
        self._answers: set[asyncio.Task] = set()
        self.index = 0
        self.sent: list[tuple[int, int]] = []
        self.finished = asyncio.Event()
        self._streaming = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._resume: str | None = None  # after a drop: "resync" the schedule, or let time "run on"
        self._sending = asyncio.Lock()
        self._data = self._build_services()

    def _build_services(self) -> Characteristic:
        def start(_connection, _value) -> None:
            self._streaming.set()

        notify = Characteristic.Properties.NOTIFY
        write = Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE
        if self.profile == "diy":
            data = Characteristic(_uuid(diy.DATA_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(diy.CONTROL_UUID), write, Characteristic.WRITEABLE,
                                     CharacteristicValue(write=start))
            service = Service(_uuid(diy.SERVICE_UUID), [data, control])
        elif self.profile == "polar-sense":
            data = Characteristic(_uuid(polar.DATA_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(polar.CONTROL_UUID), write | Characteristic.Properties.INDICATE,
                                     Characteristic.WRITEABLE, CharacteristicValue(write=self._polar_command))
            self._control = control
            service = Service(_uuid(polar.SERVICE_UUID), [control, data])
        elif self.profile == "witmotion":
            data = Characteristic(_uuid(witmotion.NOTIFY_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(witmotion.WRITE_UUID), write, Characteristic.WRITEABLE,
                                     CharacteristicValue(write=self._witmotion_command))
            service = Service(_uuid(witmotion.SERVICE_UUID), [data, control])
        else:
            data = Characteristic(_uuid(thingy52.RAW_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(thingy52.CONFIG_UUID), write | Characteristic.Properties.READ,
                                     Characteristic.READABLE | Characteristic.WRITEABLE,
                                     CharacteristicValue(read=lambda _c: thingy52.CONFIG_100_HZ,
                                                         write=self._thingy_config))
            service = Service(_uuid(thingy52.SERVICE_UUID), [data, control])
        if self.profile in ("witmotion", "thingy52"):  # these stream as soon as they are subscribed
            data.on("subscription", self._subscribed)
        battery = Service(_uuid(BATTERY_SERVICE), [
            Characteristic(_uuid(BATTERY_LEVEL), Characteristic.Properties.READ, Characteristic.READABLE,
                           CharacteristicValue(read=lambda _c: bytes([self.battery_pct])))
        ])
        self.device.add_services([service, battery])
        return data

    def _subscribed(self, _bearer, notify_enabled: bool, _indicate_enabled: bool) -> None:
        if notify_enabled:
            self._streaming.set()
        else:
            self._streaming.clear()

    def _witmotion_command(self, _connection, value: bytes) -> None:
        """A WitMotion write: the unlock, then a setting (the rate is the one served), then save."""
        value = bytes(value)
        if value == witmotion.UNLOCK:
            self._unlocked = True
        elif len(value) == 5 and value[:3] == bytes([0xFF, 0xAA, 0x03]) and self._unlocked and self.takes_settings:
            self.rate_hz = witmotion.RATE_CODES_HZ.get(value[3], self.rate_hz)

    def _thingy_config(self, _connection, value: bytes) -> None:
        rate_hz = thingy52.configured_rate_hz(bytes(value))
        if rate_hz and self.takes_settings:
            self.rate_hz = rate_hz

    def _stride(self) -> int:
        """Every how many given samples one is sent, to stream at ``rate_hz``."""
        if self.rate_hz is None:
            return 1
        return max(1, int(round(self.samples.rate_hz / self.rate_hz)))

    def _polar_command(self, _connection, value: bytes) -> None:
        """A PMD control-point write: start the measurement and answer (by indication, once the write is done)."""
        value = bytes(value)
        if len(value) < 2 or value[0] != polar.START:
            return
        measurement = value[1]
        status = self.pmd_status if measurement in (polar.ACC, polar.GYRO) else 2  # 2: invalid measurement type
        answer = bytes([polar.RESPONSE, polar.START, measurement, status, 0])
        if status == 0:
            self.polar_started.add(measurement)
            if measurement == polar.GYRO:
                answer += bytes([polar.FACTOR, 1]) + np.float32(POLAR_GYRO_FACTOR_DPS).tobytes()

        async def indicate() -> None:
            await asyncio.sleep(0)
            await self.device.indicate_subscribers(self._control, answer)
            if {polar.ACC, polar.GYRO} <= self.polar_started:
                self._streaming.set()

        task = asyncio.get_running_loop().create_task(indicate())
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    def advertising_data(self) -> bytes:
        service = {"diy": diy.SERVICE_UUID, "witmotion": witmotion.SERVICE_UUID,
                   "thingy52": "ef680100-9b35-4933-9b10-52ffa9740042",
                   "polar-sense": polar.HEART_RATE_SERVICE_UUID}[self.profile]
        uuid = _uuid(service)
        kind = (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS if service.endswith(
            "-0000-1000-8000-00805f9a34fb") else AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS)
        raw = uuid.to_bytes() if kind != AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS else bytes(
            reversed(bytes.fromhex(service[4:8])))
        return bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (kind, raw),
        ]))

    async def start(self) -> None:
        """Power on, advertise, and stream once a central asks for data."""
        await self.device.power_on()
        await self.device.start_advertising(advertising_data=self.advertising_data(), auto_restart=True,
                                            advertising_interval_min=20.0)
        self._task = asyncio.create_task(self._stream())

    async def stop(self) -> None:
        for task in list(self._answers):
            task.cancel()
        await asyncio.gather(*self._answers, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()

    async def drop_link(self, skip_samples: int = 0, time_runs_on: bool = False) -> None:
        """Cut every connection (as when the sensor goes out of range) between two notifications;
        ``skip_samples`` pass unsent meanwhile (the sensor's counter and clock run on). With ``time_runs_on`` (and a
        finite speed) the samples keep their schedule instead: those due while the link is down are never sent, as
        on a real sensor, so the gap lasts as long as the reconnection takes."""
        async with self._sending:
            self._streaming.clear()
            self.polar_started.clear()  # a Polar sensor stops its streams when the link goes
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            self.index = min(len(self.samples), self.index + skip_samples)
            self._resume = "run on" if time_runs_on else "resync"

    def packets(self, start: int, end: int) -> list[bytes]:
        """The notifications that carry samples ``[start, end)``."""
        if self.profile != "polar-sense":
            return [self.packet(start, end)]
        s = self.samples
        stamp_ns = POLAR_EPOCH_NS + int(round(s.t_s[end - 1] * 1e9))
        acc_mg = np.round(s.acc_m_s2[start:end] / GRAVITY_M_S2 * 1e3)
        gyr_counts = np.round(np.degrees(s.gyr_rad_s[start:end]) / POLAR_GYRO_FACTOR_DPS)
        return [polar.encode_frame(polar.ACC, stamp_ns, 0x81, polar.encode_delta_frames(acc_mg)),
                polar.encode_frame(polar.GYRO, stamp_ns, 0x80, polar.encode_delta_frames(gyr_counts))]

    def packet(self, start: int, end: int) -> bytes:
        s = self.samples
        if self.profile == "diy":
            return diy.encode(s.gyr_rad_s[start:end], s.acc_m_s2[start:end], start,
                              int(round(s.t_s[start] * 1e6)), rate_hz=int(round(s.rate_hz)))
        if self.profile == "witmotion":
            return witmotion.encode(s.gyr_rad_s[start:end], s.acc_m_s2[start:end])
        mag = s.mag_uT[start] if s.mag_uT is not None else np.zeros(3)
        return thingy52.encode(s.gyr_rad_s[start], s.acc_m_s2[start], mag)

    def _per_packet(self, mtu: int) -> int:
        """Samples in the next notification: as many as asked for and the MTU lets through."""
        if self.profile == "diy":
            return max(1, min(self.samples_per_packet, (mtu - 3 - diy.HEADER.size) // 12))
        if self.profile == "polar-sense":
            # 10 B header, 6 B reference, 2 B block header, then 3 deltas of at most 17 bits per further sample
            return max(1, min(self.samples_per_packet, (mtu - 3 - 18) * 8 // 51 + 1))
        return 1

    async def _stream(self) -> None:
        try:
            await self._send_all()
        finally:
            self.finished.set()

    async def _send_all(self) -> None:
        loop = asyncio.get_running_loop()
        n = len(self.samples)
        clock0, sample0 = None, 0
        if self.epoch is not None:  # the samples keep a schedule shared with another sensor, from the start
            clock0, self._resume = self.epoch, "run on"
        while self.index < n:
            await self._streaming.wait()
            if not self.device.connections:
                self._streaming.clear()
                continue
            if clock0 is None or self._resume == "resync":
                clock0, sample0 = loop.time(), self.index
            elif self._resume == "run on" and np.isfinite(self.speed):  # resume with the sample due now
                due_t_s = self.samples.t_s[sample0] + (loop.time() - clock0) * self.speed
                self.index = max(self.index, min(n - 1, int(np.searchsorted(self.samples.t_s, due_t_s))))
            self._resume = None
            if np.isfinite(self.speed):  # a notification goes once its last sample has been taken
                mtu = min(c.att_mtu for c in self.device.connections.values())
                last = min(n, self.index + self._per_packet(mtu)) - 1
                due = clock0 + (self.samples.t_s[last] - self.samples.t_s[sample0]) / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            async with self._sending:
                if not self._streaming.is_set() or not self.device.connections:
                    continue
                mtu = min(c.att_mtu for c in self.device.connections.values())
                start, end = self.index, min(n, self.index + self._per_packet(mtu))
                for payload in self.packets(start, end):
                    await self.device.notify_subscribers(self._data, payload)
                self.sent.append((start, end))
                self.index = min(n, start + self._stride()) if end == start + 1 else end
            await asyncio.sleep(0)
