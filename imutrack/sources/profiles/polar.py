"""Polar sensors through the Polar Measurement Data (PMD) service: the H10 (accelerometer only) and the Verity Sense
(accelerometer and gyroscope, sent as two separate streams).

Facts from Polar's BLE SDK (its PMD client, data-frame and settings classes and its product pages):

- Service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``; control point ``…5C81`` (write; answers by indication), data
  ``…5C82`` (notify). Enable the control point's indications before writing to it.
- **Start** a stream: write ``02 <measurement type>`` then settings as ``<setting type u8> <count u8> <value>``:
  sample rate (type 0, u16 Hz), resolution (1, u16 bits), range (2, u16: g for ACC, °/s for GYRO), channels (4, u8).
  Measurement types: 2 = ACC, 5 = GYRO.
- The **answer** is ``F0 <op> <measurement type> <status> <more>`` then settings in the same form; status 0 is
  success. The start answer may carry the **factor** (setting type 5, one float32): every sample value of that
  stream is multiplied by it. Without one, the factor is 1.
- A **data frame** is ``u8 measurement type``, ``u64 timestamp`` (ns, of the frame's *last* sample, device clock),
  ``u8 frame type``, samples. Bit 7 of the frame type marks a delta-compressed frame: a reference sample (each
  channel a little-endian signed integer of the resolution's width), then blocks of ``u8 bits per delta``,
  ``u8 sample count`` and that many samples × channels signed deltas packed LSB first, each added to the previous
  sample.
- ACC values are mG: raw frame types 0, 1, 2 are int8, int16, int24 per channel; compressed type 1 is 16-bit
  (× factor), compressed type 0 is 16-bit in g (× factor × 1000). GYRO values are °/s in compressed frames only:
  type 0 is 16-bit × factor, type 1 is a float32 bit pattern (deltas added as integers) × factor.

The **H10** has no gyroscope: the twist cannot be measured with it; posture (slouch, lean) and breathing still can.
It is started at 200 Hz, ±8 g. The **Verity Sense** streams ACC (±8 g) and GYRO (±2000 °/s) at 52 Hz in its normal
mode; the two streams have their own timestamps and are merged onto the gyroscope's times by
:class:`~imutrack.sources.profiles.base.PacketStream`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from imutrack.errors import ImutrackError
from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.profiles.base import DecodedPacket, DeviceProfile

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9a34fb"
HEADER = struct.Struct("<BQB")
ACC, GYRO = 2, 5
MEASUREMENT_NAMES = {ACC: "accelerometer", GYRO: "gyroscope"}
FACTOR_KEYS = {ACC: "acc_factor", GYRO: "gyr_factor"}
START, RESPONSE = 0x02, 0xF0
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = range(6)
_SETTING_SIZES = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4}
STATUS_TEXT = {
    1: "invalid op code", 2: "invalid measurement type", 3: "not supported", 4: "invalid length",
    5: "invalid parameter", 6: "already in that state", 7: "invalid resolution", 8: "invalid sample rate",
    9: "invalid range", 10: "invalid MTU (the link's packets are too small)", 11: "invalid number of channels",
    12: "invalid state", 13: "the sensor is in its charger", 14: "disk full",
}
ALREADY_RUNNING = 6
VERITY_RATE_HZ = 52


def start_command(measurement: int, rate_hz: int, resolution_bits: int, range_value: int,
                  channels: int | None = None) -> bytes:
    """The control-point write that starts ``measurement`` with these settings."""
    out = bytes([START, measurement]) + struct.pack("<BBH", SAMPLE_RATE, 1, rate_hz)
    out += struct.pack("<BBH", RESOLUTION, 1, resolution_bits) + struct.pack("<BBH", RANGE, 1, range_value)
    if channels is not None:
        out += bytes([CHANNELS, 1, channels])
    return out


START_H10_ACC_200_HZ = start_command(ACC, 200, 16, 8)
START_VERITY_ACC = start_command(ACC, VERITY_RATE_HZ, 16, 8, channels=3)
START_VERITY_GYRO = start_command(GYRO, VERITY_RATE_HZ, 16, 2000, channels=3)


@dataclass(frozen=True)
class ControlResponse:
    """A control-point answer. ``settings`` maps setting type → values (the factor as a float)."""

    op: int
    measurement: int
    status: int
    more: bool
    settings: dict[int, list[float]] = field(default_factory=dict)


def parse_response(payload: bytes) -> ControlResponse | None:
    """The control-point answer in ``payload``, or None if it is not one (or is malformed)."""
    if len(payload) < 4 or payload[0] != RESPONSE:
        return None
    op, measurement, status = payload[1], payload[2], payload[3]
    more = len(payload) > 4 and payload[4] != 0
    settings: dict[int, list[float]] = {}
    offset = 5
    while status == 0 and offset < len(payload):
        if offset + 2 > len(payload):
            return None
        kind, count = payload[offset], payload[offset + 1]
        offset += 2
        size = _SETTING_SIZES.get(kind)
        if size is None or offset + size * count > len(payload):
            return None
        values = []
        for _ in range(count):
            chunk = payload[offset:offset + size]
            values.append(struct.unpack("<f", chunk)[0] if kind == FACTOR else int.from_bytes(chunk, "little"))
            offset += size
        settings[kind] = values
    return ControlResponse(op, measurement, status, more, settings)


def configure(payload: bytes) -> dict[str, float]:
    """Stream settings to remember from a control-point message (the factor of a started stream); raises
    :class:`ImutrackError` with the sensor's reason when it refused to start a stream."""
    response = parse_response(payload)
    if response is None or response.op != START:
        return {}
    name = MEASUREMENT_NAMES.get(response.measurement, f"measurement {response.measurement}")
    if response.status not in (0, ALREADY_RUNNING):
        reason = STATUS_TEXT.get(response.status, f"error {response.status}")
        raise ImutrackError(f"the Polar sensor refused to start its {name}: {reason}")
    factor = response.settings.get(FACTOR)
    key = FACTOR_KEYS.get(response.measurement)
    if key is None or not factor or not math.isfinite(factor[0]) or factor[0] == 0:
        return {}
    return {key: float(factor[0])}


