import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imutrack.cli import main
from imutrack.errors import ImutrackWarning, RecordingFormatError
from imutrack.recording import (
    RecordingEvent,
    RecordingMeta,
    RecordingWriter,
    parse_recording,
    read_recording,
    write_recording,
)
from imutrack.samples import ImuSamples

META = RecordingMeta(device="test", profile="simulator", sample_rate_hz=100.0, start_time="2026-11-24T08:00:00+01:00")


def block(n, t0=0.0, mag=False, seed=0):
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) * 0.01
    return ImuSamples(t, rng.normal(0, 1, (n, 3)), rng.normal(0, 5, (n, 3)), rng.normal(0, 40, (n, 3)) if mag else None)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 40),
    data=st.data(),
    mag=st.booleans(),
    host=st.booleans(),
    notes=st.text(max_size=40),
)
def test_round_trip_preserves_samples_meta_and_events(tmp_path_factory, n, data, mag, host, notes):
    steps = data.draw(arrays(np.float64, n, elements=st.floats(1e-5, 10.0)))
    t = np.cumsum(steps) if n else np.zeros(0)
    gyr, acc, mg = (data.draw(arrays(np.float64, (n, 3), elements=finite)) for _ in range(3))
    samples = ImuSamples(t, gyr, acc, mg if mag else None)
    seq = np.arange(n) * 2 + 5
    host_t = t + 0.25 if host else None
    meta = RecordingMeta(device="dev,ice", notes=notes, sample_rate_hz=50.0, extra={"custom": "x: y"})
    events = [RecordingEvent(1.5, "gap", "link lost, back after 2 s")]
    path = tmp_path_factory.mktemp("rt") / "r.csv"
    write_recording(path, samples, meta, seq=seq, host_t_s=host_t, events=events)
    back = read_recording(path)
    np.testing.assert_allclose(back.samples.t_s, t, rtol=0, atol=1e-6)
    for got, want in ((back.samples.gyr_rad_s, gyr), (back.samples.acc_m_s2, acc)):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-300)
    assert back.samples.has_mag == mag
    np.testing.assert_array_equal(back.seq, seq)
    assert (back.host_t_s is not None) == host
    assert back.meta.device == "dev,ice" and back.meta.extra == {"custom": "x: y"}
    assert back.meta.notes == " ".join(notes.splitlines()).strip()
    assert back.events == events
    assert back.lost_samples == max(n - 1, 0)


def test_writer_refuses_to_overwrite_and_rejects_time_going_back(tmp_path):
    path = tmp_path / "r.csv"
    with RecordingWriter(path, META) as writer:
        writer.append(block(10))
        with pytest.raises(RecordingFormatError, match="not after the last sample"):
            writer.append(block(10))
    with pytest.raises(RecordingFormatError, match="already exists"):
        RecordingWriter(path, META)
    assert len(read_recording(path).samples) == 10


def test_writer_flushes_to_disk_once_the_interval_has_passed(tmp_path):
    now = [0.0]
    path = tmp_path / "r.csv"
    writer = RecordingWriter(path, META, flush_interval_s=1.0, clock=lambda: now[0])
    writer.append(block(50))
    now[0] = 0.5
    writer.append(block(50, t0=0.5))
    assert writer.samples_flushed == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        on_disk = parse_recording(path.read_text(encoding="utf-8"))
    assert len(on_disk.samples) <= 100
    now[0] = 1.0
    writer.append(block(50, t0=1.0))
    assert writer.samples_flushed == 150
    assert len(parse_recording(path.read_text(encoding="utf-8")).samples) == 150
    writer.close()


CHILD = """
import sys, numpy as np
from imutrack.recording import RecordingMeta, RecordingWriter
from imutrack.samples import ImuSamples
writer = RecordingWriter(sys.argv[1], RecordingMeta(device="child"), flush_interval_s=0.02)
reported, k = 0, 0
while True:
    t = (k * 10 + np.arange(10)) * 0.001
    writer.append(ImuSamples(t, np.zeros((10, 3)), np.full((10, 3), 5.66)))
    k += 1
    if writer.samples_flushed != reported:
        reported = writer.samples_flushed
        print(reported, flush=True)
"""


