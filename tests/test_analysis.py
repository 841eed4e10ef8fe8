"""The analysis against simulator ground truth (a fast subset; benchmarks/accuracy.py runs the full set)."""

import json
import re
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from vqf import VQF

from imutrack.analysis import AnalysisParams, analyze
from imutrack.cli import main
from imutrack.errors import ImutrackError, ImutrackWarning
from imutrack.holds import find_reps
from imutrack.orientation import BiasModel, OrientationEstimator
from imutrack.recording import RecordingMeta, write_recording
from imutrack.samples import ImuSamples
from imutrack.sources.simulator import ImuErrorModel, SimulatorConfig, simulate
from imutrack.trunk import trunk_angles_deg
from tests.handling import lying_flat, path, samples_along, shifted, still_at

HARD_IMU = ImuErrorModel(gyr_bias_max_deg_s=0.5)
CASES = [
    dict(seed=101, sample_rate_hz=25.0, mount_tilt_deg=30.0, mount_spin_deg=200.0, chest_normal_axis="-y"),
    dict(seed=102, sample_rate_hz=50.0, mount_tilt_deg=5.0, chest_normal_axis="+z", slouch_probability=0.8),
    dict(seed=103, sample_rate_hz=100.0, mount_tilt_deg=20.0, chest_normal_axis="+x", forced_probability=0.5),
    dict(seed=104, sample_rate_hz=200.0, mount_tilt_deg=15.0, mount_spin_deg=90.0, first_side="right"),
    dict(seed=105, sample_rate_hz=400.0, mount_tilt_deg=25.0, chest_normal_axis="-z", creep_deg=8.0),
    dict(seed=106, sample_rate_hz=100.0, mount_tilt_deg=10.0, chest_normal_axis="+z", seat_shift_deg=9.0),
]


def run_case(case):
    cfg = SimulatorConfig(imu=HARD_IMU, reps_per_side=2, **case)
    session = simulate(cfg)
    result = analyze(session.samples, meta=RecordingMeta(chest_normal_axis=cfg.chest_normal_axis))
    return session, result


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"seed{c['seed']}-{c['sample_rate_hz']:g}Hz")
def analysed(request):
    return run_case(request.param)


def test_every_rep_is_found_on_the_right_side_with_no_false_holds(analysed):
    session, result = analysed
    assert [r.side for r in result.reps] == [r.side for r in session.truth.reps]
    assert all(r.has_hold for r in result.reps)
    assert len(result.holds) == len(session.truth.reps)


def test_mean_twist_of_every_hold_is_within_one_degree(analysed):
    # The floor is the gyro's own scale error (±0.5 % of a 50° twist = ±0.25°) plus noise in the rests' bias
    # estimates; docs/accuracy.md has the distribution over many sessions.
    session, result = analysed
    errors = [h.mean_twist_deg - r.mean_twist_deg for h, r in zip(result.holds, session.truth.reps)]
    assert np.max(np.abs(errors)) < 1.0, errors


def test_each_rep_is_measured_from_the_rest_before_it(analysed):
    # A shift on the seat turns the whole body; the rest after it is the new "facing forward" (seed 106 shifts by
    # up to 9° in every rest; the others never shift, and their rests must read as the neutral).
    session, result = analysed
    truth = session.truth
    for h in result.holds:
        seat = truth.seat_deg[np.searchsorted(truth.t_s, h.turn_start_s)]
        assert h.neutral_shift_deg == pytest.approx(seat, abs=1.0)  # plus the heading drift the rest removes
    if session.config.seat_shift_deg:
        assert max(abs(h.neutral_shift_deg) for h in result.holds) > 3.0  # the case really shifts


def test_hold_timing_is_within_0_2_s(analysed):
    session, result = analysed
    for h, r in zip(result.holds, session.truth.reps):
        assert h.hold_start_s == pytest.approx(r.hold_start_s, abs=0.2)
        assert h.duration_s == pytest.approx(r.hold_duration_s, abs=0.2)
        assert h.turn_start_s == pytest.approx(r.turn_start_s, abs=0.2)


def test_breathing_rate_is_within_one_breath_per_minute(analysed):
    session, result = analysed
    for h, r in zip(result.holds, session.truth.reps):
        assert h.breath_rate_bpm == pytest.approx(r.breath_rate_bpm, abs=1.0)
        assert 0.5 < h.breath_depth_deg < 3.0  # deep breaths pitch the sternum by about a degree


