"""Two sensors, chest and pelvis: the spine's own twist and the pelvis's share, against the simulator's truth."""

import json
import warnings

import numpy as np
import pytest

from imutrack.analysis import analyze
from imutrack.cli import main
from imutrack.errors import ImutrackWarning, RecordingFormatError
from imutrack.io import pelvis_path
from imutrack.recording import read_recording, write_recording
from imutrack.sources.simulator import SimulatorConfig, simulate


def two_sensor(seed: int, **kwargs):
    cfg = dict(seed=seed, reps_per_side=2, hold_s=40.0, pelvis_share=0.17, pelvis_sensor=True, sample_rate_hz=50.0)
    return simulate(SimulatorConfig(**(cfg | kwargs)))


def analysed(session):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        return analyze(session.samples, meta=session.recording_meta(), calibration=None, pelvis=session.pelvis)


@pytest.mark.parametrize(("seed", "kwargs"), [
    (1, {}),
    (2, {"pelvis_lag_s": 0.4}),  # the hips follow the chest
    (3, {"pelvis_lag_s": -0.3, "pelvis_share": 0.3}),  # they lead, and do more of it
    (4, {"seat_shift_deg": 6.0}),  # shifts on the seat turn both between reps
    (5, {"pelvis_share": 0.05, "pelvis_share_jitter": 0.03}),
])
def test_the_spines_twist_and_the_pelvis_share_are_measured(seed, kwargs):
    session = two_sensor(seed, **kwargs)
    result = analysed(session)
    assert result.sensors == "chest+pelvis" and len(result.holds) == len(session.truth.reps) == 4
    for hold, truth in zip(result.holds, session.truth.reps, strict=True):
        assert hold.spine_mean_twist_deg == pytest.approx(truth.spine_mean_twist_deg, abs=0.5)
        assert hold.pelvis_share == pytest.approx(truth.pelvis_mean_twist_deg / truth.mean_twist_deg, abs=0.02)
        assert hold.hips_moved_deg < 2.0  # the hips stayed put through the hold
    np.testing.assert_allclose(result.spine_twist_deg, result.twist_deg - result.pelvis_twist_deg)