def test_kill_9_keeps_everything_that_was_flushed(tmp_path):
    path = tmp_path / "killed.csv"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    flushed = 0
    for line in child.stdout:
        flushed = int(line)
        if flushed >= 5000:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)  # the last line may be torn
        recording = read_recording(path)
    assert len(recording.samples) >= flushed >= 5000
    np.testing.assert_array_equal(recording.seq, np.arange(len(recording.samples)))


def valid_text(n=20, mag=False):
    lines = META.header_lines()
    cols = "t_s,seq,gyr_x_rad_s,gyr_y_rad_s,gyr_z_rad_s,acc_x_m_s2,acc_y_m_s2,acc_z_m_s2"
    lines.append(cols + (",mag_x_uT,mag_y_uT,mag_z_uT" if mag else ""))
    for i in range(n):
        values = [f"{i * 0.01:.6f}", str(i)] + ["0.5"] * (9 if mag else 6)
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def test_torn_last_line_is_dropped_with_a_warning_naming_the_line():
    text = valid_text(20)
    torn = text[:-9]
    with pytest.warns(ImutrackWarning, match=r"r\.csv:30: ignored a partial last line"):
        recording = parse_recording(torn, "r.csv")
    assert len(recording.samples) == 19


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("# imutrack recording v1", "hello"), r"r\.csv:1: not an imutrack recording"),
        (lambda t: t.replace("# imutrack recording v1", "# imutrack recording v9"), "version '9' is not supported"),
        (lambda t: t.replace(",acc_z_m_s2", ""), r"r\.csv:10: column 'acc_z_m_s2' is missing"),
        (lambda t: t.replace(",acc_z_m_s2", ",acc_z_g"), "unknown column 'acc_z_g'"),
        (lambda t: t.replace("0.050000,5,0.5", "0.050000,5,abc"), r"r\.csv:16: value 3 is not a number: 'abc'"),
        (lambda t: t.replace("0.050000,5,0.5,", "0.050000,5,"), r"r\.csv:16: expected 8 values, found 7"),
        (lambda t: t.replace("0.050000,5,0.5", "0.050000,5,nan"), r"r\.csv:16: value 3 is not finite"),
        (lambda t: t.replace("0.050000,5,", "0.030000,5,"), r"r\.csv:16: time t_s=0.030000 s does not increase"),
        (lambda t: t.replace("0.050000,5,", "0.050000,5.5,"), r"r\.csv:16: seq must be a whole number"),
        (lambda t: t.replace("# device: test", "# device test"), r"r\.csv:2: header line is not"),
        (lambda t: t.replace("# sample_rate_hz: 100.0", "# sample_rate_hz: fast"), "sample_rate_hz is not a number"),
        (lambda t: t.split("t_s,seq")[0], "ends inside its header"),
    ],
)
def test_malformed_files_give_one_error_naming_file_and_line(mutate, message):
    with pytest.raises(RecordingFormatError, match=message):
        parse_recording(mutate(valid_text(20)), "r.csv")


def test_windows_line_ends_and_comment_lines_are_accepted():
    text = valid_text(5).replace("\n", "\r\n")
    recording = parse_recording(text, "crlf.csv")
    assert len(recording.samples) == 5
    assert recording.meta.device == "test"


