"""Polar H10 chest strap through the Polar Measurement Data (PMD) service — accelerometer only.

Polar BLE SDK documentation (PMD): service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``, control point ``…5C81``, data
``…5C82``. A data notification is ``u8 measurement type`` (2 = ACC), ``u64 timestamp`` (ns, of the last sample),
``u8 frame type``, then samples. Frame type 1 is uncompressed int16 x, y, z per sample in mG. A frame type with bit 7
set is delta-compressed (the Polar BLE SDK's ``parseDeltaFramesAll``): a reference sample (int16 per axis), then
blocks of ``u8 bits per delta``, ``u8 sample count`` and that many samples × 3 signed deltas packed LSB-first, each
added to the previous sample. Start ACC at 200 Hz, ±8 g, 16 bit with the control write
``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``.

The H10 has **no gyroscope**: the twist cannot be measured with it. Posture (slouch, lean) and breathing still can.
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


def delta_frames(body: bytes, channels: int = 3, reference_bytes: int = 2) -> np.ndarray | None:
    """Samples (n, channels) of a delta-compressed PMD body, or None if it is malformed."""
    head = channels * reference_bytes
    if len(body) < head:
        return None
    samples = [[int.from_bytes(body[k * reference_bytes:(k + 1) * reference_bytes], "little", signed=True)
                for k in range(channels)]]
    offset = head
    while offset < len(body):
        if offset + 2 > len(body):
            return None
        bits, count = body[offset], body[offset + 1]
        offset += 2
        length = (bits * count * channels + 7) // 8
        if bits == 0 or bits > 32 or offset + length > len(body):
            return None
        packed = int.from_bytes(body[offset:offset + length], "little")
        offset += length
        mask, sign = (1 << bits) - 1, 1 << (bits - 1)
        for k in range(count):
            previous = samples[-1]
            row = []
            for c in range(channels):
                delta = (packed >> ((k * channels + c) * bits)) & mask
                row.append(previous[c] + (delta - (1 << bits) if delta & sign else delta))
            samples.append(row)
    return np.array(samples, dtype=np.float64)


def decode(payload: bytes) -> DecodedPacket | None:
    if len(payload) <= HEADER.size:
        return None
    kind, _timestamp_ns, frame_type = HEADER.unpack_from(payload)
    body = payload[HEADER.size:]
    if kind != ACC:
        return None
    if frame_type & 0x80:
        raw = delta_frames(body) if frame_type & 0x7F in (0, 1) else None
    elif frame_type == 1 and len(body) % 6 == 0:
        raw = np.frombuffer(body, dtype="<i2").reshape(-1, 3).astype(np.float64)
    else:
        raw = None
    if raw is None:
        return None
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
