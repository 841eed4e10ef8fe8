"""The real bleak code path against a bumble virtual sensor on an in-memory link (no hardware, no OS Bluetooth)."""

import asyncio
import re
import sys
import threading
import warnings

import numpy as np
import pytest

from imutrack.errors import ImutrackWarning
from imutrack.recording import read_recording
from imutrack.sources import ble
from imutrack.sources.profiles import PROFILES, diy, polar, thingy52, witmotion
from imutrack.sources.simulator import SimulatorConfig, simulate
from imutrack.sources.virtual_sensor import POLAR_GYRO_FACTOR_DPS, SERVED_PROFILES
from tests.virtual_ble import virtual_world

POLAR_SETTINGS = {"gyr_factor": float(np.float32(POLAR_GYRO_FACTOR_DPS))}  # the factor as its answer carries it
DECODERS = {"diy": diy.decode, "witmotion": witmotion.decode, "thingy52": thingy52.decode,
            "polar-sense": lambda payload: polar.decode_sense(payload, POLAR_SETTINGS)}


def simulated(rate_hz: float, n: int):
    cfg = SimulatorConfig(reps_per_side=1, hold_s=10.0, neutral_s=3.0, rest_s=3.0, sample_rate_hz=rate_hz, seed=2,
                          with_mag=True)
    return simulate(cfg).samples.slice(0, n)


@pytest.fixture(scope="module")
def samples():
    return simulated(100.0, 1500)


@pytest.fixture(scope="module")
def samples_52_hz():
    return simulated(52.0, 780)


def run(scenario):
    """Run a scenario and check it left no task and no thread behind."""
    threads_before = threading.active_count()

    async def checked():
        result = await scenario()
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not left, left
        return result

    result = asyncio.run(checked())
    assert threading.active_count() <= threads_before
    return result


def expected_from(sensor, profile):
    """What the sensor sent, decoded with the documented scaling: the recording must hold exactly this."""
    packets = [DECODERS[profile](payload) for a, b in sensor.sent for payload in sensor.packets(a, b)]
    gyr = np.concatenate([p.gyr_rad_s for p in packets if p.gyr_rad_s is not None])
    acc = np.concatenate([p.acc_m_s2 for p in packets if p.acc_m_s2 is not None])
    return gyr, acc


async def record(sensor, central, out, stop_when_done=True, target=None, **kwargs):
    recorder = ble.BleRecorder(target=target or sensor.name, out=out, client_backend=central.client_backend,
                               scanner_backend=central.scanner_backend, connect_timeout_s=3.0, **kwargs)
    stop = asyncio.Event()

    async def stop_after_the_last_packet():
        await sensor.finished.wait()
        await asyncio.sleep(0.2)
        stop.set()

    stopper = asyncio.create_task(stop_after_the_last_packet())
    try:
        return await recorder.run(stop)
    finally:
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)


def test_scan_finds_and_identifies_the_virtual_sensors(samples):
    async def scenario():
        found = {}
        for profile in SERVED_PROFILES:
            async with virtual_world(samples, profile) as (sensor, central):
                devices = await ble.scan(0.5, scanner_backend=central.scanner_backend)
                found[profile] = devices
        return found

    found = run(scenario)
    for profile, devices in found.items():
        assert len(devices) == 1
        assert devices[0].profile is PROFILES[profile]
        assert devices[0].rssi is not None


def clockless(profile: str) -> bool:
    """A sensor with neither sample counter nor clock: timed by when its notifications arrive."""
    return PROFILES[profile].seq_modulo is None and PROFILES[profile].time_modulo_s is None


# arrival-timed samples are placed on the envelope of arrivals: within a few ms of the truth on this in-memory link,
# even on a busy machine (a late packet does not move the envelope)
ARRIVAL_TOLERANCE_S = 0.006


