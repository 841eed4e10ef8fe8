"""Movesense sensors through the "gatt_sensordata_app" GATT SensorData Protocol (GSP).

Service ``34802252-7185-4d5d-b431-630e7050e8f0``; commands are written to ``34800001-…``, data is notified on
``34800002-…``. Subscribe with ``01 <reference byte>`` followed by the resource path in UTF-8, here
``/Meas/IMU6/52`` (accelerometer and gyroscope at 52 Hz). A data notification is ``u8 type`` (2 = data,
3 = the second part of a data message too long for one notification), ``u8 reference``, ``u32 timestamp`` (ms, of
the first sample, device clock), then the samples as arrays: N × (x, y, z) float32 accelerometer in m/s², then
N × (x, y, z) float32 gyroscope in °/s. (As in Movesense's own Python example for this app.) A message longer than
one notification continues in a type-3 notification (its first two bytes, type and reference, are dropped when the
parts are joined).

Sensor frame: as printed on the sensor; worn on a chest strap with its face outward, +z points forward.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
REFERENCE = 99
RATE_HZ = 52
SUBSCRIBE_IMU6 = bytes([0x01, REFERENCE]) + f"/Meas/IMU6/{RATE_HZ}".encode()
DATA = 2


def decode(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    if len(payload) < 6 + 24:
        return None
    kind, reference, timestamp_ms = struct.unpack_from("<BBI", payload)
    body = len(payload) - 6
    if kind != DATA or reference != REFERENCE or body % 24:
        return None
    n = body // 24
    with np.errstate(invalid="ignore"):  # a signalling NaN (garbage) is refused just below, not warned about
        values = np.frombuffer(payload, dtype="<f4", offset=6).astype(np.float64)
    acc, gyr = values[: 3 * n].reshape(n, 3), values[3 * n:].reshape(n, 3)
    if not (np.isfinite(acc).all() and np.isfinite(gyr).all()):
        return None
    return DecodedPacket(gyr_rad_s=np.radians(gyr), acc_m_s2=acc, sensor_time_s=timestamp_ms * 1e-3)


def reassemble(pending: bytes | None, payload: bytes) -> tuple[bytes | None, bytes | None]:
    """Join a data message split over a type-2 and a type-3 notification; (whole message or None, pending)."""
    if len(payload) < 2:
        return payload, None
    if payload[0] == DATA and (len(payload) - 6) % 24:
        return None, payload  # an incomplete first part: wait for its continuation
    if payload[0] == 3:
        return (pending + payload[2:], None) if pending is not None else (payload, None)
    return payload, None


def encode(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, timestamp_ms: int) -> bytes:
    """A data notification as the sensor sends it (for tests)."""
    head = struct.pack("<BBI", DATA, REFERENCE, timestamp_ms % 2**32)
    return head + np.concatenate([np.asarray(acc_m_s2).ravel(), np.degrees(gyr_rad_s).ravel()]).astype("<f4").tobytes()


MOVESENSE = DeviceProfile(
    name="movesense",
    title="Movesense (gatt_sensordata_app, IMU6 at 52 Hz)",
    service_uuid=SERVICE_UUID,
    data_uuid=NOTIFY_UUID,
    advertised_uuid=SERVICE_UUID,
    name_prefixes=("Movesense",),
    has_gyro=True,
    chest_normal_axis="+z",
    sensor_frame="as printed on the sensor; face outward on a chest strap: +z forward",
    rate_hz=float(RATE_HZ),
    decode=decode,
    start_writes=((WRITE_UUID, SUBSCRIBE_IMU6),),
    time_modulo_s=2**32 * 1e-3,
    battery_uuid=None,
    reassemble=reassemble,
)
