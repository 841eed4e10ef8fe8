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
        # a shift on the seat, measured by the pelvis: how far the body faced from the start at the rep's rest
        seat_deg = session.truth.seat_deg[np.searchsorted(session.truth.t_s, truth.turn_start_s)]
        assert hold.neutral_shift_deg == pytest.approx(seat_deg, abs=0.3)
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


def test_the_live_guide_splits_the_twist_and_cues_hips_that_turn():
    """Fed the pelvis sensor's batches beside the chest's, the guide shows the spine's twist (what the gauge shows)
    and the hips' turn during the holds, within a degree of the truth, and says so when the hips turn in a hold."""
    from imutrack.live import CUE_TEXTS, Guide, GuideConfig

    session = two_sensor(12, hold_s=60.0, hip_slip_probability=0.5, hip_slip_deg=6.0, slouch_probability=0.0,
                         forced_probability=0.0)
    guide = Guide(GuideConfig(reps_per_side=2, hold_s=50.0, rest_s=5.0))
    t, truth = session.samples.t_s, session.truth
    edges = np.searchsorted(t, np.arange(t[0], t[-1] + 0.1, 0.1))
    seen, cued = [], set()
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        guide.update_pelvis(session.pelvis.slice(int(a), int(b)))
        state = guide.update(session.samples.slice(int(a), int(b)))
        if state.phase.value == "hold":
            i = int(np.searchsorted(truth.t_s, t[b - 1]))
            seen.append((state.spine_twist_deg - truth.spine_twist_deg[i],
                         state.pelvis_twist_deg - truth.pelvis_twist_deg[i]))
            if "hips" in state.cues:
                cued.add(state.rep if state.side == "left" else -state.rep)
    spine_err, pelvis_err = np.abs(np.array(seen)).T
    assert np.percentile(spine_err, 95) < 1.0 and np.percentile(pelvis_err, 95) < 1.0
    slipped = {(r.side, k) for k, r in enumerate(truth.reps) if r.hip_slip_deg > 3.0}
    assert len(slipped) > 0 and len(cued) == len(slipped)  # the slipping holds, and only they
    assert CUE_TEXTS["hips"] in [e.text for e in guide.take_events()]


def test_the_live_views_show_the_spines_part_of_the_twist():
    """The terminal gauge draws the hips' part light (the rest is the spine's twist) and says both; a simulated
    source with a pelvis sensor hands over its batches of the same moments."""
    import re

    from rich.console import Console

    from imutrack.cli.guide import GAUGE_WIDTH, live_panel
    from imutrack.live import GuideState, Phase
    from imutrack.sources.simulator import SimulatedSource

    state = GuideState(phase=Phase.HOLD, side="right", rep=1, twist_deg=-45.0, pelvis_twist_deg=-9.0,
                       spine_twist_deg=-36.0, hold_remaining_s=20.0, rep_twist_deg=44.0)
    console = Console(width=80, record=True, force_terminal=False)
    console.print(live_panel(state, None, reps_per_side=2))
    text = console.export_text()
    gauge = re.search(r"twist\s+-45\.0°\s+(\S+)", text).group(1)
    assert gauge.count("░") == int(9 * GAUGE_WIDTH / 90) and gauge.count("█") == int(45 * GAUGE_WIDTH / 90) - \
        int(9 * GAUGE_WIDTH / 90)
    assert "spine 36°, hips 9° (░)" in text and max(len(line) for line in text.splitlines()) <= 80

    session = two_sensor(13, reps_per_side=1, hold_s=20.0)
    source = SimulatedSource(session, speed=0.0, batch_s=0.5)
    for batch, _ in source.batches():
        (pelvis,) = source.pelvis_batches()
        np.testing.assert_array_equal(pelvis.t_s, batch.t_s)
    assert source.pelvis_batches() == []


def test_the_demo_can_show_a_two_sensor_session(tmp_path, capsys):
    assert main(["demo", "--pelvis", "--out", str(tmp_path), "--days", "1", "--reps", "1", "--hold", "20",
                 "--rate", "50"]) == 0
    said = capsys.readouterr().out
    assert "chest and pelvis sensors" in said and "spine°" in said
    (pelvis,) = tmp_path.glob("demo-*.pelvis.csv")
    assert read_recording(pelvis).meta.extra["sensor_role"] == "pelvis"


def test_two_phone_exports_of_one_session_are_paired_on_one_time_base(tmp_path, capsys):
    """Two phones running phyphox, one on the sacrum and one on the chest, started 1.7 s apart: imported as a pair,
    the exports' own clocks put them on one time base, and the spine's twist comes out as the truth has it."""
    from tests.phone_files import phyphox_tables, write_zip

    session = two_sensor(14, reps_per_side=1, hold_s=30.0, sample_rate_hz=100.0)
    late = int(1.7 * 100)  # the chest's phone started 1.7 s after the pelvis's
    chest = session.samples.slice(late, len(session.samples))
    chest = type(chest)(chest.t_s - chest.t_s[0], chest.gyr_rad_s, chest.acc_m_s2)
    chest_zip = write_zip(tmp_path / "chest.zip", phyphox_tables(chest, start_unix_s=1_763_972_101.7))
    pelvis_zip = write_zip(tmp_path / "pelvis.zip", phyphox_tables(session.pelvis, start_unix_s=1_763_972_100.0))
    out = tmp_path / "out"
    assert main(["import", str(chest_zip), "--pelvis", str(pelvis_zip), "--out", str(out)]) == 0
    assert "-1.700 s from the chest's" in " ".join(capsys.readouterr().out.split())
    result = analysed_file(out / "chest.csv")
    assert result.sensors == "chest+pelvis"
    for hold, truth in zip(result.holds, session.truth.reps, strict=True):
        assert hold.spine_mean_twist_deg == pytest.approx(truth.spine_mean_twist_deg, abs=0.5)
    generic = tmp_path / "plain.csv"
    generic.write_text("t,gx,gy,gz,ax,ay,az\n0,0,0,0,0,0,9.8\n0.01,0,0,0,0,0,9.8\n", encoding="utf-8")
    assert main(["import", str(chest_zip), "--pelvis", str(generic), "--columns",
                 "t=t,gx=gx,gy=gy,gz=gz,ax=ax,ay=ay,az=az", "--out", str(out)]) == 1
    assert "cannot be put on one time base (chest.zip: unix, plain.csv: no clock)" in capsys.readouterr().err