@pytest.mark.parametrize("profile", SERVED_PROFILES)
def test_recording_equals_what_the_sensor_sent(samples, samples_52_hz, profile, tmp_path):
    out = tmp_path / f"{profile}.csv"
    samples = samples_52_hz if profile == "polar-sense" else samples
    # a sensor without clock is played in real time (its timing is measured, so there must be some to measure)
    samples, speed = (samples.slice(0, 350), 1.0) if clockless(profile) else (samples, float("inf"))

    async def scenario():
        async with virtual_world(samples, profile, speed=speed) as (sensor, central):
            status = await record(sensor, central, out)
            return sensor, status

    sensor, status = run(scenario)
    recording = read_recording(out)
    gyr, acc = expected_from(sensor, profile)
    assert len(recording.samples) == len(samples) == len(gyr)
    np.testing.assert_allclose(recording.samples.gyr_rad_s, gyr, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(recording.samples.acc_m_s2, acc, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(recording.samples.t_s, samples.t_s - samples.t_s[0],
                               atol=ARRIVAL_TOLERANCE_S if clockless(profile) else 1e-6)
    assert recording.meta.sample_rate_hz == pytest.approx(samples.rate_hz, rel=0.01)
    assert recording.meta.profile == profile and recording.lost_samples == 0 and status.warning is None
    # the sensor's own name and address, not what was typed to find it
    assert re.fullmatch(rf"{re.escape(sensor.name)} \(([0-9A-F]{{2}}:){{5}}[0-9A-F]{{2}}\S*\)",
                        recording.meta.device), recording.meta.device
    assert status.dropped_packets == 0
    assert status.battery_pct == (87 if PROFILES[profile].battery_uuid else None)
    assert recording.host_t_s is not None and np.all(np.diff(recording.host_t_s) >= 0)


@pytest.mark.parametrize("profile", ["diy", "polar-sense"])
def test_a_dropped_link_reconnects_continues_the_recording_and_marks_the_gap(samples, samples_52_hz, profile,
                                                                             tmp_path):
    out = tmp_path / "gap.csv"
    samples = samples_52_hz if profile == "polar-sense" else samples

    async def scenario():
        async with virtual_world(samples, profile, speed=20.0) as (sensor, central):
            async def cut_midway():
                while sensor.index < len(samples) // 2:
                    await asyncio.sleep(0.01)
                await sensor.drop_link(skip_samples=37)

            cutter = asyncio.create_task(cut_midway())
            # the start of the name, in any case, finds it (and the reconnection sticks to the same address)
            status = await record(sensor, central, out, target=sensor.name[:8].lower())
            await cutter
            return sensor, status

    sensor, status = run(scenario)
    recording = read_recording(out)
    gyr, _ = expected_from(sensor, profile)
    assert status.reconnects == 1
    assert recording.lost_samples == 37 == status.lost_samples
    assert [e.kind for e in recording.events] == ["gap"]
    jump = int(np.flatnonzero(np.diff(recording.seq) > 1)[0])
    assert recording.events[0].t_s == pytest.approx(recording.samples.t_s[jump], abs=1e-6)
    step_s = recording.samples.t_s[jump + 1] - recording.samples.t_s[jump]
    assert step_s == pytest.approx(38 / samples.rate_hz, abs=1e-6)  # the sensor's own times say what was missed
    np.testing.assert_allclose(recording.samples.gyr_rad_s, gyr, rtol=1e-8, atol=1e-12)  # nothing received is lost


@pytest.mark.parametrize("profile", ["witmotion", "thingy52"])
def test_a_sensor_that_keeps_its_own_rate_is_timed_by_it_and_said(samples, profile, tmp_path):
    """Firmware that ignores the rate command streams at its default 10 Hz: the times are still the sensor's, the
    duration asked for is data time, and the recording says what happened."""
    out = tmp_path / "slow.csv"

    async def scenario():
        async with virtual_world(samples, profile, speed=1.0, takes_settings=False) as (sensor, central):
            status = await record(sensor, central, out, duration_s=3.0)
            return sensor, status

    sensor, status = run(scenario)
    recording = read_recording(out)
    sent = np.array([a for a, _ in sensor.sent])
    assert np.all(np.diff(sent) == 10)  # every 10th sample of the 100 Hz truth: 10 Hz
    truth_t_s = samples.t_s[sent[: len(recording.samples)]] - samples.t_s[sent[0]]
    np.testing.assert_allclose(recording.samples.t_s, truth_t_s, atol=ARRIVAL_TOLERANCE_S)
    assert 3.0 <= recording.samples.t_s[-1] < 3.3  # it stopped after 3 s of data (10x more if timed at 100 Hz)
    assert recording.meta.sample_rate_hz == pytest.approx(10.0, rel=0.01)
    assert "streams at 10.0 Hz, not the 100 Hz" in status.warning
    assert [(e.kind, e.text) for e in recording.events] == [("rate", status.warning)]


@pytest.mark.parametrize("profile", ["witmotion", "thingy52"])
def test_a_clockless_sensor_is_set_before_it_streams_and_a_gap_is_dated_by_its_return(samples, profile, tmp_path):
    """The rate is set before notifications are on (so no sample comes at the old rate), and a link drop, in which the
    sensor's time runs on, is as long in the recording as it was: the samples lost are counted from it."""
    out = tmp_path / "gap.csv"
    samples = samples.slice(0, 700)

    async def scenario():
        async with virtual_world(samples, profile, speed=1.0) as (sensor, central):
            async def cut_midway():
                while sensor.index < 300:
                    await asyncio.sleep(0.01)
                await sensor.drop_link(time_runs_on=True)

            cutter = asyncio.create_task(cut_midway())
            status = await record(sensor, central, out)
            await cutter
            return sensor, status

    sensor, status = run(scenario)
    recording = read_recording(out)
    sent = np.array([a for a, _ in sensor.sent])
    assert np.all(np.diff(sent[:300]) == 1)  # 100 Hz from the first sample
    truth_t_s = samples.t_s[sent] - samples.t_s[sent[0]]
    np.testing.assert_allclose(recording.samples.t_s, truth_t_s, atol=ARRIVAL_TOLERANCE_S)
    jump = int(np.flatnonzero(np.diff(sent) > 1)[0])
    skipped = int(sent[jump + 1] - sent[jump] - 1)
    assert skipped > 10 and status.reconnects == 1
    assert abs(recording.lost_samples - skipped) <= 1 and recording.lost_samples == status.lost_samples
    assert recording.seq[jump + 1] - recording.seq[jump] - 1 == recording.lost_samples
    assert [e.kind for e in recording.events] == ["gap"]


def test_a_guided_session_refuses_an_accelerometer_only_sensor_saying_what_it_can_do(tmp_path, capsys):
    from imutrack.cli import main

    assert main(["live", "--device", "Polar H10 1234ABCD", "--profile", "polar-h10", "--plain", "--quiet",
                 "--out", str(tmp_path / "x.csv"), "--no-store"]) == 1
    message = capsys.readouterr().err.strip()
    assert "without a gyroscope the twist cannot be measured" in message and "posture" in message
    assert "breathing" in message and "\n" not in message
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BlueZ is the Linux backend")
def test_recording_an_accelerometer_only_sensor_is_allowed(tmp_path, capsys, monkeypatch):
    # `record` keeps what an H10 can give (posture, breathing); here it gets as far as looking for Bluetooth
    from imutrack.cli import main

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/imutrack-test-bus")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        code = main(["record", "--device", "Polar H10 1234ABCD", "--profile", "polar-h10",
                     "--out", str(tmp_path / "h10.csv")])
    message = capsys.readouterr().err
    assert code == 1 and "no Bluetooth adapter or BlueZ found" in message and "gyroscope" not in message