def _signed(values: np.ndarray, bits: int) -> np.ndarray:
    return np.where(values >= 1 << (bits - 1), values - (1 << bits), values)


def delta_frames(body: bytes, channels: int = 3, resolution_bits: int = 16) -> np.ndarray | None:
    """Integer samples (n, channels) of a delta-compressed PMD body (int64, before any wrap), or None if malformed."""
    width = (resolution_bits + 7) // 8
    head = channels * width
    if len(body) < head:
        return None
    reference = np.array([int.from_bytes(body[k * width:(k + 1) * width], "little") for k in range(channels)])
    deltas = [_signed(reference, resolution_bits)[None, :]]
    offset = head
    while offset < len(body):
        if offset + 2 > len(body):
            return None
        bits, count = body[offset], body[offset + 1]
        offset += 2
        length = (bits * count * channels + 7) // 8
        if bits == 0 or bits > 32 or offset + length > len(body):
            return None
        packed = np.unpackbits(np.frombuffer(body, np.uint8, length, offset), bitorder="little")
        fields = packed[: bits * count * channels].reshape(count * channels, bits).astype(np.int64)
        deltas.append(_signed(fields @ (np.int64(1) << np.arange(bits, dtype=np.int64)), bits).reshape(count, channels))
        offset += length
    return np.cumsum(np.concatenate(deltas), axis=0)


def encode_delta_frames(samples: np.ndarray, resolution_bits: int = 16) -> bytes:
    """A delta-compressed body for integer ``samples`` (n, channels): the reference and one block (for tests and
    the virtual sensor)."""
    samples = np.asarray(samples, dtype=np.int64)
    width = (resolution_bits + 7) // 8
    out = b"".join(int(v % (1 << (8 * width))).to_bytes(width, "little") for v in samples[0])
    deltas = np.diff(samples, axis=0)
    if len(deltas):
        bits = max(2, int(np.max(np.abs(deltas))).bit_length() + 1)
        fields = deltas.ravel() % (1 << bits)
        bit_array = ((fields[:, None] >> np.arange(bits)) & 1).astype(np.uint8).ravel()
        out += bytes([bits, len(deltas)]) + np.packbits(bit_array, bitorder="little").tobytes()
    return out


def _acc_mg(frame_type: int, body: bytes, factor: float) -> np.ndarray | None:
    if frame_type & 0x80:
        raw = delta_frames(body, 3, 16) if frame_type & 0x7F in (0, 1) else None
        if raw is None:
            return None
        return raw * factor * (1000.0 if frame_type & 0x7F == 0 else 1.0)
    width = {0: 1, 1: 2, 2: 3}.get(frame_type)
    if width is None or len(body) % (3 * width) or not body:
        return None
    raw = np.frombuffer(body, np.uint8).reshape(-1, width).astype(np.int64) @ (np.int64(1) << (8 * np.arange(width)))
    return _signed(raw, 8 * width).reshape(-1, 3).astype(np.float64)