def test_slouching_forcing_and_creep_are_seen_where_they_happened(analysed):
    session, result = analysed
    truth = session.truth
    for h, r in zip(result.holds, truth.reps):
        slouched = any(s.start_s < r.hold_end_s and s.end_s > r.hold_start_s for s in truth.slouches)
        assert (h.slouch_fraction > 0) == slouched
        if slouched:
            assert h.max_flexion_deg > 12.0
        assert h.forced == r.forced
        assert h.creep_deg == pytest.approx(r.creep_deg, abs=0.8)


def test_session_summary_per_side(analysed):
    session, result = analysed
    m = result.session
    left = [abs(r.mean_twist_deg) for r in session.truth.reps if r.side == "left"]
    assert m.left.reps == m.right.reps == 2
    assert m.left.best_rom_deg == pytest.approx(max(left), abs=0.5)
    assert m.asymmetry_deg == pytest.approx(m.left.best_rom_deg - m.right.best_rom_deg)


def test_our_bias_handling_beats_vqf_defaults_on_creeping_holds():
    cfg = SimulatorConfig(seed=7, imu=HARD_IMU, reps_per_side=3, creep_deg=6.0, sway_deg=1.0, forced_probability=0.0)
    session = simulate(cfg)
    result = analyze(session.samples)
    ours = max(abs(h.mean_twist_deg - r.mean_twist_deg) for h, r in zip(result.holds, session.truth.reps))
    default = VQF(1.0 / cfg.sample_rate_hz).updateBatch(session.samples.gyr_rad_s, session.samples.acc_m_s2)["quat6D"]
    twist_default = trunk_angles_deg(default, result.neutral.quat_wxyz * 0 + default[100], result.neutral.forward_earth)[0]
    worst_default = 0.0
    for r in session.truth.reps:
        i0, i1 = np.searchsorted(session.truth.t_s, [r.hold_start_s, r.hold_end_s])
        worst_default = max(worst_default, abs(twist_default[i0:i1].mean() - r.mean_twist_deg))
    assert ours < 0.5 < 2.0 < worst_default


def test_streaming_orientation_equals_batch():
    session = simulate(SimulatorConfig(seed=3, reps_per_side=1, hold_s=20.0))
    samples = session.samples
    bias = BiasModel(np.array([0.0, 60.0]), np.array([[0.001, -0.002, 0.003], [0.0012, -0.002, 0.0031]]))
    batch = OrientationEstimator(samples.rate_hz, bias=bias).update(samples).quat_wxyz_
    stream = OrientationEstimator(samples.rate_hz, bias=bias)
    edges = [0, 1, 17, 500, 501, 2000, len(samples)]
    parts = [stream.update(samples.slice(a, b)).quat_wxyz_.copy() for a, b in zip(edges, edges[1:])]
    np.testing.assert_array_equal(np.concatenate(parts), batch)


def test_a_twist_that_never_settles_has_no_hold():
    t = np.arange(0, 40, 0.01)
    twist = 45 * np.exp(-0.5 * ((t - 20) / 2.0) ** 2)  # straight out and back
    reps = find_reps(t, twist)
    assert len(reps) == 1 and reps[0].side == "left" and not reps[0].has_hold


def test_restless_data_without_a_still_start_is_refused_clearly():
    rng = np.random.default_rng(0)
    n = 3000
    samples = ImuSamples(np.arange(n) / 100, rng.normal(0, 0.5, (n, 3)), rng.normal(0, 2, (n, 3)) + [0, 0, 9.81])
    with pytest.raises(ImutrackError, match="no still period"):
        analyze(samples)
    with pytest.raises(ImutrackError, match=r"only 2\.0 s of data"):
        analyze(samples.slice(0, 201))


def test_explicit_neutral_and_chest_axis(tmp_path):
    cfg = SimulatorConfig(seed=4, reps_per_side=1, chest_normal_axis="-y", imu=HARD_IMU)
    session = simulate(cfg)
    up = session.samples.acc_m_s2[0]
    vertical = "xyz"[np.argmax(np.abs(up))]
    sideways = ({"x", "z"} - {vertical}).pop()
    path = write_recording(tmp_path / "s.csv", session.samples, RecordingMeta(chest_normal_axis=f"+{sideways}"))
    good = analyze(path, AnalysisParams(neutral_s=(1.0, 9.0), chest_normal_axis="-y"))
    assert good.neutral.start_s == pytest.approx(1.0, abs=0.02)
    for h, r in zip(good.holds, session.truth.reps):
        assert h.mean_twist_deg == pytest.approx(r.mean_twist_deg, abs=0.5)
    # The declared (wrong, sideways) axis changes flexion and lean, not the twist about vertical.
    sideways_result = analyze(path, AnalysisParams(neutral_s=(1.0, 9.0)))
    np.testing.assert_allclose(sideways_result.twist_deg, good.twist_deg, atol=1e-9)
    assert not np.allclose(sideways_result.flexion_deg, good.flexion_deg, atol=1.0)
    vertical_axis = ("+" if up[np.argmax(np.abs(up))] > 0 else "-") + vertical
    with pytest.raises(ImutrackError, match=re.escape(f"{vertical_axis} axis points nearly up")):
        analyze(path, AnalysisParams(neutral_s=(1.0, 9.0), chest_normal_axis=vertical_axis))