def test_a_polar_sensor_that_refuses_to_start_is_a_one_line_error(samples_52_hz, tmp_path):
    async def scenario():
        async with virtual_world(samples_52_hz, "polar-sense", pmd_status=13) as (sensor, central):
            with pytest.raises(ble.BleError) as info:
                await record(sensor, central, tmp_path / "x.csv")
            return str(info.value)

    message = run(scenario)
    assert message == "Polar Sense 0A1B2C3D: the Polar sensor refused to start its accelerometer: the sensor is in " \
        "its charger"
    assert not (tmp_path / "x.csv").exists()


def test_device_not_found_and_wrong_profile_are_one_line_errors(samples, tmp_path):
    async def scenario():
        errors = []
        async with virtual_world(samples, "diy") as (sensor, central):
            for target, profile in (("no-such-sensor", None), (sensor.name, PROFILES["witmotion"])):
                recorder = ble.BleRecorder(target=target, out=tmp_path / "x.csv", profile=profile,
                                           client_backend=central.client_backend,
                                           scanner_backend=central.scanner_backend, connect_timeout_s=0.5)
                with pytest.raises(ble.BleError) as info:
                    await recorder.run()
                errors.append(str(info.value))
        return errors

    not_found, wrong_profile = run(scenario)
    assert not_found == "device no-such-sensor not found; is it on, charged and in range?"
    assert "wrong --profile?" in wrong_profile and "\n" not in wrong_profile
    assert not (tmp_path / "x.csv").exists()


def test_the_target_is_an_address_a_name_or_the_start_of_a_name(tmp_path):
    recorder = ble.BleRecorder(target="polar sense", out=tmp_path / "x.csv")
    assert recorder._is_target("A0:9E:1A:00:00:01", ("Polar Sense 0A1B2C3D", None))
    assert not recorder._is_target("A0:9E:1A:00:00:02", ("Polar H10 1234", None))
    assert ble.BleRecorder(target="a0:9e:1a:00:00:01", out=tmp_path / "x.csv")._is_target("A0:9E:1A:00:00:01", ())
    assert not ble.BleRecorder(target="po", out=tmp_path / "x.csv")._is_target("X", ("Polar Sense",))  # too short
    recorder._address = "A0:9E:1A:00:00:01"  # once found, only that device: a reconnection never takes another
    assert not recorder._is_target("A0:9E:1A:00:00:03", ("Polar Sense 99999999", None))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BlueZ is the Linux backend")
