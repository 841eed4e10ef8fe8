"""Nordic Thingy:52, motion service raw data.

Nordic's Thingy:52 firmware documentation: motion service ``EF680400-9B35-4933-9B10-52FFA9740042``, raw data
characteristic ``EF680406-…`` notifying 18 bytes: accelerometer x, y, z (int16, Q6.10, in g), gyroscope x, y, z
(int16, Q11.5, °/s), compass x, y, z (int16, Q12.4, µT). The rate follows the motion configuration characteristic
``EF680401-…`` (u16 step-counter interval, u16 temperature-compensation interval, u16 magnetometer-compensation
interval, u16 motion-processing frequency in Hz, u8 wake-on-motion); we set 100 Hz. The firmware keeps the
configuration in flash (its default rate is 10 Hz) and streams raw data as soon as it is subscribed, so the rate is
written first. No counter or clock: times come from when the notifications arrive
(:mod:`imutrack.sources.profiles.timing`), and the 100 Hz asked for is only checked.

Sensor frame: the board's axes as printed; worn with the top face outward on the sternum, +z points forward.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "ef680400-9b35-4933-9b10-52ffa9740042"
CONFIG_UUID = "ef680401-9b35-4933-9b10-52ffa9740042"
RAW_UUID = "ef680406-9b35-4933-9b10-52ffa9740042"
CONFIG_100_HZ = struct.pack("<HHHHB", 100, 1000, 100, 100, 0)
DEFAULT_RATE_HZ = 10.0  # the firmware's MOTION_DEFAULT_CONFIG


def configured_rate_hz(config: bytes) -> float | None:
    """The motion-processing rate a configuration write sets, Hz (None when it is not a configuration)."""
    return float(struct.unpack("<HHHHB", config)[3]) if len(config) == 9 else None


def decode(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    if len(payload) != 18:
        return None
    raw = np.frombuffer(payload, dtype="<i2").astype(np.float64)
    return DecodedPacket(
        gyr_rad_s=np.radians(raw[3:6] / 32.0)[None, :],
        acc_m_s2=(raw[0:3] / 1024.0 * GRAVITY_M_S2)[None, :],
        mag_uT=(raw[6:9] / 16.0)[None, :],
    )


def encode(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, mag_uT: np.ndarray) -> bytes:
    """One raw-data notification (one sample), as the Thingy sends it."""
    raw = np.concatenate([np.asarray(acc_m_s2) / GRAVITY_M_S2 * 1024.0, np.degrees(gyr_rad_s) * 32.0,
                          np.asarray(mag_uT) * 16.0])
    return np.clip(np.round(raw), -32768, 32767).astype("<i2").tobytes()


THINGY52 = DeviceProfile(
    name="thingy52",
    title="Nordic Thingy:52 (motion service, raw data)",
    service_uuid=SERVICE_UUID,
    data_uuid=RAW_UUID,
    advertised_uuid="ef680100-9b35-4933-9b10-52ffa9740042",
    name_prefixes=("Thingy",),
    has_gyro=True,
    chest_normal_axis="+z",
    sensor_frame="as printed on the board; top face outward on the sternum: +z forward",
    rate_hz=100.0,
    decode=decode,
    start_writes=((CONFIG_UUID, CONFIG_100_HZ),),
    subscribe_after_writes=True,
)