def test_angles_csv_labels_every_sample(tmp_path):
    session, result = run_case(dict(seed=106, sample_rate_hz=50.0, seat_shift_deg=9.0))
    path = result.write_angles_csv(tmp_path / "angles.csv")
    table = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert table.dtype.names == ("t_s", "twist_deg", "flexion_deg", "lean_deg", "rep", "phase", "facing_deg")
    assert len(table) == len(session.samples)
    first = session.truth.reps[0]
    in_hold = (table["t_s"] > first.hold_start_s + 0.3) & (table["t_s"] < first.hold_end_s - 0.3)
    assert set(table["phase"][in_hold]) == {"hold"} and set(table["rep"][in_hold]) == {1}
    np.testing.assert_allclose(table["twist_deg"], result.twist_deg, atol=1e-4)
    # seed 106 shifts on the seat: the facing column holds the shift, so the twist from the start is recoverable
    from_start = table["twist_deg"] + table["facing_deg"]
    np.testing.assert_allclose(from_start, result.twist_deg + result.facing_deg, atol=2e-4)
    assert np.abs(table["facing_deg"]).max() > 3.0


def test_cli_analyze_json_plot_angles(tmp_path, capsys):
    session = simulate(SimulatorConfig(seed=5, reps_per_side=1, sample_rate_hz=50.0))
    path = write_recording(tmp_path / "s.csv", session.samples, RecordingMeta(start_time="2026-11-24T07:30:00+01:00"))
    assert main(["analyze", str(path), "--json", "--plot", str(tmp_path / "s.png"),
                 "--angles", str(tmp_path / "a.csv")]) == 0
    (document,) = json.loads(capsys.readouterr().out)  # a list, whatever the number of inputs
    assert [h["side"] for h in document["holds"]] == ["left", "right"]
    assert document["session"]["time_slot"] == "morning" and document["schema_version"] == 1
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "a.csv").read_text().startswith("t_s,twist_deg")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "left" in out and "right" in out and "morning session" in out


def test_cli_analyze_folder_in_parallel_keeps_going_past_a_bad_file(tmp_path, capsys):
    for seed in (2, 10):
        session = simulate(SimulatorConfig(seed=seed, reps_per_side=1, hold_s=20.0, sample_rate_hz=50.0))
        write_recording(tmp_path / f"s{seed}.csv", session.samples, RecordingMeta())
    (tmp_path / "broken.csv").write_text("# imutrack recording v1\nt_s,seq\n", encoding="utf-8")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # not a recording: skipped
    assert main(["analyze", str(tmp_path), "--json", "--jobs", "2"]) == 1  # some failed
    captured = capsys.readouterr()
    documents = json.loads(captured.out)  # stdout is the JSON only: progress and errors went to stderr
    assert [d["source"].rsplit("/", 1)[-1] for d in documents] == ["broken.csv", "s2.csv", "s10.csv"]  # natural order
    assert "holds" in documents[1] and "holds" in documents[2]
    assert set(documents[0]) == {"schema_version", "source", "error"} and "broken.csv" in captured.err