def test_no_bluez_gives_an_actionable_message(monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/imutrack-test-bus")

    async def scenario():
        with pytest.raises(ble.BleError) as info:
            await ble.scan(0.5)
        return str(info.value)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        message = run(scenario)
    assert "no Bluetooth adapter or BlueZ found" in message


@pytest.mark.parametrize(("raised", "message"), [
    (ble.BleakBluetoothNotAvailableError("adapter off", None), "Bluetooth is not available"),
    (ble.BleakDeviceNotFoundError("AA:BB", "gone"), "device AA:BB not found"),
    (FileNotFoundError(2, "No such file"), "no Bluetooth adapter or BlueZ found"),
    (ble.BleakError("Not connected"), "scan: Not connected"),
    (TimeoutError(), "scan: timed out"),
])
def test_platform_failures_become_one_actionable_line(raised, message):
    with pytest.raises(ble.BleError) as info:
        with ble.bluetooth_errors("scan"):
            raise raised
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("profile", "name", "rate_hz"), [("diy", "imutrack", 100.0),
                                                          ("polar-sense", "Polar Sense 0A1B2C3D", 52.0)])
def test_a_guided_session_with_a_ble_sensor(tmp_path, capsys, profile, name, rate_hz):
    """imutrack live --device through the real bleak path (bumble virtual sensor streaming a simulated person)."""
    import contextlib

    from imutrack.cli import guide
    from imutrack.cli.parser import build_parser
    from imutrack.recording import read_recording

    session = simulate(SimulatorConfig(seed=61, reps_per_side=1, hold_s=25.0, rest_s=6.0, sample_rate_hz=rate_hz))

    @contextlib.asynccontextmanager
    async def backends():
        async with virtual_world(session.samples, profile, speed=40.0) as (sensor, central):
            yield central.client_backend, central.scanner_backend

    out = tmp_path / "live-ble.csv"
    args = build_parser().parse_args(["live", "--device", name, "--reps", "1", "--hold", "15", "--rest", "3",
                                      "--plain", "--quiet", "--out", str(out), "--db", str(tmp_path / "p.sqlite3")])
    assert guide.live_command(args, backends=backends) == 0
    text = capsys.readouterr().out
    assert "Calibrated" in text and "Hold, breathe deeply" in text and "session complete" in text
    recording = read_recording(out)
    assert recording.meta.profile == profile and recording.lost_samples == 0
    # the sensor's own name and address, not what was typed to find it
    assert re.fullmatch(rf"{re.escape(name)} \(([0-9A-F]{{2}}:){{5}}[0-9A-F]{{2}}\S*\)",
                        recording.meta.device), recording.meta.device
    assert len(recording.samples) > rate_hz * 40


def test_a_guided_session_with_a_missing_sensor_ends_with_one_line(tmp_path, samples, monkeypatch):
    import contextlib
    import functools

    from imutrack.cli import guide
    from imutrack.cli.parser import build_parser

    @contextlib.asynccontextmanager
    async def backends():
        async with virtual_world(samples, "diy") as (sensor, central):
            yield central.client_backend, central.scanner_backend

    args = build_parser().parse_args(["live", "--device", "nobody", "--reps", "1", "--hold", "15", "--rest", "3",
                                      "--plain", "--quiet", "--out", str(tmp_path / "x.csv"),
                                      "--db", str(tmp_path / "p.sqlite3")])
    monkeypatch.setattr(ble, "BleRecorder", functools.partial(ble.BleRecorder, connect_timeout_s=0.5))
    with pytest.raises(ble.BleError, match="device nobody not found"):  # one line from the CLI, no traceback
        guide.live_command(args, backends=backends)
    assert not (tmp_path / "x.csv").exists()


