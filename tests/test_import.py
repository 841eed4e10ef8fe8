"""Importing phone-app exports and plain CSVs: real-shaped files, merged clocks, units by gravity, bad input."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imutrack.analysis import analyze
from imutrack.cli import main
from imutrack.errors import ImutrackWarning, RecordingFormatError
from imutrack.io import detect, load
from imutrack.io.phyphox import read_phyphox
from imutrack.recording import read_recording
from imutrack.sources.simulator import SimulatorConfig, simulate
from tests.conftest import REPO, flat
from tests.phone_files import phyphox_tables, write_zip

DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def still():
    return simulate(SimulatorConfig(seed=21, reps_per_side=0, neutral_s=10.0, end_rest_s=0.0,
                                    sample_rate_hz=50.0)).samples


@pytest.mark.parametrize("name", ["phyphox-android.zip", "phyphox-ios-semicolon"])
def test_phyphox_exports_import_with_both_clocks_merged(name, still):
    path = DATA / name
    assert detect(path) == "phyphox"
    recording = load(path)
    samples = recording.samples
    assert recording.meta.profile == "phyphox" and recording.meta.chest_normal_axis == "+z"
    assert recording.meta.start_time == "2025-11-24T09:15:00+01:00"  # in the phone's zone, as its export says
    # the gyro clock is the timeline; the accelerometer (25 Hz, 3 ms late) is interpolated onto it, never beyond
    assert samples.rate_hz == pytest.approx(50.0)
    first = int(round(0.003 * 50)) + 1  # gyro samples before the first acc sample are not extrapolated
    np.testing.assert_allclose(samples.gyr_rad_s, still.gyr_rad_s[first:first + len(samples)], rtol=1e-8,
                               atol=1e-12)
    acc_t = still.t_s[::2] + 0.003  # what the export holds (see tests/phone_files.py)
    exported = np.column_stack([np.interp(acc_t, still.t_s, still.acc_m_s2[:, k]) for k in range(3)])
    gyro_t = still.t_s[first:first + len(samples)]
    expected = np.column_stack([np.interp(gyro_t, acc_t, exported[:, k]) for k in range(3)])
    np.testing.assert_allclose(samples.acc_m_s2, expected, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(samples.t_s, gyro_t - gyro_t[0], atol=1e-9)
    assert len(samples) >= len(still) - 3


def test_a_phone_session_exported_by_phyphox_analyses_like_the_recording(tmp_path):
    session = simulate(SimulatorConfig(seed=22, reps_per_side=1, sample_rate_hz=100.0))
    zip_path = write_zip(tmp_path / "twist.zip", phyphox_tables(session.samples))
    result = analyze(zip_path)
    assert [h.side for h in result.holds] == ["left", "right"]
    for hold, rep in zip(result.holds, session.truth.reps):
        assert hold.mean_twist_deg == pytest.approx(rep.mean_twist_deg, abs=1.0)
        assert hold.duration_s == pytest.approx(rep.hold_duration_s, abs=0.2)


def test_what_phyphox_tables_must_contain(still):
    tables = phyphox_tables(still)
    only_acc = {k: v for k, v in tables.items() if k != "Gyroscope.csv"}
    with pytest.raises(RecordingFormatError, match="no gyroscope table .*accelerometer \\(with g\\)"):
        read_phyphox(only_acc, "x.zip")
    linear = dict(tables, **{"Accelerometer.csv": tables["Accelerometer.csv"].replace("Acceleration",
                                                                                      "Linear Acceleration")})
    with pytest.raises(RecordingFormatError, match="no accelerometer \\(with g\\)"):
        read_phyphox(linear, "x.zip")
    in_g = phyphox_tables(still.__class__(still.t_s, still.gyr_rad_s, still.acc_m_s2 / 9.80665))
    with pytest.raises(RecordingFormatError, match="not about 1 g; it looks like g"):
        read_phyphox(in_g, "x.zip")


def test_rows_that_cannot_be_read_are_skipped_and_said(still):
    tables = phyphox_tables(still)
    lines = tables["Gyroscope.csv"].split("\n")
    lines[5] = "garbage;;;"
    lines[9] = lines[9].rsplit(",", 1)[0]
    tables["Gyroscope.csv"] = "\n".join(lines)
    with pytest.warns(ImutrackWarning) as caught:
        samples, _, notes = read_phyphox(tables, "x.zip")
        for note in notes:
            warnings.warn(note, ImutrackWarning)
    messages = " ".join(str(w.message) for w in caught)
    assert "line 6" in messages and "line 10" in messages
    assert len(samples) >= len(still) - 5


def test_generic_csv_with_columns_and_units(tmp_path, still):
    t_ms = still.t_s * 1000 + 5000
    rows = ["time_ms;gx;gy;gz;ax;ay;az"] + [
        ";".join(f"{v:.6f}".replace(".", ",") for v in (t, *np.degrees(g), *(a / 9.80665)))
        for t, g, a in zip(t_ms, still.gyr_rad_s, still.acc_m_s2)
    ]
    path = tmp_path / "logger.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = dict(t="time_ms", gx="gx", gy="gy", gz="gz", ax="5", ay="6", az="7")
    recording = load(path, columns=columns, units=dict(t="ms", gyr="deg/s"))  # acc unit found by gravity: g
    np.testing.assert_allclose(recording.samples.t_s, still.t_s, atol=1e-6)
    np.testing.assert_allclose(recording.samples.gyr_rad_s, still.gyr_rad_s, atol=1e-6)
    np.testing.assert_allclose(recording.samples.acc_m_s2, still.acc_m_s2, atol=1e-4)
    with pytest.raises(RecordingFormatError, match="not about 1 g; it looks like g"):
        load(path, columns=columns, units=dict(t="ms", acc="m/s2"))
    with pytest.raises(RecordingFormatError, match="must name az"):
        load(path, columns={k: v for k, v in columns.items() if k != "az"})
    with pytest.raises(RecordingFormatError, match="unknown gyr unit 'rpm'"):
        load(path, columns=columns, units=dict(gyr="rpm"))
    with pytest.raises(RecordingFormatError, match=r"convert it with .imutrack import .* --columns t=…"):
        load(path)


def test_cli_import_then_analyze(tmp_path, capsys):
    session = simulate(SimulatorConfig(seed=23, reps_per_side=1, hold_s=20.0, sample_rate_hz=50.0))
    zip_path = write_zip(tmp_path / "phone.zip", phyphox_tables(session.samples))
    assert main(["import", str(zip_path), "--out", str(tmp_path / "rec")]) == 0
    assert "5,250 samples" in flat(capsys.readouterr().out)
    converted = tmp_path / "rec" / "phone.csv"
    assert read_recording(converted).meta.profile == "phyphox"
    assert main(["analyze", str(zip_path), "--json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert [h["side"] for h in document["holds"]] == ["left", "right"]
    assert main(["import", str(tmp_path / "missing.zip")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("start", [1e300, float("nan"), -1e20])
def test_a_start_time_no_clock_can_show_is_left_out(still, start):
    samples, meta, _ = read_phyphox(phyphox_tables(still.slice(0, 200), start_unix_s=start), "odd.zip")
    usual, usual_meta, _ = read_phyphox(phyphox_tables(still.slice(0, 200)), "usual.zip")
    assert meta.start_time == "" and usual_meta.start_time != "" and len(samples) == len(usual)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(["cut", "junk"]), st.text(alphabet='0123456789.,;-E"\n xyz()/', max_size=10))
def test_fuzzed_phyphox_tables_raise_only_the_format_error(still, data, how, junk):
    tables = phyphox_tables(still.slice(0, 200))
    name = data.draw(st.sampled_from(["Gyroscope.csv", "Accelerometer.csv", "meta/time.csv"]))
    text = tables[name]
    at = data.draw(st.integers(0, len(text)))
    tables[name] = text[:at] if how == "cut" else text[:at] + junk + text[at:]
    try:
        read_phyphox(tables, "fuzz.zip")
    except RecordingFormatError as exc:
        assert str(exc).startswith("fuzz.zip") and "\n" not in str(exc)


@pytest.mark.parametrize(("name", "fmt"), [("sensor-logger-android.zip", "sensor-logger"),
                                           ("sensor-logger-ios", "sensor-logger"),
                                           ("polar-sensor-logger", "polar-logger")])
def test_other_apps_exports_import_onto_the_gyro_clock(name, fmt, still):
    path = DATA / name
    assert detect(path) == fmt
    recording = load(path)
    samples = recording.samples
    assert recording.meta.profile == fmt
    assert samples.rate_hz == pytest.approx(50.0, rel=1e-3)
    n = len(samples)
    first = int(np.searchsorted(still.t_s, still.t_s[0] + 0.0095))  # gyro samples before the first acc sample
    np.testing.assert_allclose(samples.gyr_rad_s, still.gyr_rad_s[first:first + n], rtol=1e-4, atol=2e-6)
    # the accelerometer with gravity is rebuilt (from TotalAcceleration, or −(user + gravity) on iOS) and
    # interpolated onto the gyro clock: it is within the accelerometer's own noise of what the sensor measured
    np.testing.assert_allclose(samples.acc_m_s2, still.acc_m_s2[first:first + n], atol=0.06)
    assert n >= len(still) - 8


def test_sensor_logger_without_gravity_streams_and_a_polar_h10_say_what_is_missing(tmp_path, still):
    from tests.phone_files import polar_logger_tables, sensor_logger_tables, write_folder

    tables = sensor_logger_tables(still, "ios")
    del tables["Gravity.csv"]
    folder = write_folder(tmp_path / "sl", tables)
    with pytest.raises(RecordingFormatError, match="no accelerometer with gravity"):
        load(folder)
    h10 = write_folder(tmp_path / "h10", polar_logger_tables(still, with_gyro=False))
    with pytest.raises(RecordingFormatError, match="twist cannot be measured without a gyroscope.*breathing"):
        load(h10, fmt="polar-logger")


def _generic_text(samples):
    rows = ["t,gx,gy,gz,ax,ay,az"] + [",".join(f"{v:.6g}" for v in (t, *g, *a))
                                       for t, g, a in zip(samples.t_s, samples.gyr_rad_s, samples.acc_m_s2)]
    return "\n".join(rows) + "\n"


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(["sensor-logger", "polar-logger", "generic"]),
       st.text(alphabet='0123456789.,;-E"\n xyz()/[]_', max_size=10))
def test_fuzzed_exports_of_every_app_raise_only_the_format_error(still, data, fmt, junk):
    from imutrack.io.generic import read_generic
    from imutrack.io.polar_logger import read_polar_logger
    from imutrack.io.sensor_logger import read_sensor_logger
    from tests.phone_files import polar_logger_tables, sensor_logger_tables

    short = still.slice(0, 150)
    tables = {"sensor-logger": lambda: sensor_logger_tables(short, data.draw(st.sampled_from(["android", "ios"]))),
              "polar-logger": lambda: polar_logger_tables(short),
              "generic": lambda: {"x.csv": _generic_text(short)}}[fmt]()
    name = data.draw(st.sampled_from(sorted(tables)))
    text = tables[name]
    at = data.draw(st.integers(0, len(text)))
    tables[name] = text[:at] + junk + text[at + data.draw(st.integers(0, 30)):]
    columns = dict(t="t", gx="gx", gy="gy", gz="gz", ax="ax", ay="ay", az="az")
    try:
        if fmt == "sensor-logger":
            read_sensor_logger(tables, "fuzz")
        elif fmt == "polar-logger":
            read_polar_logger(tables, "fuzz")
        else:
            read_generic(tables["x.csv"], "fuzz", columns, {})
    except RecordingFormatError as exc:
        assert str(exc).startswith("fuzz") and "\n" not in str(exc)


def test_rows_going_back_in_time_are_left_out_and_said(tmp_path, still):
    text = _generic_text(still.slice(0, 100)).split("\n")
    text[50], text[51] = text[51], text[50]  # two rows swapped
    path = tmp_path / "swapped.csv"
    path.write_text("\n".join(text), encoding="utf-8")
    with pytest.warns(ImutrackWarning, match="1 rows with a time that does not increase were left out"):
        recording = load(path, columns=dict(t="t", gx="gx", gy="gy", gz="gz", ax="ax", ay="ay", az="az"))
    assert len(recording.samples) == 99


def test_analyze_finds_phone_exports_in_folders(tmp_path, capsys):
    from tests.phone_files import sensor_logger_tables, write_folder

    session = simulate(SimulatorConfig(seed=24, reps_per_side=1, hold_s=20.0, sample_rate_hz=50.0))
    folder = tmp_path / "exports"
    folder.mkdir()
    write_zip(folder / "morning.zip", phyphox_tables(session.samples))
    (folder / "notes.txt").write_text("not data")
    sensor_logger = write_folder(tmp_path / "evening-sensor-logger", sensor_logger_tables(session.samples, "ios"))
    assert main(["analyze", str(folder), str(sensor_logger), "--json", "--jobs", "1"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert sorted(d["meta"]["profile"] for d in documents) == ["phyphox", "sensor-logger"]
    assert all([h["side"] for h in d["holds"]] == ["left", "right"] for d in documents)


def test_a_generic_csv_in_units_other_than_declared_is_refused_with_the_fix(tmp_path):
    session = simulate(SimulatorConfig(seed=24, reps_per_side=1, hold_s=20.0, sample_rate_hz=50.0))
    s = session.samples
    columns = dict(t="t", gx="gx", gy="gy", gz="gz", ax="ax", ay="ay", az="az")

    def write(t, gyr) -> Path:
        path = tmp_path / "x.csv"
        rows = ["t,gx,gy,gz,ax,ay,az"] + [",".join(f"{v:.9g}" for v in (ti, *g, *a))
                                          for ti, g, a in zip(t, gyr, s.acc_m_s2)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return path

    ms = write(s.t_s * 1000.0, s.gyr_rad_s)  # milliseconds, not declared: read as seconds
    with pytest.raises(RecordingFormatError, match=r"0\.05 Hz.*say --units t=ms"):
        load(ms, columns=columns)
    assert load(ms, columns=columns, units=dict(t="ms")).samples.rate_hz == pytest.approx(50.0)
    degrees = write(s.t_s, np.degrees(s.gyr_rad_s))  # degrees per second, not declared: read as radians
    with pytest.raises(RecordingFormatError, match="say --units gyr=deg/s"):
        load(degrees, columns=columns)
    np.testing.assert_allclose(load(degrees, columns=columns, units=dict(gyr="deg/s")).samples.gyr_rad_s,
                               s.gyr_rad_s, atol=1e-6)
    seconds_as_ns = write(s.t_s * 1e9, s.gyr_rad_s)
    with pytest.raises(RecordingFormatError, match="say --units t=ns"):
        load(seconds_as_ns, columns=columns, units=dict(t="us"))


def _patched_zip(source: Path, target: Path, field: str, value: int) -> Path:
    """A copy of a zip whose first member says it is encrypted (``field="flag"``) or compressed with method
    ``value`` (``field="method"``), in its local header and its central directory entry alike."""
    import struct

    raw = bytearray(source.read_bytes())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    for at in ((local + 6, central + 8) if field == "flag" else (local + 8, central + 10)):
        old = struct.unpack_from("<H", raw, at)[0]
        struct.pack_into("<H", raw, at, (old | value) if field == "flag" else value)
    target.write_bytes(bytes(raw))
    return target


def test_zips_that_cannot_or_should_not_be_read_are_refused_in_one_line(tmp_path, still, monkeypatch):
    import imutrack.io

    good = write_zip(tmp_path / "good.zip", phyphox_tables(still.slice(0, 500)))
    assert len(load(good).samples) > 400
    locked = _patched_zip(good, tmp_path / "locked.zip", "flag", 0x1)
    with pytest.raises(RecordingFormatError, match=r"locked\.zip: .* cannot be read .*encrypted.*without a password"):
        load(locked)
    odd = _patched_zip(good, tmp_path / "odd.zip", "method", 97)
    with pytest.raises(RecordingFormatError, match=r"odd\.zip: .* cannot be read .*compression"):
        load(odd)
    monkeypatch.setattr(imutrack.io, "MAX_TABLE_BYTES", 1000)  # a member that would unpack to more is not read
    with pytest.raises(RecordingFormatError, match=r"good\.zip: .* is 0 MB, more than the 0 MB one session's table"):
        load(good)


def test_a_clock_no_calendar_can_show_leaves_the_start_time_out(still):
    # a garbled clock (Sensor Logger's year -314918, Polar's "date value out of range") had been a traceback
    from imutrack.io.polar_logger import read_polar_logger
    from imutrack.io.sensor_logger import read_sensor_logger
    from tests.phone_files import polar_logger_tables, sensor_logger_tables

    samples, meta, notes = read_sensor_logger(sensor_logger_tables(still.slice(0, 300), epoch_s=5e12), "s.zip")
    assert meta.start_time == "" and len(samples) > 250 and any("no time a clock can show" in n for n in notes)
    tables = {name: "\n".join(line if i == 0 else line.replace(";817", ";817000", 1)
                              for i, line in enumerate(text.splitlines())) + "\n"
              for name, text in polar_logger_tables(still.slice(0, 300)).items()}
    samples, meta, notes = read_polar_logger(tables, "p")
    assert meta.start_time == "" and len(samples) > 250 and any("no time a clock can show" in n for n in notes)


@pytest.mark.parametrize("machine_zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_each_export_tells_its_start_time_in_the_phones_zone(still, machine_zone, monkeypatch):
    # phyphox and Sensor Logger state the phone's zone; Polar's sensor clock counts the phone's wall clock. The start
    # time must not move with the zone of the computer that reads the file (it had: UTC read as this machine's time)
    import time

    from imutrack.io.merge import zone_named
    from imutrack.io.polar_logger import read_polar_logger
    from imutrack.io.sensor_logger import read_sensor_logger
    from tests.phone_files import polar_logger_tables, sensor_logger_tables

    monkeypatch.setenv("TZ", machine_zone)
    time.tzset()
    try:
        short = still.slice(0, 300)
        assert read_phyphox(phyphox_tables(short), "p.zip")[1].start_time == "2025-11-24T09:15:00+01:00"
        # 1 763 972 100 s since 1970 is 08:15 UTC: 09:15 in Berlin (winter), 13:45 in Kolkata
        assert read_sensor_logger(sensor_logger_tables(short), "s.zip")[1].start_time == "2025-11-24T09:15:00+01:00"
        kolkata = read_sensor_logger(sensor_logger_tables(short, zone="Asia/Kolkata"), "s.zip")[1].start_time
        assert kolkata == "2025-11-24T13:45:00+05:30"
        # 817 000 000 s after 2000-01-01 00:00 on the phone's wall clock is 2025-11-21 00:26:40, wherever it is read
        polar = read_polar_logger(polar_logger_tables(short), "p")[1].start_time
        assert polar.startswith("2025-11-21T00:26:40")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert zone_named("UTC+01:00").utcoffset(None).total_seconds() == 3600
    assert zone_named("GMT-0330").utcoffset(None).total_seconds() == -12600
    assert zone_named("+0530").utcoffset(None).total_seconds() == 19800
    assert zone_named("Europe/Nowhere") is None and zone_named("") is None and zone_named("CET-ish") is None
    assert zone_named("UTC+14:00").utcoffset(None).total_seconds() == 50400  # Kiribati: the furthest
    assert zone_named("UTC+01-30:00") is None and zone_named("UTC+25:00") is None  # garbled (found by fuzzing)


def test_import_can_say_when_a_session_began(tmp_path, still, capsys):
    from imutrack.cli import main

    rows = ["t,gx,gy,gz,ax,ay,az"] + [",".join(f"{v:.9g}" for v in (t, *g, *a))
                                      for t, g, a in zip(still.t_s, still.gyr_rad_s, still.acc_m_s2)]
    source = tmp_path / "logger.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = "t=t,gx=gx,gy=gy,gz=gz,ax=ax,ay=ay,az=az"
    assert main(["import", str(source), "--columns", columns, "--out", str(tmp_path / "a"),
                 "--start-time", "2026-11-24T19:05:00+01:00"]) == 0
    assert read_recording(tmp_path / "a" / "logger.csv").meta.start_time == "2026-11-24T19:05:00+01:00"
    with pytest.raises(SystemExit) as usage:
        main(["import", str(source), "--columns", columns, "--start-time", "yesterday"])
    assert usage.value.code == 2 and "expected a time like 2026-11-24T08:15:00+01:00" in capsys.readouterr().err


def test_a_polar_folder_with_several_sensors_pairs_each_stream_with_its_own(still):
    # an H10's ACC beside a Verity Sense's pair had been paired across devices ("streams do not overlap")
    from imutrack.io.polar_logger import read_polar_logger
    from tests.phone_files import polar_logger_tables

    pair = polar_logger_tables(still.slice(0, 300))
    h10 = {"Polar_H10_9F8E7D6C_20251120_081500_ACC.txt":
           polar_logger_tables(still.slice(0, 300), with_gyro=False)["Polar_Sense_ABC123_20251120_081500_ACC.txt"]
           .replace(";817", ";900", 1)}  # another device, another clock
    samples, _, notes = read_polar_logger(h10 | pair, "folder")  # the H10 file sorts first
    assert len(samples) > 250
    assert any("took Polar_Sense_ABC123_20251120_081500_ACC.txt" in n and "Polar_H10_9F8E7D6C" in n for n in notes)
    gyro_only = {k: v for k, v in pair.items() if k.endswith("GYRO.txt")}
    with pytest.raises(RecordingFormatError, match="different sensors or sessions"):
        read_polar_logger(h10 | gyro_only, "folder")


def test_numbers_no_sensor_measures_are_left_out_or_refused(tmp_path, still):
    """A garbled row that still parses (1e305 rad/s) is left out and said; a file full of them is refused."""
    short = still.slice(0, 300)
    tables = phyphox_tables(short)
    lines = tables["Gyroscope.csv"].split("\n")
    lines[100] = lines[100].rsplit(",", 1)[0] + ",1.9E+305"
    one = write_zip(tmp_path / "one.zip", {**tables, "Gyroscope.csv": "\n".join(lines)})
    with pytest.warns(ImutrackWarning, match="1 samples with numbers no sensor measures"):
        recording = load(one)
    assert len(recording.samples) == len(load(write_zip(tmp_path / "ok.zip", tables)).samples) - 1
    assert np.abs(recording.samples.gyr_rad_s).max() < 10
    for k in range(1, 300, 20):
        lines[k] = lines[k].rsplit(",", 1)[0] + ",1.9E+305"
    many = write_zip(tmp_path / "many.zip", {**tables, "Gyroscope.csv": "\n".join(lines)})
    with pytest.raises(RecordingFormatError, match=r"15 of \d+ samples have a rate beyond 6000 °/s"):
        load(many)