def _gyr_dps(frame_type: int, body: bytes, factor: float) -> np.ndarray | None:
    if frame_type == 0x80:
        raw = delta_frames(body, 3, 16)
        return None if raw is None else raw * factor
    if frame_type == 0x81:
        raw = delta_frames(body, 3, 32)
        if raw is None:
            return None
        values = (raw & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64) * factor
        return values if np.isfinite(values).all() else None
    return None


def _frame(payload: bytes, settings: Mapping[str, float] | None) -> tuple[int, float, np.ndarray] | None:
    """(measurement type, device time of the last sample in s, values in SI units) of a PMD data frame."""
    settings = settings or {}
    if len(payload) <= HEADER.size:
        return None
    kind, timestamp_ns, frame_type = HEADER.unpack_from(payload)
    body = payload[HEADER.size:]
    if kind == ACC:
        mg = _acc_mg(frame_type, body, settings.get("acc_factor", 1.0))
        values = None if mg is None else mg * 1e-3 * GRAVITY_M_S2
    elif kind == GYRO:
        dps = _gyr_dps(frame_type, body, settings.get("gyr_factor", 1.0))
        values = None if dps is None else np.radians(dps)
    else:
        return None
    if values is None or not len(values):
        return None
    return kind, timestamp_ns * 1e-9, values


def decode(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    """An H10 frame: accelerometer only, stamped at its last sample (a gyroscope frame cannot come from an H10 and is
    refused)."""
    frame = _frame(payload, settings)
    if frame is None or frame[0] != ACC:
        return None
    return DecodedPacket(gyr_rad_s=None, acc_m_s2=frame[2], channel="acc", sensor_time_end_s=frame[1])


def decode_sense(payload: bytes, settings: Mapping[str, float] | None = None) -> DecodedPacket | None:
    """A Verity Sense frame: one channel ("acc" or "gyr"), stamped at its last sample."""
    frame = _frame(payload, settings)
    if frame is None:
        return None
    kind, end_s, values = frame
    if kind == ACC:
        return DecodedPacket(gyr_rad_s=None, acc_m_s2=values, channel="acc", sensor_time_end_s=end_s)
    return DecodedPacket(gyr_rad_s=values, acc_m_s2=None, channel="gyr", sensor_time_end_s=end_s)


def encode_frame(measurement: int, timestamp_ns: int, frame_type: int, body: bytes) -> bytes:
    """A PMD data frame (for tests and the virtual sensor)."""
    return HEADER.pack(measurement, timestamp_ns, frame_type) + body


POLAR_H10 = DeviceProfile(
    name="polar-h10",
    title="Polar H10 (PMD accelerometer; no gyroscope)",
    service_uuid=SERVICE_UUID,
    data_uuid=DATA_UUID,
    advertised_uuid=HEART_RATE_SERVICE_UUID,
    name_prefixes=("Polar H10",),
    has_gyro=False,
    chest_normal_axis="+z",
    sensor_frame="H10 strap on the chest: see Polar's axis drawing",
    rate_hz=200.0,
    decode=decode,
    start_writes=((CONTROL_UUID, START_H10_ACC_200_HZ),),
    control_uuid=CONTROL_UUID,
    configure=configure,
)

POLAR_VERITY_SENSE = DeviceProfile(
    name="polar-sense",
    title="Polar Verity Sense (PMD accelerometer and gyroscope, 52 Hz)",
    service_uuid=SERVICE_UUID,
    data_uuid=DATA_UUID,
    advertised_uuid=HEART_RATE_SERVICE_UUID,
    name_prefixes=("Polar Sense",),
    has_gyro=True,
    chest_normal_axis="+z",
    sensor_frame="Verity Sense in a chest strap or clip, LEDs against the skin (+z assumed out of the chest: check "
                 "the flexion sign, else --chest-axis -z)",
    rate_hz=float(VERITY_RATE_HZ),
    decode=decode_sense,
    start_writes=((CONTROL_UUID, START_VERITY_ACC), (CONTROL_UUID, START_VERITY_GYRO)),
    control_uuid=CONTROL_UUID,
    configure=configure,
)
