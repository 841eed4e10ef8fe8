"""WitMotion BWT901BLE-class 9-axis sensors (WT901BLECL and relatives), BLE 5.0 firmware.

Vendor protocol (WitMotion "WT901BLECL" manual, BLE protocol section): service ``0000ffe5-…``, notify
``0000ffe4-…``, write ``0000ffe9-…``. Default output is a 20-byte frame every 1/rate s::

    0x55 0x61  ax ay az  wx wy wz  roll pitch yaw      (9 × int16, little-endian)

acc = raw / 32768 × 16 g; angular rate = raw / 32768 × 2000 °/s; angles = raw / 32768 × 180°. A notification may
carry one or more such frames. Default rate 10 Hz. A setting is changed in three writes: unlock ``FF AA 69 88 B5``
(without it the sensor ignores the command), the setting — ``FF AA 03 09 00``, rate code 0x09: 100 Hz — and save
``FF AA 00 00 00``. The sensor streams as soon as notifications are on, so they are turned on after the writes. There
is no sample counter or clock in the frame: times come from when the notifications arrive
(:mod:`imutrack.sources.profiles.timing`), and the 100 Hz asked for is only checked.

Sensor frame: as printed on the case; worn flat on the sternum with the label outward, +z points forward.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
FRAME = 20
UNLOCK = bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5])
SET_100_HZ = bytes([0xFF, 0xAA, 0x03, 0x09, 0x00])
SAVE = bytes([0xFF, 0xAA, 0x00, 0x00, 0x00])
RATE_CODES_HZ = {0x01: 0.2, 0x02: 0.5, 0x03: 1.0, 0x04: 2.0, 0x05: 5.0, 0x06: 10.0, 0x07: 20.0, 0x08: 50.0,
                 0x09: 100.0, 0x0B: 200.0}
DEFAULT_RATE_HZ = 10.0


def decode(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    if len(payload) == 0 or len(payload) % FRAME:
        return None
    frames = np.frombuffer(payload, dtype=np.uint8).reshape(-1, FRAME)
    if not ((frames[:, 0] == 0x55) & (frames[:, 1] == 0x61)).all():
        return None
    raw = np.frombuffer(frames[:, 2:].tobytes(), dtype="<i2").reshape(-1, 9).astype(np.float64)
    return DecodedPacket(
        gyr_rad_s=np.radians(raw[:, 3:6] * (2000.0 / 32768.0)),
        acc_m_s2=raw[:, 0:3] * (16.0 * GRAVITY_M_S2 / 32768.0),
    )


def encode(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray) -> bytes:
    """Frames as the sensor sends them (angles zero), for the virtual sensor and tests."""
    acc = np.asarray(acc_m_s2) / (16.0 * GRAVITY_M_S2 / 32768.0)
    gyr = np.degrees(np.asarray(gyr_rad_s)) / (2000.0 / 32768.0)
    raw = np.clip(np.round(np.hstack([acc, gyr, np.zeros_like(acc)])), -32768, 32767).astype("<i2")
    head = np.tile(np.array([0x55, 0x61], dtype=np.uint8), (len(raw), 1))
    return np.hstack([head, raw.view(np.uint8).reshape(len(raw), 18)]).tobytes()


WITMOTION = DeviceProfile(
    name="witmotion",
    title="WitMotion BWT901BLE-class (WT901BLECL, BWT901BLE5.0)",
    service_uuid=SERVICE_UUID,
    data_uuid=NOTIFY_UUID,
    advertised_uuid=SERVICE_UUID,
    name_prefixes=("WT901", "BWT901", "WT9011"),
    has_gyro=True,
    chest_normal_axis="+z",
    sensor_frame="as printed on the case; label outward on the sternum: +z forward",
    rate_hz=100.0,
    decode=decode,
    start_writes=((WRITE_UUID, UNLOCK), (WRITE_UUID, SET_100_HZ), (WRITE_UUID, SAVE)),
    battery_uuid=None,
    subscribe_after_writes=True,
)
