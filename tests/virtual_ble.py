"""A Bluetooth world in memory for the tests: a bumble virtual sensor and a bumble central on one LocalLink,
with bleak backends bound to the central, so imutrack's real bleak code runs with no hardware."""

from __future__ import annotations

import contextlib

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from imutrack.samples import ImuSamples
from imutrack.sources.bumble_bleak import BumbleCentral
from imutrack.sources.virtual_sensor import VirtualSensor


def _device(link: LocalLink, name: str, address: str) -> Device:
    controller = Controller(name, link=link, public_address=address)
    return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


@contextlib.asynccontextmanager
async def virtual_world(samples: ImuSamples, profile: str = "diy", speed: float = float("inf"), **sensor_kwargs):
    """Yields (sensor, central); tears both down so no task is left behind."""
    async with virtual_sensors([(samples, profile, sensor_kwargs)], speed) as (sensors, central):
        yield sensors[0], central


@contextlib.asynccontextmanager
async def virtual_sensors(specs: list[tuple[ImuSamples, str, dict]], speed: float = float("inf")):
    """Several virtual sensors (samples, profile, VirtualSensor keyword arguments) on one link with one central:
    yields (sensors, central)."""
    link = LocalLink()
    central_device = _device(link, "central", "F1:F1:F1:F1:F1:F1")
    await central_device.power_on()
    devices, sensors = [central_device], []
    try:
        for k, (samples, profile, kwargs) in enumerate(specs):
            device = _device(link, f"sensor{k}", f"F0:F0:F0:F0:F0:{k:02X}")
            devices.append(device)
            sensors.append(VirtualSensor(device, samples, profile, speed=speed, **kwargs))
            await sensors[-1].start()
        yield sensors, BumbleCentral(central_device)
    finally:
        for sensor in sensors:
            await sensor.stop()
        for device in devices:
            for connection in list(device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            with contextlib.suppress(Exception):
                await device.host.reset()