def test_an_accelerometer_only_recording_is_refused_for_twist_with_what_it_can_do(tmp_path, capsys):
    session = simulate(SimulatorConfig(seed=1, reps_per_side=1, hold_s=15.0, sample_rate_hz=50.0))
    meta = RecordingMeta(profile="polar-h10", extra={"has_gyro": "false"})
    path = write_recording(tmp_path / "h10.csv", session.samples, meta)
    assert main(["analyze", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "twist cannot be measured without a gyroscope" in err and "posture" in err and "breathing" in err


def test_from_latest_rest_by_hand():
    from imutrack.rests import from_latest_rest

    # neutral [0, 10), a rep, a rest at +8° [40, 50) after a shift on the seat, another rep, a rest at +2° [80, 90)
    twist = np.zeros(100)
    twist[15:35] = 50.0
    twist[38:60] = 8.0
    twist[60:75] = -40.0
    twist[78:] = 2.0
    out, facing, how = from_latest_rest(twist, [(0, 10), (40, 50), (80, 90)], after=10)
    assert (how == 0).all()  # no gaps: every sample is measured from the rest (or neutral) before it
    np.testing.assert_array_equal(facing[:40], 0.0)  # the neutral (before `after`) is the reference up to 40
    np.testing.assert_array_equal(facing[40:80], 8.0)
    np.testing.assert_array_equal(facing[80:], 2.0)
    np.testing.assert_array_equal(out + facing, twist)  # nothing but the reference changes
    assert out[60] == -48.0  # the right turn is measured from the shifted rest


def put_on_and_taken_off(session, table_before_s=0.0, table_after_s=0.0, heading_deg=40.0, seed=0):
    """The session with the sensor lying on a table before it (then picked up and put on) and/or after it (taken off
    and laid down at ``heading_deg`` from where it was): what a recording started or stopped by hand holds."""
    fs = session.samples.rate_hz
    bias = session.truth.gyr_bias_rad_s
    worn_start, worn_end = session.truth.quat_sensor_wxyz[0], session.truth.quat_sensor_wxyz[-1]
    blocks, t = [], 0.0
    if table_before_s:
        table = lying_flat(heading_deg + 90.0)
        blocks.append(still_at(table, table_before_s, fs, t, bias, seed))
        t += table_before_s
        blocks.append(samples_along(path(table, worn_start, 6.0, fs, seed), fs, t, bias))
        t += 6.0
    blocks.append(shifted(session.samples, t))
    t = float(blocks[-1].t_s[-1]) + 1.0 / fs
    if table_after_s:
        yaw = Rotation.from_quat(worn_end, scalar_first=True).as_euler("ZYX", degrees=True)[0]
        table = lying_flat(yaw + heading_deg)
        blocks.append(samples_along(path(worn_end, table, 6.0, fs, seed), fs, t, bias))
        t += 6.0
        blocks.append(still_at(table, table_after_s, fs, t, bias, seed))
    return ImuSamples.concatenate(blocks), t


@pytest.mark.parametrize("heading_deg", [40.0, -60.0, 150.0])
def test_a_sensor_taken_off_and_laid_on_a_table_adds_no_hold(heading_deg):
    # Lying still on the table at an angle, the sensor looks like a hold to the twist alone; it is tilted ~90° from
    # the upright chest, and no seated twist is.
    session = simulate(SimulatorConfig(seed=61, sample_rate_hz=50.0, reps_per_side=1))
    samples, _ = put_on_and_taken_off(session, table_after_s=25.0, heading_deg=heading_deg)
    result = analyze(samples)
    assert [h.side for h in result.holds] == [r.side for r in session.truth.reps]
    for hold, rep in zip(result.holds, session.truth.reps):
        assert hold.mean_twist_deg == pytest.approx(rep.mean_twist_deg, abs=1.0)


def test_a_recording_started_with_the_sensor_on_the_table_takes_its_neutral_once_it_is_worn():
    session = simulate(SimulatorConfig(seed=62, sample_rate_hz=50.0, reps_per_side=1))
    samples, offset_s = put_on_and_taken_off(session, table_before_s=15.0, table_after_s=15.0)
    result = analyze(samples)
    assert result.neutral.start_s > 21.0  # after the table (15 s) and putting it on (6 s)
    assert [h.side for h in result.holds] == [r.side for r in session.truth.reps]
    for hold, rep in zip(result.holds, session.truth.reps):
        assert hold.mean_twist_deg == pytest.approx(rep.mean_twist_deg, abs=1.0)
        assert hold.hold_start_s == pytest.approx(rep.hold_start_s + 21.0, abs=0.2)


def test_json_output_follows_its_documented_schema(tmp_path, capsys):
    # docs/analysis.schema.json documents every field; a field added to the output must be added there too
    import jsonschema

    from tests.conftest import REPO

    schema = json.loads((REPO / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    session = simulate(SimulatorConfig(seed=6, reps_per_side=1, hold_s=0.0, sample_rate_hz=25.0))  # quick turns
    good = write_recording(tmp_path / "a.csv", session.samples, RecordingMeta())
    held = write_recording(tmp_path / "b.csv", simulate(SimulatorConfig(seed=6, reps_per_side=1, hold_s=20.0,
                                                                        sample_rate_hz=25.0)).samples, RecordingMeta())
    (tmp_path / "c.csv").write_text("# imutrack recording v1\nt_s,seq\n", encoding="utf-8")
    assert main(["analyze", str(good), str(held), str(tmp_path / "c.csv"), "--json"]) == 1
    documents = json.loads(capsys.readouterr().out)
    jsonschema.validate(documents, schema)
    assert [len(d.get("holds", [])) for d in documents] == [0, 2, 0] and "error" in documents[2]
    assert len(documents[0]["reps"]) == 2
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict: an undocumented field fails
        jsonschema.validate([documents[1] | {"surprise": 1}], schema)


def test_holds_of_many_recordings_as_one_csv_and_one_dataframe(tmp_path, capsys, monkeypatch):
    import pandas

    import imutrack

    paths, truths = [], []
    for seed, start in ((7, "2026-11-24T07:30:00+01:00"), (8, "2026-11-24T19:05:00+01:00")):
        session = simulate(SimulatorConfig(seed=seed, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
        name = "=HYPERLINK(x).csv" if seed == 8 else f"s{seed}.csv"  # a file name a spreadsheet would run
        paths.append(write_recording(tmp_path / name, session.samples, RecordingMeta(start_time=start)))
        truths += [r.mean_twist_deg for r in session.truth.reps]
    monkeypatch.chdir(tmp_path)  # the recordings given by name, as a user in that folder would
    assert main(["analyze", *(p.name for p in paths), "--csv", "holds.csv"]) == 0
    table = pandas.read_csv(tmp_path / "holds.csv")
    assert list(table.columns) == imutrack.analysis.HOLD_TABLE_COLUMNS
    assert list(table["time_slot"]) == ["morning", "morning", "evening", "evening"]
    assert list(table["side"]) == ["left", "right"] * 2 and table["forced"].dtype == bool
    np.testing.assert_allclose(table["mean_twist_deg"], truths, atol=0.5)
    assert list(table["source"]) == ["s7.csv"] * 2 + ["'=HYPERLINK(x).csv"] * 2  # shown as text, not run
    frame = imutrack.holds_frame(*paths)
    assert list(frame.columns) == list(table.columns) and len(frame) == 4
    np.testing.assert_allclose(frame["mean_twist_deg"], table["mean_twist_deg"], atol=1e-6)
    assert frame["session_start"][0] == "2026-11-24T07:30:00+01:00"


def test_a_time_in_the_wrong_unit_is_refused_before_it_fills_the_memory():
    # nanosecond steps (seconds read as nanoseconds) with short gaps: filling each gap at that step had asked for GiBs
    rng = np.random.default_rng(0)
    t = np.cumsum(np.where(np.arange(400) % 50 == 49, 0.15, 1e-9))
    samples = ImuSamples(t, rng.normal(0, 0.01, (400, 3)), np.tile([0.0, 9.81, 0.0], (400, 1)))
    with pytest.raises(ImutrackError, match=r"Hz\): no chest sensor records like that; is the time column in another"):
        analyze(samples)
    still = ImuSamples(np.arange(400) / 50.0, samples.gyr_rad_s, samples.acc_m_s2)
    for factor in (1e300, 1e-300):  # had been a LinAlgError and "Maximum allowed dimension exceeded"
        with pytest.raises(ImutrackError, match="no chest sensor records like that"):
            analyze(ImuSamples(still.t_s * factor, still.gyr_rad_s, still.acc_m_s2))


def test_a_folder_in_text_is_one_row_per_session_and_the_legend_once(tmp_path, capsys):
    for seed in (2, 10):
        session = simulate(SimulatorConfig(seed=seed, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
        write_recording(tmp_path / f"s{seed}.csv", session.samples, RecordingMeta())
    assert main(["analyze", str(tmp_path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.strip().startswith("s")]
    assert rows == ["s2.csv", "s10.csv"] and out.count("holds: left + right") == 1 and "rep " not in out


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_a_short_rest_between_sides_does_not_join_the_return_to_the_next_turn(seed):
    """A rest of 3-4 s: the return from one side (as fast as a turn, and towards the other side) lies within the
    search for the next turn. It used to be taken for that turn, so the next hold began in the rest and its mean
    was 14° short, with no warning; the search now stops at facing forward."""
    session = simulate(SimulatorConfig(seed=seed, reps_per_side=2, hold_s=10.0, hold_jitter_s=0.0, turn_s=2.0,
                                       return_s=2.0, rest_s=3.5, neutral_s=5.0, end_rest_s=3.0,
                                       sample_rate_hz=50.0, slouch_probability=0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImutrackWarning)
        result = analyze(session.samples, meta=session.recording_meta(), calibration=None)
    assert [h.side for h in result.holds] == [r.side for r in session.truth.reps]
    for hold, truth in zip(result.holds, session.truth.reps, strict=True):
        assert hold.hold_start_s == pytest.approx(truth.hold_start_s, abs=0.1)
        assert hold.mean_twist_deg == pytest.approx(truth.mean_twist_deg, abs=0.5)
