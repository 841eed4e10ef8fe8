"""Device decoders against packets built by hand from the vendors' documentation, and fuzzed."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imutrack.sources.profiles import PROFILES, PacketStream, identify
from imutrack.sources.profiles import diy, movesense, polar, thingy52, witmotion

G = 9.80665


def test_diy_packet_by_hand():
    # version 1, flags: 100 Hz (code 1 in bits 4-5), 2 samples, gyro ±500 °/s (code 2) / acc ±4 g (code 1),
    # first sample counter 65535, sensor clock 1.5 s
    header = struct.pack("<BBBBHI", 1, 0x10, 2, 0x21, 65535, 1_500_000)
    samples = struct.pack("<6h", 100, -200, 32767, 8192, 0, -8192) + struct.pack("<6h", 0, 0, 0, 0, 8192, 0)
    packet = diy.decode(header + samples)
    assert packet.first_seq == 65535 and packet.sensor_time_s == pytest.approx(1.5) and packet.rate_hz == 100
    np.testing.assert_allclose(packet.gyr_rad_s[0], np.radians([100, -200, 32767]) * 500 / 32768)
    np.testing.assert_allclose(packet.acc_m_s2[0], [G, 0, -G])  # 8192 LSB at ±4 g = 1 g
    np.testing.assert_allclose(packet.acc_m_s2[1], [0, G, 0])
    assert packet.mag_uT is None


def test_diy_with_magnetometer_and_the_encoder_round_trip():
    rng = np.random.default_rng(0)
    gyr, acc, mag = rng.normal(0, 1, (5, 3)), rng.normal(0, 9, (5, 3)), rng.normal(0, 40, (5, 3))
    packet = diy.decode(diy.encode(gyr, acc, 7, 123, rate_hz=400, mag_uT=mag))
    np.testing.assert_allclose(packet.gyr_rad_s, gyr, atol=diy.gyro_scale_rad_s(2))
    np.testing.assert_allclose(packet.acc_m_s2, acc, atol=diy.acc_scale_m_s2(1))
    np.testing.assert_allclose(packet.mag_uT, mag, atol=diy.MAG_UT_PER_LSB)
    assert packet.rate_hz == 400


@pytest.mark.parametrize("mutate", [
    lambda b: b[:-1],                      # truncated
    lambda b: bytes([2]) + b[1:],          # unknown version
    lambda b: b[:2] + bytes([0]) + b[3:],  # zero samples
    lambda b: b[:3] + bytes([0x71]) + b[4:],  # gyro range code 7 does not exist
    lambda b: b + b"\x00\x00",             # trailing bytes
])
def test_diy_rejects_malformed_packets(mutate):
    good = diy.encode(np.zeros((2, 3)), np.zeros((2, 3)), 0, 0)
    assert diy.decode(good) is not None
    assert diy.decode(mutate(good)) is None


def test_stream_unwraps_counter_and_clock_and_counts_losses():
    stream = PacketStream(diy.DIY)
    one = np.zeros((2, 3))
    t_us = 2**32 - 15_000  # the sensor clock wraps between the packets
    stream.feed(diy.encode(one, one, 65534, t_us), 0.0)
    stream.feed(diy.encode(one, one, 0, t_us + 20_000), 0.02)       # 65534+2 wraps to 0: nothing lost
    stream.feed(diy.encode(one, one, 7, t_us + 90_000), 0.09)       # 2..6 missing
    stream.feed(diy.encode(one, one, 3, t_us + 50_000), 0.10)       # a stale repeat
    stream.feed(b"\x01garbage", 0.11)
    samples, seq, host = stream.take()
    np.testing.assert_array_equal(seq, [65534, 65535, 65536, 65537, 65543, 65544])
    np.testing.assert_allclose(samples.t_s, [0, 0.01, 0.02, 0.03, 0.09, 0.10], atol=1e-9)
    assert stream.lost_samples == 5 and stream.dropped_packets == 2 and stream.packets == 5
    assert stream.take() is None


def test_witmotion_frames_by_hand():
    frame = bytes([0x55, 0x61]) + struct.pack("<9h", 2048, 0, -2048, 16384, 0, -1638, 100, 200, 300)
    packet = witmotion.decode(frame + frame)
    assert len(packet) == 2
    np.testing.assert_allclose(packet.acc_m_s2[0], [G, 0, -G])  # 2048 / 32768 × 16 g = 1 g
    np.testing.assert_allclose(np.degrees(packet.gyr_rad_s[0]), [1000.0, 0.0, -1638 * 2000 / 32768])
    assert witmotion.decode(frame[:-1]) is None
    assert witmotion.decode(bytes([0x55, 0x53]) + frame[2:]) is None  # an angle frame, not the 0x61 combined one


def test_thingy52_raw_by_hand():
    payload = struct.pack("<9h", 1024, -512, 0, 32, 0, -64, 16, 0, -160)
    packet = thingy52.decode(payload)
    np.testing.assert_allclose(packet.acc_m_s2[0], [G, -G / 2, 0])  # Q6.10 g
    np.testing.assert_allclose(np.degrees(packet.gyr_rad_s[0]), [1.0, 0.0, -2.0])  # Q11.5 °/s
    np.testing.assert_allclose(packet.mag_uT[0], [1.0, 0.0, -10.0])  # Q12.4 µT
    assert thingy52.decode(payload[:-2]) is None


def test_polar_h10_accelerometer_only():
    payload = struct.pack("<BQB", 2, 123456789, 1) + struct.pack("<6h", 1000, 0, -1000, 0, 500, 0)
    packet = polar.decode(payload)
    assert packet.gyr_rad_s is None and not polar.POLAR_H10.has_gyro
    np.testing.assert_allclose(packet.acc_m_s2, [[G, 0, -G], [0, G / 2, 0]])  # mG
    assert polar.decode(struct.pack("<BQB", 5, 0, 1) + b"\x00" * 12) is None  # a gyro frame: not on an H10


def test_polar_delta_compressed_frame_by_hand():
    # reference (1000, -20, 3) as int16; then one block: 4-bit deltas, 2 samples: (+1, -1, +7) and (-8, 0, +2),
    # packed LSB first: nibbles 1, F, 7, 8, 0, 2 -> bytes 0xF1, 0x87, 0x20
    body = struct.pack("<3h", 1000, -20, 3) + bytes([4, 2, 0xF1, 0x87, 0x20])
    packet = polar.decode(struct.pack("<BQB", 2, 0, 0x81) + body)
    np.testing.assert_allclose(packet.acc_m_s2 / (G * 1e-3), [[1000, -20, 3], [1001, -21, 10], [993, -21, 12]])
    assert polar.decode(struct.pack("<BQB", 2, 0, 0x81) + body[:-1]) is None  # a block cut short


def test_movesense_imu6_by_hand():
    # type 2 (data), reference 99, t = 123456 ms, then 2 samples: acc (m/s²) array, then gyro (°/s) array
    payload = struct.pack("<BBI", 2, 99, 123456) + struct.pack("<6f", 0.0, 0.0, 9.75, 0.5, -0.25, 9.5) + \
        struct.pack("<6f", 1.0, -2.0, 90.0, 0.0, 0.0, -45.0)
    packet = movesense.decode(payload)
    assert packet.sensor_time_s == pytest.approx(123.456)
    np.testing.assert_allclose(packet.acc_m_s2, [[0, 0, 9.75], [0.5, -0.25, 9.5]])
    np.testing.assert_allclose(np.degrees(packet.gyr_rad_s), [[1, -2, 90], [0, 0, -45]], rtol=1e-6)
    assert movesense.decode(struct.pack("<BBI", 3, 99, 0) + payload[6:]) is None  # a second part: not alone
    # split over two notifications (type 2 then type 3, as for IMU6 at higher rates): joined by the stream
    stream = PacketStream(movesense.MOVESENSE)
    assert stream.feed(payload[:20], 0.0) is None and stream.awaiting_continuation and stream.dropped_packets == 0
    joined = stream.feed(bytes([3, 99]) + payload[20:], 0.01)
    np.testing.assert_allclose(joined.acc_m_s2, packet.acc_m_s2)
    assert movesense.decode(payload[:-4]) is None
    assert movesense.MOVESENSE.start_writes[0][1] == b"\x01\x63/Meas/IMU6/52"
    assert identify("Movesense 174630000192", []) is movesense.MOVESENSE


def test_movesense_stream_times_from_the_device_clock():
    stream = PacketStream(movesense.MOVESENSE)
    n = 4
    for k in range(3):
        stream.feed(movesense.encode(np.zeros((n, 3)), np.full((n, 3), 5.66), 1000 + round(k * n * 1000 / 52)),
                    0.1 * k)
    samples, seq, _ = stream.take()
    assert len(samples) == 12 and stream.lost_samples == 0
    np.testing.assert_allclose(np.diff(samples.t_s), 1 / 52, atol=1.5e-3)


def test_identify_by_service_or_name():
    assert identify("anything", [diy.SERVICE_UUID.upper()]) is diy.DIY
    assert identify("WT901BLE68", []) is witmotion.WITMOTION
    assert identify("Polar H10 1234ABCD", ["0000180d-0000-1000-8000-00805f9a34fb"]) is polar.POLAR_H10
    assert identify("headphones", []) is None


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(PROFILES)), st.binary(max_size=260))
def test_garbage_is_counted_never_raised(profile_name, payload):
    profile = PROFILES[profile_name]
    stream = PacketStream(profile)
    packet = stream.feed(payload, 1.0)
    if packet is None:
        assert stream.dropped_packets == 1 or stream.awaiting_continuation
    else:
        assert np.isfinite(packet.acc_m_s2).all()
        taken = stream.take()
        assert taken is not None and len(taken[0]) == len(packet)


def test_the_firmware_notes_state_what_the_decoder_implements():
    from tests.conftest import REPO

    notes = (REPO / "firmware_notes" / "README.md").read_text(encoding="utf-8")
    for uuid in (diy.SERVICE_UUID, diy.DATA_UUID, diy.CONTROL_UUID):
        assert f"`{uuid}`" in notes
    assert f"| {diy.HEADER.size} | n × 12 (or 18) |" in notes
    for k, hz in enumerate(diy.RATES_HZ):
        assert f"{k}: {hz}" in notes
    sketch = (REPO / "firmware_notes" / "reference_firmware.ino").read_text(encoding="utf-8")
    assert f"packet[{diy.HEADER.size} + inPacket * 12" in sketch