def _listening(port):
    """Whether something listens on 127.0.0.1:port (Linux /proc; a probe connection would be taken as the host)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                parts = line.split()
                if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
                    return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_sim_sensor_command_serves_a_recorder_across_processes(tmp_path):
    """`imutrack sim-sensor` on one virtual controller, imutrack's recorder on another, the two linked by bumble's
    controllers app over loopback TCP: a separate process serving the DIY profile, recorded through bleak."""
    import socket
    import subprocess
    import time

    from bumble.device import Device
    from bumble.transport import open_transport

    from imutrack.recording import read_recording
    from imutrack.sources.bumble_bleak import BumbleCentral

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    controllers = subprocess.Popen([sys.executable, "-m", "bumble.apps.controllers",
                                    *(f"tcp-server:127.0.0.1:{p}" for p in ports)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    sensor = None
    try:
        deadline = time.monotonic() + 30
        while not all(_listening(p) for p in ports):
            assert time.monotonic() < deadline, "bumble's controllers did not start"
            time.sleep(0.05)
        sensor = subprocess.Popen([sys.executable, "-m", "imutrack", "sim-sensor", f"tcp-client:127.0.0.1:{ports[0]}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        out = tmp_path / "from-sim-sensor.csv"

        async def record_it():
            async with await open_transport(f"tcp-client:127.0.0.1:{ports[1]}") as (source, sink):
                device = Device.with_hci("central", "F1:F1:F1:F1:F1:F1", source, sink)
                await device.power_on()
                central = BumbleCentral(device)
                recorder = ble.BleRecorder(target="imutrack", out=out, client_backend=central.client_backend,
                                           scanner_backend=central.scanner_backend, duration_s=2.0,
                                           connect_timeout_s=15.0)
                return await recorder.run()

        status = asyncio.run(record_it())
    finally:
        said = ""
        for process in (sensor, controllers):
            if process is not None:
                process.terminate()
                try:
                    said += process.communicate(timeout=20)[0] or ""
                except subprocess.TimeoutExpired:  # did not stop when asked: say so, and leave nothing running
                    process.kill()
                    said += process.communicate()[0] or ""
                    said += f"\n(process {process.args[2:4]} ignored SIGTERM)"
    assert f"serving a simulated diy sensor as 'imutrack' on tcp-client:127.0.0.1:{ports[0]}" in said
    assert "ignored SIGTERM" not in said, said
    recording = read_recording(out)
    assert recording.meta.profile == "diy" and status.battery_pct == 87
    assert recording.samples.duration_s >= 2.0 and recording.samples.rate_hz == pytest.approx(100.0)
    assert recording.lost_samples == 0 and status.dropped_packets == 0


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("spec", "words"), [
    ("nope:1", "(unknown transport scheme); transports: usb:N, vhci,"),
    ("tcp-server:127.0.0.1:notaport", "cannot open the transport (invalid literal"),
    ("serial:/nonexistent/port", "is the controller on that port?"),
    (f"tcp-client:127.0.0.1:{_closed_port()}", "is a Bluetooth controller (or an emulator) listening there?"),
    ("tcp-server:0.0.0.0:9999", "would listen beyond this computer"),
])
def test_sim_sensor_says_in_one_line_why_a_transport_cannot_open(spec, words, capsys):
    from imutrack.cli import main

    assert main(["sim-sensor", spec]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"imutrack: error: {'sim-sensor ' if 'beyond' not in words else ''}{spec}") and words in line
    assert "Traceback" not in captured.out + captured.err


def test_record_reads_a_ble_sensor_as_it_reads_any_source(tmp_path, samples, capsys):
    """imutrack record --device, through the Source protocol and the real bleak path: the recording holds exactly
    what the sensor sent, up to --duration, with the person's notes."""
    import argparse
    import contextlib

    from imutrack.cli import record as record_cli

    served = []

    @contextlib.asynccontextmanager
    async def backends():
        async with virtual_world(samples, "diy", speed=20.0) as (sensor, central):
            served.append(sensor)
            yield central.client_backend, central.scanner_backend

    out = tmp_path / "rec.csv"
    args = argparse.Namespace(device="imutrack", phyphox=None, simulate=False, profile=None, out=out, duration=8.0,
                              speed=1.0, assisted="unassisted", notes="by the window", poll=0.1)
    assert record_cli.record_command(args, backends=backends) == 0
    recording = read_recording(out)
    gyr, _ = expected_from(served[0], "diy")
    n = len(recording.samples)
    assert 8.0 <= recording.samples.duration_s < 9.0 and n <= len(gyr)
    np.testing.assert_allclose(recording.samples.gyr_rad_s, gyr[:n], rtol=1e-8, atol=1e-12)
    assert recording.meta.assisted == "unassisted" and recording.meta.notes == "by the window"
    assert recording.meta.device.startswith("imutrack (") and recording.lost_samples == 0
    assert f"recorded {n:,} samples" in capsys.readouterr().out
