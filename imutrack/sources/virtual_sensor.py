"""A virtual chest sensor: a bumble peripheral that streams samples (e.g. from the simulator) over a device profile.

Serves the DIY profile (``firmware_notes/``), WitMotion and Thingy:52 the way those devices do, so the whole BLE path
— scan, connect, discover, subscribe, notifications, link loss, reconnection — can run without hardware, in tests
(on bumble's in-memory link) and from ``imutrack sim-sensor`` (on any bumble transport). Requires ``bumble``.
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
from imutrack.samples import ImuSamples
from imutrack.sources.profiles import diy, thingy52, witmotion

BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9a34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9a34fb"
SERVED_PROFILES = ("diy", "witmotion", "thingy52")


def _uuid(text: str) -> BumbleUUID:
    return BumbleUUID(text.upper())


class VirtualSensor:
    """Streams ``samples`` as notifications of ``profile`` from the bumble ``device``.

    Attributes:
        speed: playback speed (1 = real time; ``float("inf")``: as fast as the link takes them).
        samples_per_packet: most DIY samples per notification (1..20, and as many as the link's MTU allows; the
            other profiles send one sample per notification).
        sent: indices ``[start, end)`` of the samples sent in each notification, in order.
        battery_pct: what the battery characteristic reads.
    """

    def __init__(self, device: Device, samples: ImuSamples, profile: str = "diy", name: str | None = None,
                 speed: float = 1.0, samples_per_packet: int = 10, battery_pct: int = 87):
        if profile not in SERVED_PROFILES:
            raise ImutrackError(f"the virtual sensor serves {', '.join(SERVED_PROFILES)}, not {profile!r}")
        self.device, self.samples, self.profile = device, samples, profile
        self.speed = speed
        self.samples_per_packet = samples_per_packet if profile == "diy" else 1
        self.battery_pct = battery_pct
        self.name = name or {"diy": "imutrack", "witmotion": "WT901BLE", "thingy52": "Thingy"}[profile]
        self.index = 0
        self.sent: list[tuple[int, int]] = []
        self.finished = asyncio.Event()
        self._streaming = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._resync = False
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
        elif self.profile == "witmotion":
            data = Characteristic(_uuid(witmotion.NOTIFY_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(witmotion.WRITE_UUID), write, Characteristic.WRITEABLE,
                                     CharacteristicValue(write=start))
            service = Service(_uuid(witmotion.SERVICE_UUID), [data, control])
        else:
            data = Characteristic(_uuid(thingy52.RAW_UUID), notify, Characteristic.READABLE, b"")
            control = Characteristic(_uuid(thingy52.CONFIG_UUID), write | Characteristic.Properties.READ,
                                     Characteristic.READABLE | Characteristic.WRITEABLE,
                                     CharacteristicValue(read=lambda _c: thingy52.CONFIG_100_HZ, write=start))
            service = Service(_uuid(thingy52.SERVICE_UUID), [data, control])
        battery = Service(_uuid(BATTERY_SERVICE), [
            Characteristic(_uuid(BATTERY_LEVEL), Characteristic.Properties.READ, Characteristic.READABLE,
                           CharacteristicValue(read=lambda _c: bytes([self.battery_pct])))
        ])
        self.device.add_services([service, battery])
        return data

    def advertising_data(self) -> bytes:
        service = {"diy": diy.SERVICE_UUID, "witmotion": witmotion.SERVICE_UUID,
                   "thingy52": "ef680100-9b35-4933-9b10-52ffa9740042"}[self.profile]
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()

    async def drop_link(self, skip_samples: int = 0) -> None:
        """Cut every connection (as when the sensor goes out of range) between two notifications;
        ``skip_samples`` pass unsent meanwhile (the sensor's counter and clock run on)."""
        async with self._sending:
            self._streaming.clear()
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            self.index = min(len(self.samples), self.index + skip_samples)
            self._resync = True

    def packet(self, start: int, end: int) -> bytes:
        s = self.samples
        if self.profile == "diy":
            return diy.encode(s.gyr_rad_s[start:end], s.acc_m_s2[start:end], start,
                              int(round(s.t_s[start] * 1e6)), rate_hz=int(round(s.rate_hz)))
        if self.profile == "witmotion":
            return witmotion.encode(s.gyr_rad_s[start:end], s.acc_m_s2[start:end])
        mag = s.mag_uT[start] if s.mag_uT is not None else np.zeros(3)
        return thingy52.encode(s.gyr_rad_s[start], s.acc_m_s2[start], mag)

    async def _stream(self) -> None:
        try:
            await self._send_all()
        finally:
            self.finished.set()

    async def _send_all(self) -> None:
        loop = asyncio.get_running_loop()
        n = len(self.samples)
        clock0, sample0 = None, 0
        while self.index < n:
            await self._streaming.wait()
            if not self.device.connections:
                self._streaming.clear()
                continue
            if clock0 is None or self._resync:
                clock0, sample0, self._resync = loop.time(), self.index, False
            if np.isfinite(self.speed):
                due = clock0 + (self.samples.t_s[self.index] - self.samples.t_s[sample0]) / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            async with self._sending:
                if not self._streaming.is_set() or not self.device.connections:
                    continue
                mtu = min(c.att_mtu for c in self.device.connections.values())
                per_packet = max(1, min(self.samples_per_packet, (mtu - 3 - diy.HEADER.size) // 12))
                start, end = self.index, min(n, self.index + (per_packet if self.profile == "diy" else 1))
                await self.device.notify_subscribers(self._data, self.packet(start, end))
                self.sent.append((start, end))
                self.index = end
            await asyncio.sleep(0)
