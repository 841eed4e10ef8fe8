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


def identify(name: str | None, service_uuids: list[str]) -> DeviceProfile | None:
    """The profile a device matches by advertised service UUID or, failing that, by name prefix; when several
    profiles share a UUID (Polar's sensors all advertise heart rate), the name decides."""
    uuids = {u.lower() for u in service_uuids}
    by_uuid = [p for p in PROFILES.values() if p.service_uuid in uuids or p.advertised_uuid in uuids]
    by_name = [p for p in PROFILES.values() if name and any(name.startswith(x) for x in p.name_prefixes)]
    both = [p for p in by_uuid if p in by_name]
    return (both or by_uuid or by_name or [None])[0]


__all__ = ["PROFILES", "DecodedPacket", "DeviceProfile", "PacketStream", "identify"]
