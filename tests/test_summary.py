"""The end-of-session summary: the analysis's angles matched to the guide's reps, form notes, like-with-like best."""

from __future__ import annotations

import dataclasses
import json

import pytest

from imutrack.analysis import ANALYSIS_VERSION, analyze
from imutrack.live import Guide, GuideConfig
from imutrack.metrics import HoldMetrics, MetricParams
from imutrack.progress import MDC_DEG
from imutrack.recording import write_recording
from imutrack.sources.simulator import SimulatorConfig, simulate
from imutrack.store import Store, StoredSession
from imutrack.summary import comparable_best, form_notes, summarize_session


def _hold(side="left", start=10.0, end=70.0, rom=50.0, **changes) -> HoldMetrics:
    values = dict(rep=1, side=side, turn_start_s=start - 3, hold_start_s=start, hold_end_s=end, duration_s=end - start,
                  time_to_end_s=0.0, mean_twist_deg=rom if side == "left" else -rom,
                  peak_twist_deg=rom if side == "left" else -rom, rom_deg=rom, creep_deg=1.0, twist_sd_deg=0.5,
                  twist_rate_rms_deg_s=0.5, tremor_rms_deg_s=0.1, bounce_deg=0.2, forced=False, slouch_fraction=0.0,
                  max_flexion_deg=2.0, mean_lean_deg=0.0, max_abs_lean_deg=1.0, breath_rate_bpm=8.0,
                  breath_depth_deg=0.8)
    values.update(changes)
    return HoldMetrics(**values)


def _session(path="a.csv", assisted="assisted", version=ANALYSIS_VERSION, left=50.0, right=45.0) -> StoredSession:
    return StoredSession(1, "h", "2026-12-01T09:00:00+01:00", "2026-12-01", "morning", "sim", assisted, path, 600.0,
                         2, 2, left, right, left - right, None, version)


def test_form_notes_name_slouching_forcing_and_shallow_breathing_from_the_thresholds():
    p = MetricParams()
    assert form_notes(_hold(), p) == ()
    assert form_notes(_hold(slouch_fraction=0.25), p) == ("slouched 25 % of the hold",)
    assert form_notes(_hold(slouch_fraction=0.05), p) == ()  # a moment bent forward is not a slouched hold
    assert form_notes(_hold(forced=True, bounce_deg=1.6), p) == ("forced (bounced 1.6°)",)
    assert form_notes(_hold(breath_depth_deg=p.shallow_breath_deg - 0.01), p) == ("shallow breathing",)
    assert form_notes(_hold(breath_depth_deg=float("nan")), p) == ()  # unknown is not shallow


def test_each_guide_rep_gets_the_analysed_hold_that_overlaps_it_most_on_its_side():
    analysed = [_hold("left", 10, 70, 51.23), _hold("right", 100, 160, 44.0, slouch_fraction=0.3),
                _hold("left", 190, 250, 55.0)]
    guide = [dict(side="left", rep=1, counted_s=60.0, twist_deg=49.0, early=False, start_s=12.0, end_s=72.0),
             dict(side="right", rep=1, counted_s=41.0, twist_deg=-43.0, early=True, start_s=101.0, end_s=150.0,
                  gap_s=1.5),
             dict(side="left", rep=2, counted_s=0.0, twist_deg=float("nan"), early=True)]  # given up in its turn
    summary = summarize_session(guide, analysed, 60.0, {"left": 50.0, "right": None})
    assert [(r.side, r.rep, r.angle_deg, r.counted_s) for r in summary.reps] == [
        ("left", 1, 51.2, 60.0), ("right", 1, 44.0, 41.0), ("left", 2, None, 0.0)]
    assert summary.reps[1].form == ("slouched 30 % of the hold", "ended early", "sensor lost 1.5 s")
    assert summary.reps[0].form == ()
    # Today per side is the session's best hold, as stored, including holds the guide did not count.
    left, right = summary.sides
    assert (left.today_deg, left.before_deg) == (55.0, 50.0)
    assert left.change.startswith("+5.0°: a new best")
    assert right.change == "first session to compare with"
    assert json.loads(json.dumps(summary.to_dict(), allow_nan=False))["reps"][2]["angle_deg"] is None


@pytest.mark.parametrize("change, words", [(MDC_DEG - 0.1, "within the measurement's noise"),
                                           (-(MDC_DEG + 0.5), "less than before"), (MDC_DEG + 0.5, "a new best")])
def test_a_change_is_judged_against_the_measurements_noise(change, words):
    summary = summarize_session([], [_hold(rom=50.0 + change)], 60.0, {"left": 50.0})
    assert words in summary.sides[0].change


def test_without_an_analysis_the_live_angles_are_shown_and_said_to_be():
    guide = [dict(side="left", rep=1, counted_s=60.0, twist_deg=48.7, early=False, start_s=1.0, end_s=61.0)]
    summary = summarize_session(guide, None, 60.0, {})
    assert summary.reps[0].angle_deg == 48.7
    assert summary.sides[0].today_deg == 48.7
    assert any("live estimates" in note for note in summary.notes)


def test_best_before_compares_only_sessions_done_the_same_way_by_the_same_analysis():
    sessions = [_session("a", left=50.0), _session("b", assisted="unassisted", left=70.0),
                _session("c", version=ANALYSIS_VERSION - 1, left=80.0), _session("this", left=90.0)]
    best, notes = comparable_best(sessions, "assisted", ANALYSIS_VERSION, exclude_path="this")
    assert best == {"left": 50.0, "right": 45.0}
    assert notes[0] == "Best before: of 1 earlier session done with hands."
    assert any("not marked as done with hands" in n for n in notes)
    assert any("earlier analysis" in n for n in notes)
    best, _ = comparable_best(sessions, "unassisted", ANALYSIS_VERSION)
    assert best["left"] == 70.0


def test_the_summary_of_a_guided_simulated_session_shows_what_the_store_keeps(tmp_path):
    """The whole path: a simulated person guided live, the recording analysed and stored; the summary's angles are
    the stored ones, within the simulator's truth."""
    sim = simulate(SimulatorConfig(seed=5, reps_per_side=2, hold_s=40.0, rest_s=14.0))
    path = tmp_path / "s.csv"
    write_recording(path, sim.samples, sim.recording_meta())
    guide = Guide(GuideConfig(reps_per_side=2, hold_s=30.0, rest_s=8.0))
    for start in range(0, len(sim.samples.t_s), 50):
        guide.update(dataclasses.replace(sim.samples, **{
            name: getattr(sim.samples, name)[start:start + 50]
            for name in ("t_s", "acc_m_s2", "gyr_rad_s") if getattr(sim.samples, name) is not None}))
    result = analyze(path)
    with Store(tmp_path / "p.db") as store:
        store.add(result, path)
        stored = [h.rom_deg for _, h in store.holds()]
    summary = summarize_session(guide.state.holds, result.holds, 30.0, {})
    assert len(summary.reps) == 4
    assert [r.angle_deg for r in summary.reps] == [round(v, 1) for v in stored]
    for row, truth in zip(summary.reps, sim.truth.reps):
        assert row.side == truth.side
        assert row.angle_deg == pytest.approx(abs(truth.mean_twist_deg), abs=2.0)
        assert 0.0 <= row.counted_s <= 30.0
        if not row.form:  # good form all through: the whole hold counted
            assert row.counted_s == 30.0
    assert any(not row.form for row in summary.reps)
