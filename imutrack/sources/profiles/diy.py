"""Our own chest sensor (spec: ``firmware_notes/README.md``).

Data notification, little-endian::

    u8  version        1
    u8  flags          bit 0: magnetometer values follow each sample; bits 4–6: rate code (50, 100, 200, 400, 800, 1000 Hz)
    u8  n              samples in this packet (1..20)
    u8  range code     high nibble gyro range, low nibble acc range (tables below)
    u16 first_seq      sample counter of the first sample, wraps at 65536
    u32 t_us           sensor clock at the first sample, µs, wraps at 2³²
    n × (i16 gx, gy, gz, ax, ay, az [, mx, my, mz])

Gyro full scale by code 0–4: ±125, 250, 500, 1000, 2000 °/s; acc 0–3: ±2, 4, 8, 16 g; mag ±4912 µT
(0.15 µT/LSB, as an AK09916-class magnetometer). Samples in a packet are 1/rate apart.

Sensor frame: the board's own axes, with +z out of the board's top face. Worn on the sternum with the top face
outward (+z forward), +x up.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "19599a50-3ced-4d16-bab3-8aca30e9d53c"
DATA_UUID = "19599a51-3ced-4d16-bab3-8aca30e9d53c"
CONTROL_UUID = "19599a52-3ced-4d16-bab3-8aca30e9d53c"

HEADER = struct.Struct("<BBBBHI")
GYRO_RANGES_DEG_S = (125.0, 250.0, 500.0, 1000.0, 2000.0)
ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0)
MAG_UT_PER_LSB = 0.15
MAX_SAMPLES = 20
RATES_HZ = (50, 100, 200, 400, 800, 1000)


def gyro_scale_rad_s(code: int) -> float:
    """rad/s per LSB for gyro range ``code``."""
    return float(np.radians(GYRO_RANGES_DEG_S[code]) / 32768.0)


def acc_scale_m_s2(code: int) -> float:
    """m/s² per LSB for acc range ``code``."""
    return ACC_RANGES_G[code] * GRAVITY_M_S2 / 32768.0


def decode(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    if len(payload) < HEADER.size:
        return None
    version, flags, n, ranges, first_seq, t_us = HEADER.unpack_from(payload)
    gyro_code, acc_code = ranges >> 4, ranges & 0x0F
    if version != 1 or not 1 <= n <= MAX_SAMPLES or gyro_code >= len(GYRO_RANGES_DEG_S) or acc_code >= len(
            ACC_RANGES_G) or flags & ~0x71 or (flags >> 4) >= len(RATES_HZ):
        return None
    width = 9 if flags & 0x01 else 6
    if len(payload) != HEADER.size + n * width * 2:
        return None
    raw = np.frombuffer(payload, dtype="<i2", offset=HEADER.size).reshape(n, width).astype(np.float64)
    return DecodedPacket(
        gyr_rad_s=raw[:, 0:3] * gyro_scale_rad_s(gyro_code),
        acc_m_s2=raw[:, 3:6] * acc_scale_m_s2(acc_code),
        mag_uT=raw[:, 6:9] * MAG_UT_PER_LSB if width == 9 else None,
        first_seq=first_seq,
        sensor_time_s=t_us * 1e-6,
        rate_hz=float(RATES_HZ[flags >> 4]),
    )


def encode(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, first_seq: int, t_us: int, rate_hz: int = 100,
           gyro_code: int = 2, acc_code: int = 1, mag_uT: np.ndarray | None = None) -> bytes:
    """A data packet as the firmware builds it (used by the virtual sensor and the tests)."""
    n = len(acc_m_s2)
    columns = [np.asarray(gyr_rad_s) / gyro_scale_rad_s(gyro_code), np.asarray(acc_m_s2) / acc_scale_m_s2(acc_code)]
    if mag_uT is not None:
        columns.append(np.asarray(mag_uT) / MAG_UT_PER_LSB)
    raw = np.clip(np.round(np.hstack(columns)), -32768, 32767).astype("<i2")
    flags = (0x01 if mag_uT is not None else 0x00) | (RATES_HZ.index(rate_hz) << 4)
    header = HEADER.pack(1, flags, n, (gyro_code << 4) | acc_code, first_seq % 65536, t_us % 2**32)
    return header + raw.tobytes()


def start_command(rate_hz: int) -> bytes:
    """Control write that starts streaming at ``rate_hz``: opcode 0x01, u16 rate."""
    return struct.pack("<BH", 0x01, rate_hz)


DIY = DeviceProfile(
    name="diy",
    title="imutrack DIY chest sensor (firmware_notes/)",
    service_uuid=SERVICE_UUID,
    data_uuid=DATA_UUID,
    advertised_uuid=SERVICE_UUID,
    name_prefixes=("imutrack",),
    has_gyro=True,
    chest_normal_axis="+z",
    sensor_frame="DIY board: +z out of the top face (worn facing out, forward), +x up",
    rate_hz=100.0,
    decode=decode,
    start_writes=((CONTROL_UUID, start_command(100)),),
    seq_modulo=65536,
    time_modulo_s=2**32 * 1e-6,
)
