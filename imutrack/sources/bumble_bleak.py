"""bleak backends on top of a bumble host: bleak's ``BleakClient``/``BleakScanner`` run unchanged on a software
(or USB-dongle) Bluetooth controller driven by bumble.

Used by the tests (two bumble devices on an in-memory link: the virtual sensor and this central) and by anyone who
wants imutrack to talk to a controller that the operating system does not manage (``bumble`` transports such as
``usb:0``). Requires the ``bumble`` package (the ``sim`` or ``test`` extra).

``BumbleCentral(device).client_backend`` and ``.scanner_backend`` are the classes to pass as bleak's ``backend=``.
"""

from __future__ import annotations

import asyncio
import uuid as uuid_module
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble.core import AdvertisingData
from bumble.core import UUID as BumbleUUID
from bumble.device import Device, Peer
from bumble.gatt import Characteristic

_PROPERTY_NAMES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
}


def uuid_str(value: BumbleUUID) -> str:
    """A bumble UUID as bleak spells it: 128-bit, lower case, dashed."""
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


class BumbleCentral:
    """A bumble device acting as the central, with bleak backend classes bound to it."""

    def __init__(self, device: Device, connect_timeout_s: float = 5.0):
        self.device = device
        self.connect_timeout_s = connect_timeout_s
        self.scanners = 0  # scanners running: the controller scans while there is one (as an OS's stack does)
        central = self

        class Client(BumbleBleakClient):
            _central = central

        class Scanner(BumbleBleakScanner):
            _central = central

        self.client_backend = Client
        self.scanner_backend = Scanner


class BumbleBleakClient(BaseBleakClient):
    """bleak client backend over a bumble central (see :class:`BumbleCentral`)."""

    _central: BumbleCentral

    def __init__(self, address_or_ble_device, **kwargs: Any):
        super().__init__(address_or_ble_device, disconnected_callback=kwargs.get("disconnected_callback"),
                         timeout=kwargs.get("timeout", 10.0))
        self._connection = None
        self._peer: Peer | None = None
        self._name = getattr(address_or_ble_device, "name", None) or self.address

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = self._central
        timeout = min(self._timeout, central.connect_timeout_s)
        try:
            # bumble's own timeout, and ours around it: a connect to an absent device may otherwise never return
            connection = await asyncio.wait_for(central.device.connect(self.address, timeout=timeout), timeout + 1.0)
        except (asyncio.TimeoutError, TimeoutError):
            raise BleakDeviceNotFoundError(self.address, f"device {self.address} did not answer") from None
        except Exception as exc:  # bumble raises its own core errors
            raise BleakError(f"connect to {self.address} failed: {exc}") from None
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        await self._peer.request_mtu(247)  # as the operating systems' stacks do on connection
        await self._peer.discover_services()
        collection = BleakGATTServiceCollection()
        for service in self._peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                properties = [name for flag, name in _PROPERTY_NAMES.items() if characteristic.properties & flag]
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic, characteristic.handle, uuid_str(characteristic.uuid), properties,
                    lambda: self.mtu_size - 3, bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
        self.services = collection

    def _on_disconnection(self, _reason=None) -> None:
        self._connection = None
        self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._peer = None
        if connection is not None:
            connection.remove_listener(connection.EVENT_DISCONNECTION, self._on_disconnection)
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not needed by imutrack's sensors")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not needed by imutrack's sensors")

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("not connected")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        return bytearray(await self._require_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(self, descriptor, **kwargs: Any) -> bytearray:
        return bytearray(await self._require_peer().read_value(descriptor.obj))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data, response: bool) -> None:
        await self._require_peer().write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor, data) -> None:
        await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback, **kwargs: Any) -> None:
        await self._require_peer().subscribe(characteristic.obj, lambda value: callback(bytearray(value)))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._require_peer().unsubscribe(characteristic.obj)


class BumbleBleakScanner(BaseBleakScanner):
    """bleak scanner backend over a bumble central (see :class:`BumbleCentral`)."""

    _central: BumbleCentral

    def __init__(self, detection_callback=None, service_uuids=None, *args: Any, **kwargs: Any):
        super().__init__(detection_callback, service_uuids)

    def _on_advertisement(self, advertisement) -> None:
        data = advertisement.data
        uuids = []
        for kind in (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                     AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
            uuids += [uuid_str(u) for u in (data.get(kind) or [])]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        address = str(advertisement.address).split("/")[0]
        adv = AdvertisementData(name, {}, {}, uuids, None, advertisement.rssi, (advertisement,))
        device: BLEDevice = self.create_or_update_device(address, address, name, advertisement, adv)
        self.call_detection_callbacks(device, adv)

    async def start(self) -> None:
        self.seen_devices = {}
        central = self._central
        central.device.on(central.device.EVENT_ADVERTISEMENT, self._on_advertisement)
        central.scanners += 1
        if central.scanners == 1:
            await central.device.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        central = self._central
        central.device.remove_listener(central.device.EVENT_ADVERTISEMENT, self._on_advertisement)
        central.scanners -= 1
        if central.scanners == 0:
            await central.device.stop_scanning()