def test_hips_that_turn_during_a_hold_are_seen_and_said():
    session = two_sensor(6, hip_slip_probability=1.0, hip_slip_deg=5.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analyze(session.samples, meta=session.recording_meta(), calibration=None, pelvis=session.pelvis)
    said = [str(w.message) for w in caught if "the hips turned" in str(w.message)]
    assert len(said) == 4 and said == [n for n in result.warnings if "the hips turned" in n]
    for hold, truth in zip(result.holds, session.truth.reps, strict=True):
        assert truth.hip_slip_deg >= 2.5
        assert hold.hips_moved_deg == pytest.approx(truth.hip_slip_deg, abs=0.7)
        assert hold.spine_mean_twist_deg == pytest.approx(truth.spine_mean_twist_deg, abs=0.5)


def test_one_sensor_is_analysed_as_before():
    """The chest's samples are the same with or without a pelvis simulated, and so is everything measured from them;
    the two-sensor numbers are simply not there."""
    one = simulate(SimulatorConfig(seed=7, reps_per_side=1, hold_s=30.0, sample_rate_hz=50.0))
    two = two_sensor(7, reps_per_side=1, hold_s=30.0)
    np.testing.assert_array_equal(one.samples.gyr_rad_s, two.samples.gyr_rad_s)
    alone = analyze(one.samples, meta=one.recording_meta(), calibration=None)
    paired = analysed(two)
    assert alone.sensors == "chest" and alone.pelvis_twist_deg is None and alone.spine_twist_deg is None
    for a, b in zip(alone.holds, paired.holds, strict=True):
        assert a.mean_twist_deg == b.mean_twist_deg and a.creep_deg == b.creep_deg
        assert np.isnan(a.spine_mean_twist_deg) and np.isnan(a.pelvis_share) and np.isnan(a.hips_moved_deg)


def test_a_two_sensor_session_from_simulate_to_the_store(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["simulate", str(out), "--pelvis", "0.2", "--reps", "1", "--hold", "30", "--rate", "50",
                 "--seed", "8"]) == 0
    pelvis = read_recording(pelvis_path(out))
    assert pelvis.meta.extra["sensor_role"] == "pelvis"
    assert pelvis.meta.extra["session_id"] == read_recording(out).meta.extra["session_id"]
    capsys.readouterr()
    db = tmp_path / "p.sqlite"
    assert main(["analyze", str(tmp_path), "--json", "--store", "--db", str(db)]) == 0
    analysed_json = json.loads(capsys.readouterr().out)
    assert [s["source"] for s in analysed_json] == [str(out)]  # the pelvis file is not a session of its own
    assert analysed_json[0]["sensors"] == "chest+pelvis"
    truth = json.loads(out.with_name("s.truth.json").read_text())
    for hold, rep in zip(analysed_json[0]["holds"], truth["reps"], strict=True):
        assert hold["spine_mean_twist_deg"] == pytest.approx(rep["mean_twist_deg"] - rep["pelvis_mean_twist_deg"],
                                                             abs=0.5)
    from imutrack.store import Store

    with Store(db) as store:
        (session,) = store.sessions()
        assert session.sensors == "chest+pelvis"
        holds = [h for _, h in store.holds()]
    assert [h.spine_mean_twist_deg for h in holds] == pytest.approx([h["spine_mean_twist_deg"]
                                                                     for h in analysed_json[0]["holds"]])
    # a one-sensor session on another day: its turn is not mixed into the spine's series
    single = tmp_path / "one" / "s1.csv"
    single.parent.mkdir()
    assert main(["simulate", str(single), "--reps", "1", "--hold", "30", "--rate", "50", "--seed", "9"]) == 0
    assert main(["analyze", str(single), "--store", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["progress", "--db", str(db)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "the spine's own twist (two sensors)" in said
    assert "1 session(s) with a pelvis sensor; the hips did a median" in said


def test_a_pelvis_file_of_another_session_is_refused_in_one_line(tmp_path):
    session = two_sensor(9, reps_per_side=1, hold_s=20.0)
    chest = write_recording(tmp_path / "a.csv", session.samples, session.recording_meta())
    other = session.pelvis_meta()
    other.extra["session_id"] = "someone-else"
    write_recording(pelvis_path(chest), session.pelvis, other)
    with pytest.raises(RecordingFormatError, match=r"a\.pelvis\.csv: not the pelvis recording of a\.csv") as caught:
        analyze(chest, calibration=None)
    assert "\n" not in str(caught.value)
    assert analyze(chest, calibration=None, pelvis=None).sensors == "chest"  # asked for the chest alone: fine


def test_two_ble_sensors_at_once_through_bleak_to_the_report(tmp_path, capsys):
    """Two virtual BLE sensors worn together (one schedule), recorded at once by `imutrack record --device …
    --pelvis …`, each on its own connection: one time base (each sample of one within 20 ms of the other's for the
    same instant), then analysis, the store, progress and the report."""
    import argparse
    import asyncio
    import contextlib

    from imutrack.cli import record as record_cli
    from tests.virtual_ble import virtual_sensors

    session = simulate(SimulatorConfig(seed=11, reps_per_side=1, hold_s=10.0, hold_jitter_s=0.0, turn_s=2.0,
                                       return_s=2.0, rest_s=6.0, neutral_s=5.0, end_rest_s=3.0, sample_rate_hz=50.0,
                                       pelvis_share=0.2, pelvis_sensor=True, slouch_probability=0.0))

    @contextlib.asynccontextmanager
    async def backends():
        epoch = asyncio.get_running_loop().time() + 1.0
        specs = [(session.samples, "diy", {"name": "imutrack chest", "epoch": epoch}),
                 (session.pelvis, "diy", {"name": "imutrack pelvis", "epoch": epoch})]
        async with virtual_sensors(specs, speed=1.0) as (_sensors, central):
            yield central.client_backend, central.scanner_backend

    out = tmp_path / "two.csv"
    args = argparse.Namespace(device="imutrack chest", pelvis="imutrack pelvis", profile=None, pelvis_profile=None,
                              phyphox=None, simulate=False, out=out, duration=session.samples.duration_s - 1.5,
                              speed=1.0, assisted="assisted", notes="", poll=0.1)
    assert record_cli.record_command(args, backends=backends) == 0
    chest, pelvis = read_recording(out), read_recording(pelvis_path(out))
    assert chest.meta.extra["session_id"] == pelvis.meta.extra["session_id"]
    assert (chest.meta.extra["sensor_role"], pelvis.meta.extra["sensor_role"]) == ("chest", "pelvis")
    # the DIY sensors number their samples as the simulation does: the same number is the same instant
    common, a, b = np.intersect1d(chest.seq, pelvis.seq, return_indices=True)
    assert len(common) > 0.9 * len(chest.seq)
    misaligned_s = chest.samples.t_s[a] - pelvis.samples.t_s[b]
    assert np.max(np.abs(misaligned_s)) < 0.02, np.max(np.abs(misaligned_s))
    result = analysed_file(out)
    assert result.sensors == "chest+pelvis"
    for hold, truth in zip(result.holds, session.truth.reps, strict=True):
        assert hold.spine_mean_twist_deg == pytest.approx(truth.spine_mean_twist_deg, abs=0.5)
        assert hold.pelvis_share == pytest.approx(truth.pelvis_mean_twist_deg / truth.mean_twist_deg, abs=0.02)
    # on to the store, progress and the report: the spine's range is a series of its own
    db, html = tmp_path / "p.sqlite", tmp_path / "report.html"
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        assert main(["analyze", str(out), "--store", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["progress", "--db", str(db), "--json"]) == 0
    spine = json.loads(capsys.readouterr().out)["spine"]
    assert spine["sessions"] == 1
    left, right = (abs(h.spine_mean_twist_deg) for h in result.holds)
    assert spine["left"]["best_deg"] == pytest.approx(left) and spine["right"]["best_deg"] == pytest.approx(right)
    assert main(["report", "--db", str(db), "--html", str(html)]) == 0
    assert "spine&#x27;s own twist, measured in 1 session(s)" in html.read_text(encoding="utf-8")


def analysed_file(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        return analyze(path, calibration=None)