def test_a_phone_on_the_pelvis_beside_any_chest_source_is_put_on_its_clock(tmp_path, monkeypatch):
    """`record --simulate --pelvis http://PHONE`: the chest (the simulated person) and a phone on the pelvis (a
    stand-in phyphox giving its samples as time passes) worn together, the phone measuring only from 1.3 s on. Its
    recording is placed on the chest's clock by when the batches of each arrive: each pelvis sample within 50 ms of
    where the truth puts it (phyphox is polled every 0.1 s)."""
    import argparse
    import time

    from imutrack.cli import record as record_cli
    from imutrack.sources import simulator
    from tests.fake_phyphox import FakePhyphox

    session = two_sensor(15, reps_per_side=1, hold_s=20.0)
    monkeypatch.setattr(simulator, "simulate", lambda cfg: session)  # the simulated person is this session's chest
    out = tmp_path / "rec.csv"
    with FakePhyphox(session.pelvis, realtime=True, silent_s=1.3) as phone:
        args = argparse.Namespace(device=None, phyphox=None, simulate=True, profile=None, out=out, duration=5.0,
                                  speed=1.0, assisted="assisted", notes="", poll=0.1, seed=15, pelvis=phone.url,
                                  pelvis_profile=None)
        phone.epoch = time.monotonic()  # both sensors take their samples on one schedule from now
        assert record_cli.record_command(args) == 0
    chest, pelvis = read_recording(out), read_recording(pelvis_path(out))
    assert pelvis.meta.extra["session_id"] == chest.meta.extra["session_id"]
    assert pelvis.meta.extra["sensor_role"] == "pelvis" and len(pelvis.samples) > 100
    # which truth samples the phone gave: its first recorded one is found by its values
    first = int(np.argmin(np.abs(session.pelvis.gyr_rad_s - pelvis.samples.gyr_rad_s[0]).sum(axis=1)))
    truth_t_s = session.pelvis.t_s[first:first + len(pelvis.samples)]
    assert first * 0.02 > 1.25  # the phone's first samples are the truth's from 1.3 s on ...
    misplaced_s = pelvis.samples.t_s - truth_t_s  # ... and are placed there on the chest's clock
    assert np.max(np.abs(misplaced_s)) < 0.05, np.max(np.abs(misplaced_s))


def test_a_ble_sensor_on_the_pelvis_beside_a_phone_on_the_chest(tmp_path):
    """`record --phyphox URL --pelvis NAME`: a phone on the chest (a stand-in phyphox, its samples coming as time
    passes) and a virtual BLE sensor on the pelvis, worn together. The BLE recorder waits for the phone's clock to be
    placed and counts from it: each pelvis sample within 50 ms of the chest's time for the same instant."""
    import argparse
    import contextlib
    import time

    from imutrack.cli import record as record_cli
    from tests.fake_phyphox import FakePhyphox
    from tests.virtual_ble import virtual_sensors

    session = two_sensor(16, reps_per_side=1, hold_s=20.0)
    out = tmp_path / "rec.csv"
    epoch: list[float] = []

    @contextlib.asynccontextmanager
    async def backends():
        specs = [(session.pelvis, "diy", {"name": "imutrack pelvis", "epoch": epoch[0]})]
        async with virtual_sensors(specs, speed=1.0) as (_sensors, central):
            yield central.client_backend, central.scanner_backend

    with FakePhyphox(session.samples, realtime=True) as phone:
        args = argparse.Namespace(device=None, phyphox=phone.url, simulate=False, profile=None, out=out, duration=6.0,
                                  speed=1.0, assisted="assisted", notes="", poll=0.1, pelvis="imutrack pelvis",
                                  pelvis_profile=None)
        phone.epoch = time.monotonic()  # both sensors take their samples on one schedule from now
        epoch.append(phone.epoch)
        assert record_cli.record_command(args, backends=backends) == 0
    chest, pelvis = read_recording(out), read_recording(pelvis_path(out))
    assert pelvis.meta.extra["session_id"] == chest.meta.extra["session_id"]
    assert pelvis.meta.extra["sensor_role"] == "pelvis" and len(pelvis.samples) > 100
    first = int(np.argmin(np.abs(session.samples.gyr_rad_s - chest.samples.gyr_rad_s[0]).sum(axis=1)))
    # the DIY sensor numbers its samples as the simulation does; on the chest's clock, sample k is at truth t[k]
    truth_on_chest_s = session.pelvis.t_s[pelvis.seq] - session.samples.t_s[first]
    misplaced_s = pelvis.samples.t_s - truth_on_chest_s
    assert np.max(np.abs(misplaced_s)) < 0.05, np.max(np.abs(misplaced_s))