@settings(max_examples=300, deadline=None)
@given(
    st.data(),
    st.sampled_from(["cut", "replace", "insert"]),
    st.text(alphabet="0123456789.,-e#\n\r naxyz_", max_size=12),
)
def test_fuzzed_files_raise_only_the_format_error(data, how, junk):
    text = valid_text(6, mag=data.draw(st.booleans()))
    at = data.draw(st.integers(0, len(text)))
    if how == "cut":
        text = text[:at]
    elif how == "replace":
        text = text[:at] + junk + text[at + len(junk) :]
    else:
        text = text[:at] + junk + text[at:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parse_recording(text, "fuzz.csv")
        except RecordingFormatError as exc:
            assert str(exc).startswith("fuzz.csv")
            assert "\n" not in str(exc)
    assert all(issubclass(w.category, ImutrackWarning) for w in caught)


def test_cli_info_reports_bad_files_in_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(valid_text(5).replace("0.030000,3,0.5", "0.030000,3,x"), encoding="utf-8")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"imutrack: error: {bad}:14: value 3 is not a number: 'x'"
    assert main(["info", str(tmp_path / "missing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"# imutrack recording v1\n\xff\xfe")
    assert main(["info", str(binary)]) == 1
    assert "not UTF-8" in capsys.readouterr().err


def test_cli_info_prints_a_warning_for_a_torn_file(tmp_path, capsys):
    torn = tmp_path / "torn.csv"
    torn.write_text(valid_text(5)[:-4], encoding="utf-8")
    assert main(["info", str(torn)]) == 0
    captured = capsys.readouterr()
    assert "imutrack: warning:" in captured.err and "partial last line" in captured.err
    assert "torn.csv" in captured.out


@pytest.fixture(params=["numpy", "pandas"])
def fast_parser(request, monkeypatch):
    """The fast path's parser: numpy's loadtxt, or pandas' C parser (what long files and a process that has imported
    pandas use)."""
    from imutrack import recording

    monkeypatch.setattr(recording, "_pandas_pays", lambda size: request.param == "pandas")
    return request.param


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("with_events", [True, False])
def test_large_files_read_fast_and_the_same_as_the_careful_parser(tmp_path, line_end, with_events, fast_parser):
    path = tmp_path / "big.csv"
    events = [RecordingEvent(3.0, "gap", "link lost; back after 1.5 s"), RecordingEvent(7.5, "note", "x")] \
        if with_events else []
    write_recording(path, block(5000, mag=True), META, events=events)
    if line_end != "\n":
        path.write_bytes(path.read_bytes().replace(b"\n", line_end.encode()))
    fast = read_recording(path)  # > 64 KiB, complete: the fast path
    careful = parse_recording(path.read_bytes().decode(), str(path), path)
    assert len(fast.samples) == 5000 and fast.events == careful.events == events
    np.testing.assert_array_equal(fast.samples.acc_m_s2, careful.samples.acc_m_s2)
    np.testing.assert_array_equal(fast.samples.gyr_rad_s, careful.samples.gyr_rad_s)
    np.testing.assert_array_equal(fast.samples.mag_uT, careful.samples.mag_uT)
    np.testing.assert_array_equal(fast.samples.t_s, careful.samples.t_s)
    np.testing.assert_array_equal(fast.seq, careful.seq)
    assert fast.meta == careful.meta


def test_a_bad_row_deep_in_a_large_file_is_still_named_by_line(tmp_path, fast_parser):
    path = tmp_path / "big.csv"
    write_recording(path, block(5000), META)
    lines = path.read_text().split("\n")
    lines[4000] = lines[4000].replace(",", ",x", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(RecordingFormatError, match=r"big\.csv:4001: value 2 is not a number"):
        read_recording(path)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: t.replace("\n0.050000,5,", "\n0.030000,5,", 1), r"big\.csv:16: time t_s=0.030000 s does not increase"),
    (lambda t: t.replace("\n0.050000,5,", "\n0.050000,5.5,", 1), r"big\.csv:16: seq must be a whole number"),
])
def test_a_large_file_with_a_bad_row_gives_the_same_one_line_error(tmp_path, mutate, message, fast_parser):
    # above 64 KiB the reader takes its fast path first; a row it cannot take had raised a TypeError there
    path = tmp_path / "big.csv"
    path.write_text(mutate(valid_text(3000)), encoding="utf-8")
    assert path.stat().st_size > 64 * 1024
    with pytest.raises(RecordingFormatError, match=message):
        read_recording(path)


def test_record_the_simulated_person_as_any_source(tmp_path, capsys):
    # the simulator is a live source like a sensor: its recording is the session its seed makes, sample for sample
    from imutrack.sources.simulator import SimulatorConfig, simulate

    out = tmp_path / "sim.csv"
    assert main(["record", "--simulate", "--seed", "0", "--speed", "0", "--duration", "30", "--out", str(out),
                 "--unassisted", "--notes", "morning"]) == 0
    recording = read_recording(out)
    seed = int(recording.meta.extra["simulator_seed"])
    session = simulate(SimulatorConfig(sample_rate_hz=50.0, seed=seed))
    n = len(recording.samples)
    assert 30.0 <= recording.samples.duration_s < 30.2
    np.testing.assert_allclose(recording.samples.gyr_rad_s, session.samples.gyr_rad_s[:n], rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(recording.samples.t_s, session.samples.t_s[:n], atol=1e-9)
    assert recording.meta.assisted == "unassisted" and recording.meta.notes == "morning"
    assert recording.meta.profile == "simulator"
