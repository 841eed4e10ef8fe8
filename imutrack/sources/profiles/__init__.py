"""Device profiles: for each supported sensor, its GATT UUIDs, how to start streaming, and a **pure** decoder
(notification bytes → samples in SI units in the common sensor frame).

A decoder never raises on bad input: a packet it cannot decode is returned as ``None`` and counted by the caller.
"""

from __future__ import annotations

from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile, PacketStream
from imutrack.sources.profiles.diy import DIY
from imutrack.sources.profiles.movesense import MOVESENSE
from imutrack.sources.profiles.polar import POLAR_H10, POLAR_VERITY_SENSE
from imutrack.sources.profiles.thingy52 import THINGY52
from imutrack.sources.profiles.witmotion import WITMOTION

PROFILES: dict[str, DeviceProfile] = {
    p.name: p for p in (DIY, WITMOTION, THINGY52, MOVESENSE, POLAR_VERITY_SENSE, POLAR_H10)
}


# Services every heart-rate strap advertises: on their own they say nothing about which sensor it is.
GENERIC_SERVICE_UUIDS = frozenset({"0000180d-0000-1000-8000-00805f9a34fb"})


def identify(name: str | None, service_uuids: list[str]) -> DeviceProfile | None:
    """The profile a device matches by an advertised service UUID of its own, or by name prefix. The heart-rate
    service that Polar's sensors advertise is shared by every heart-rate strap, so there the name decides."""
    uuids = {u.lower() for u in service_uuids}
    by_name = [p for p in PROFILES.values() if name and any(name.startswith(x) for x in p.name_prefixes)]
    by_uuid = [p for p in PROFILES.values()
               if p.service_uuid in uuids or (p.advertised_uuid in uuids and p.advertised_uuid not in
                                              GENERIC_SERVICE_UUIDS)]
    return (by_uuid or by_name or [None])[0]


__all__ = ["PROFILES", "DecodedPacket", "DeviceProfile", "PacketStream", "identify"]
