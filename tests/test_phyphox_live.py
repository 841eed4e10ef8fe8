"""The live phone stream against a fake phyphox on loopback: every sample once, none extrapolated."""

import numpy as np
import pytest

from imutrack.errors import ImutrackError
from imutrack.samples import ImuSamples
from imutrack.sources.phyphox_live import BufferNames, PhyphoxStream
from imutrack.sources.simulator import SimulatorConfig, simulate
from tests.conftest import flat
from tests.fake_phyphox import FakePhyphox


@pytest.fixture(scope="module")
def samples():
    return simulate(SimulatorConfig(seed=51, reps_per_side=0, neutral_s=12.0, end_rest_s=0.0,
                                    sample_rate_hz=100.0)).samples


def test_polling_gets_every_sample_exactly_once(samples):
    with FakePhyphox(samples) as phone:
        stream = PhyphoxStream(phone.url)
        stream.start()
        batches = []
        while phone.now < samples.t_s[-1] + 1.0:
            batch = stream.poll()
            if batch is not None:
                batches.append(batch)
    got = ImuSamples.concatenate(batches)
    # everything from the first gyro sample with accelerometer data before it, to the last one with data after it
    first = int(np.searchsorted(samples.t_s, phone.acc[0, 0]))
    last = int(np.searchsorted(samples.t_s, phone.acc[-1, 0], side="right"))
    assert len(got) == last - first and len(batches) > 20
    np.testing.assert_array_equal(got.gyr_rad_s, samples.gyr_rad_s[first:last])
    np.testing.assert_allclose(got.t_s, samples.t_s[first:last] - samples.t_s[first], atol=1e-12)
    expected = np.column_stack([np.interp(samples.t_s[first:last], phone.acc[:, 0], phone.acc[:, k])
                                for k in (1, 2, 3)])
    np.testing.assert_allclose(got.acc_m_s2, expected, atol=1e-12)


def test_wrong_buffers_and_no_phone_are_one_line_errors(samples):
    with FakePhyphox(samples) as phone:
        stream = PhyphoxStream(phone.url, names=BufferNames(gyr=("gyroX", "gyroY", "gyroZ", "gyro_time")))
        stream.start()
        with pytest.raises(ImutrackError, match="has no buffer gyroX"):
            stream.poll()
    # the fake is gone: nothing listens on that port any more
    with pytest.raises(ImutrackError, match="phyphox did not answer"):
        PhyphoxStream(phone.url, timeout_s=1.0).poll()
    with pytest.raises(ImutrackError, match="not a phyphox remote-access address"):
        PhyphoxStream("ftp://phone")


def test_cli_record_from_a_phyphox_phone(samples, tmp_path, capsys):
    from imutrack.cli import main
    from imutrack.recording import read_recording

    out = tmp_path / "phone.csv"
    with FakePhyphox(samples, seconds_per_request=2.0) as phone:
        assert main(["record", "--phyphox", phone.url, "--out", str(out), "--duration", "10",
                     "--poll", "0.01"]) == 0
    recording = read_recording(out)
    assert recording.meta.profile == "phyphox-live"
    assert recording.samples.duration_s == pytest.approx(10.0, abs=2.1)
    np.testing.assert_allclose(recording.samples.gyr_rad_s, samples.gyr_rad_s[1:1 + len(recording.samples)],
                               rtol=1e-8, atol=1e-15)  # 9 significant digits in the file


def test_the_shipped_phyphox_experiment_matches_the_importer_and_the_live_stream():
    import xml.etree.ElementTree as ET

    from imutrack.io.phyphox import _kind
    from tests.conftest import REPO

    root = ET.parse(REPO / "imutrack" / "sources" / "imutrack-twist.phyphox").getroot()
    outputs = {s.get("type"): [o.text for o in s.findall("output")] for s in root.find("input").findall("sensor")}
    names = BufferNames()
    assert outputs["gyroscope"] == list(names.gyr) and outputs["accelerometer"] == list(names.acc)
    sets = {s.get("name"): [d.get("name") for d in s.findall("data")] for s in root.find("export").findall("set")}
    assert _kind(sets["Gyroscope"][1:], "Gyroscope.csv") == "gyr"
    assert _kind(sets["Accelerometer"][1:], "Accelerometer.csv") == "acc"
    assert all(headers[0] == "Time (s)" for headers in sets.values())


def test_cli_live_with_a_phyphox_phone(tmp_path, capsys):
    from imutrack.cli import main

    session = simulate(SimulatorConfig(seed=52, reps_per_side=1, hold_s=30.0, rest_s=10.0, sample_rate_hz=50.0))
    with FakePhyphox(session.samples, seconds_per_request=1.0) as phone:
        assert main(["live", "--phyphox", phone.url, "--poll", "0.005", "--plain", "--reps", "1", "--hold", "20",
                     "--rest", "3", "--out", str(tmp_path / "live.csv"), "--no-store", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Calibrated" in text and "Hold, breathe deeply" in text and "session complete" in text


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl-C, and a polite request from the system
def test_ctrl_c_while_recording_closes_the_file_cleanly(samples, tmp_path, stop):
    import os
    import signal
    import subprocess
    import sys
    import time

    from imutrack.recording import read_recording

    out = tmp_path / "interrupted.csv"
    with FakePhyphox(samples, seconds_per_request=0.2) as phone:
        process = subprocess.Popen([sys.executable, "-m", "imutrack", "record", "--phyphox", phone.url, "--out",
                                    str(out), "--poll", "0.02"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20_000):
            time.sleep(0.05)  # waiting for the recording to grow (polled, not a fixed sleep for correctness)
        os.kill(process.pid, getattr(signal, stop))
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert out.read_bytes().endswith(b"\n")  # no torn line: closed cleanly
    recording = read_recording(out)
    assert len(recording.samples) > 100 and f"recorded {len(recording.samples):,} samples" in flat(stdout)


NAMES = BufferNames().gyr + BufferNames().acc


@pytest.mark.parametrize("answer", [
    b"[1, 2, 3]",  # a JSON array
    b'"hello"',  # a JSON string
    b'{"buffer": {' + b", ".join(b'"%s": [1, 2]' % n.encode() for n in NAMES) + b"}}",  # buffers as lists
    b'{"buffer": {' + b", ".join(b'"%s": "abc"' % n.encode() for n in NAMES) + b"}}",  # buffers as strings
    b'{"buffer": {' + b", ".join(b'"%s": {"buffer": ["x", 1]}' % n.encode() for n in NAMES) + b"}}",
])
def test_an_answer_that_is_not_phyphoxs_is_one_clear_error(answer):
    stream = PhyphoxStream("http://127.0.0.1:1", http_get=lambda url, timeout: answer)
    with pytest.raises(ImutrackError, match=r"127\.0\.0\.1:1/get: .*(not phyphox's JSON|not a list of numbers)"):
        stream.poll()


def test_nulls_in_a_buffer_are_missing_values_not_an_error():
    document = {"buffer": {n: {"buffer": [0.0, None, 0.02] if n.endswith("time") else [0.1, None, 0.1]}
                           for n in NAMES}}
    import json

    stream = PhyphoxStream("http://127.0.0.1:1", http_get=lambda url, timeout: json.dumps(document).encode())
    batch = stream.poll()
    assert batch is not None and len(batch) == 2  # the row with a missing value is left out
