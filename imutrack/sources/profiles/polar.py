"""Polar H10 chest strap through the Polar Measurement Data (PMD) service — accelerometer only.

Polar BLE SDK documentation (PMD): service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``, control point ``…5C81``, data
``…5C82``. A data notification is ``u8 measurement type`` (2 = ACC), ``u64 timestamp`` (ns, of the last sample),
``u8 frame type``, then samples. Frame type 1 is uncompressed int16 x, y, z per sample in mG. Start ACC at 200 Hz,
±8 g, 16 bit with the control write ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``.

The H10 has **no gyroscope**: the twist cannot be measured with it. Posture (slouch, lean) and breathing still can.
Compressed frames (type 0x80 and up) are not decoded yet and are counted as dropped.
"""

from __future__ import annotations

import struct

import numpy as np

from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
START_ACC_200_HZ = bytes([0x02, 0x02, 0x00, 0x01, 0xC8, 0x00, 0x01, 0x01, 0x10, 0x00, 0x02, 0x01, 0x08, 0x00])
HEADER = struct.Struct("<BQB")
ACC = 2


def decode(payload: bytes) -> DecodedPacket | None:
    if len(payload) <= HEADER.size:
        return None
    kind, _timestamp_ns, frame_type = HEADER.unpack_from(payload)
    body = len(payload) - HEADER.size
    if kind != ACC or frame_type != 1 or body % 6:
        return None
    raw = np.frombuffer(payload, dtype="<i2", offset=HEADER.size).reshape(-1, 3).astype(np.float64)
    return DecodedPacket(gyr_rad_s=None, acc_m_s2=raw * 1e-3 * GRAVITY_M_S2)


POLAR_H10 = DeviceProfile(
    name="polar-h10",
    title="Polar H10 (PMD accelerometer; no gyroscope)",
    service_uuid=SERVICE_UUID,
    data_uuid=DATA_UUID,
    advertised_uuid="0000180d-0000-1000-8000-00805f9a34fb",
    name_prefixes=("Polar H10",),
    has_gyro=False,
    chest_normal_axis="+z",
    sensor_frame="H10 strap on the chest: see Polar's axis drawing",
    rate_hz=200.0,
    decode=decode,
    start_writes=((CONTROL_UUID, START_ACC_200_HZ),),
)
