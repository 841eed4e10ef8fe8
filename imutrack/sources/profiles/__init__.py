"""Device profiles: for each supported sensor, its GATT UUIDs, how to start streaming, and a **pure** decoder
(notification bytes → samples in SI units in the common sensor frame).

A decoder never raises on bad input: a packet it cannot decode is returned as ``None`` and counted by the caller.
"""

from __future__ import annotations

from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile, PacketStream
from imutrack.sources.profiles.diy import DIY
from imutrack.sources.profiles.movesense import MOVESENSE
from imutrack.sources.profiles.polar import POLAR_H10
from imutrack.sources.profiles.thingy52 import THINGY52
from imutrack.sources.profiles.witmotion import WITMOTION

PROFILES: dict[str, DeviceProfile] = {p.name: p for p in (DIY, WITMOTION, THINGY52, MOVESENSE, POLAR_H10)}


def identify(name: str | None, service_uuids: list[str]) -> DeviceProfile | None:
    """The profile a device matches by advertised service UUID or, failing that, by name prefix."""
    uuids = {u.lower() for u in service_uuids}
    for profile in PROFILES.values():
        if profile.service_uuid in uuids or profile.advertised_uuid in uuids:
            return profile
    for profile in PROFILES.values():
        if name and any(name.startswith(prefix) for prefix in profile.name_prefixes):
            return profile
    return None


__all__ = ["PROFILES", "DecodedPacket", "DeviceProfile", "PacketStream", "identify"]
