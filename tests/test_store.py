"""The progress store: idempotent, migrating, safe with two writers, refusing foreign or damaged files."""

import hashlib
import json
import multiprocessing
import shutil
import sqlite3
from dataclasses import asdict, fields, replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imutrack.analysis import ANALYSIS_VERSION, analyze, json_safe
from imutrack.calibration import GyroCalibration
from imutrack.cli import main
from imutrack.metrics import HoldMetrics
from imutrack.progress import MDC_DEG, summarize
from imutrack.recording import RecordingMeta, write_recording
from imutrack.sources.simulator import SimulatorConfig, simulate
from imutrack.store import SCHEMA_VERSION, Store, StoredSession, StoreError
from tests.conftest import flat


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    session = simulate(SimulatorConfig(seed=3, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
    path = tmp_path_factory.mktemp("rec") / "session.csv"
    write_recording(path, session.samples, RecordingMeta(start_time="2026-11-20T08:30:00+01:00",
                                                         assisted="assisted"))
    return path, analyze(path)


def test_storing_the_same_recording_twice_changes_nothing(tmp_path, recording):
    path, result = recording
    db = tmp_path / "p.sqlite3"
    with Store(db) as store:
        first = store.add(result, path)
        again = store.add(result, path)
        sessions = store.sessions()
        holds = list(store.holds())
    assert first[1] is True and again == (first[0], False)
    assert len(sessions) == 1 and len(holds) == len(result.holds) == 2
    stored = sessions[0]
    assert stored.local_date == "2026-11-20" and stored.time_slot == "morning" and stored.assisted == "assisted"
    assert stored.best_rom_left_deg == pytest.approx(result.session.left.best_rom_deg)
    assert holds[0][1].rom_deg == pytest.approx(result.holds[0].rom_deg)
    assert holds[0][1].forced == result.holds[0].forced and isinstance(holds[0][1].rep, int)


def _writer(args):
    db, folder, worker, count = args
    from imutrack.analysis import analyze as run_analysis
    from imutrack.store import Store as OpenStore

    template = (folder / "template.csv").read_text()
    result = run_analysis(folder / "template.csv")
    with OpenStore(db) as store:
        for k in range(count):
            copy = folder / f"w{worker}-{k}.csv"
            copy.write_text(template.replace("# notes: ", f"# notes: copy {worker}-{k} "))
            store.add(result, copy)
    return count


def test_two_processes_writing_at_once_lose_nothing(tmp_path, recording):
    path, result = recording
    shutil.copy(path, tmp_path / "template.csv")
    db = tmp_path / "p.sqlite3"
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        written = pool.map(_writer, [(db, tmp_path, w, 12) for w in range(2)])
    with Store(db) as store:
        assert len(store.sessions()) == sum(written) == 24
        assert len(list(store.holds())) == 24 * len(result.holds)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_or_foreign_file_is_refused_and_left_untouched(tmp_path):
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database at all" * 100)
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.execute("INSERT INTO contacts VALUES ('someone')")
    damaged = tmp_path / "damaged.sqlite3"
    Store(damaged).close()
    data = bytearray(damaged.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    damaged.write_bytes(bytes(data))
    for path, message in ((garbage, "not SQLite"), (foreign, "another program's database"),
                          (damaged, "damaged or not a database")):
        before = _digest(path)
        with pytest.raises(StoreError, match=message):
            Store(path)
        assert _digest(path) == before


def test_a_database_from_the_first_schema_is_migrated_keeping_its_data(tmp_path, recording):
    from imutrack.store import APPLICATION_ID, MIGRATIONS, _HOLD_COLUMNS_V1

    path, result = recording
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as raw:  # what imutrack with schema 1 left behind: one session, one hold
        raw.executescript(MIGRATIONS[0])
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        raw.execute("PRAGMA user_version = 1")
        raw.execute("INSERT INTO sessions VALUES (1, 'old', '2026-11-01T08:00:00+01:00', '2026-11-01T07:00:00+00:00', "
                    "'2026-11-01', 'morning', 'sim', 'sim', 'assisted', '', 'old.csv', 300, 1, 0, 41.5, NULL, NULL, "
                    "'0.1.0', '2026-11-01T07:10:00+00:00')")
        raw.execute("INSERT INTO sessions VALUES (2, 'late', '2026-11-01T23:30:00+01:00', '2026-11-01T22:30:00+00:00', "
                    "'2026-11-01', 'night', 'sim', 'sim', 'assisted', '', 'late.csv', 300, 0, 0, NULL, NULL, NULL, "
                    "'0.1.0', '2026-11-01T22:40:00+00:00')")
        old_hold = {name: getattr(result.holds[0], name) for name in _HOLD_COLUMNS_V1}
        marks = ", ".join("?" * len(old_hold))
        raw.execute(f"INSERT INTO holds (session_id, {', '.join(old_hold)}) VALUES (1, {marks})", list(old_hold.values()))
    calibration = GyroCalibration(1.012, (0.0, 0.0, 1.0), 3, 1092.96, "sim")
    with Store(db) as store:
        store.add(replace(result, holds=[replace(h, neutral_shift_deg=3.5) for h in result.holds],
                          calibration=calibration), path)
        # schema 3: a shift that is unknown (the rep lies after a long gap in its recording) is kept as unknown
        store.add(replace(result, holds=[replace(h, neutral_shift_deg=float("nan")) for h in result.holds]), path,
                  digest="gappy")
        holds = list(store.holds())
        sessions = store.sessions()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 10
    # schema 10: sessions before a second sensor was possible were the chest's alone, their holds without its numbers
    assert {s.sensors for s in sessions} == {"chest"}
    assert all(np.isnan(h.spine_mean_twist_deg) and np.isnan(h.pelvis_share) for _, h in holds)
    late = sessions.pop(1)
    assert late.time_slot == "evening"  # schema 7: "night" was counted in no part of the day
    assert late.pain_before is None and late.pain_after is None  # schema 8: back ratings, none before
    assert [s.best_rom_left_deg for s in sessions][0] == 41.5
    # schema 4: the gyro scale applied, unknown (not calibrated) for sessions stored before
    assert [s.gyro_scale for s in sessions] == [None, 1.012, None]
    # schema 6: the analysis version, unknown for the session stored before versions were kept
    assert [s.analysis_version for s in sessions] == [None, ANALYSIS_VERSION, ANALYSIS_VERSION]
    old_back = json_safe(asdict(holds[0][1]))  # NaN (no breathing found in a short hold) as None, to compare
    assert holds[0][0] == 1 and old_back == json_safe(asdict(replace(result.holds[0], neutral_shift_deg=0.0)))
    n = len(result.holds)
    assert [h.neutral_shift_deg for _, h in holds[1:1 + n]] == [3.5] * n
    assert all(np.isnan(h.neutral_shift_deg) for _, h in holds[1 + n:]) and len(holds) == 1 + 2 * n


def test_a_newer_schema_is_refused(tmp_path):
    db = tmp_path / "p.sqlite3"
    Store(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer imutrack"):
        Store(db)


def _session(k, day, left, right, slot="morning", assisted="assisted", clock=None):
    clock = clock or {"morning": "08:00", "afternoon": "14:00", "evening": "19:00"}[slot]
    return StoredSession(k, f"h{k}", f"{day}T{clock}:00+01:00", day, slot, "sim", assisted, "x.csv", 300.0, 2, 2,
                         left, right, left - right)


def test_every_session_falls_in_a_part_of_the_day_and_late_ones_in_the_evening_before():
    from imutrack.metrics import DayParts

    parts = DayParts()
    assert parts.part_of("2026-11-20T04:59:00+01:00") == ("2026-11-19", "evening")
    assert parts.part_of("2026-11-20T05:00:00+01:00") == ("2026-11-20", "morning")
    assert parts.part_of("2026-11-20T16:59:59+01:00") == ("2026-11-20", "afternoon")
    assert parts.part_of("2026-11-20T23:30:00-05:00") == ("2026-11-20", "evening")
    assert parts.part_of("not a time") == (None, "unknown")
    early = DayParts.parse("6:30, 11, 18")
    assert (early.morning_h, early.afternoon_h, early.evening_h) == (6.5, 11.0, 18.0)
    assert early.part_of("2026-11-20T06:00:00+01:00") == ("2026-11-19", "evening")
    assert early.part_of("2026-11-20T17:30:00+01:00") == ("2026-11-20", "afternoon")
    for wrong in ("12,5,17", "5,12", "5,noon,17", "5,12,25"):
        with pytest.raises(ValueError):
            DayParts.parse(wrong)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 24 * 60 - 1), st.integers(-12, 14))
def test_no_time_of_day_is_left_out(minute, offset_h):
    from imutrack.metrics import DayParts

    start = f"2026-03-10T{minute // 60:02d}:{minute % 60:02d}:00{offset_h:+03d}:00"
    day, part = DayParts().part_of(start)
    assert part in ("morning", "afternoon", "evening")
    assert day in ("2026-03-10", "2026-03-09") and (day == "2026-03-09") == (minute < 5 * 60)


def test_late_sessions_count_in_the_week_and_the_adherence_grid(recording):
    from imutrack.metrics import DayParts
    from imutrack.report.progress_report import calendar_data

    _, result = recording
    sessions = [_session(1, "2026-11-16", 40.0, 38.0, "morning"),
                _session(2, "2026-11-16", 40.0, 38.0, "evening", clock="23:10"),
                _session(3, "2026-11-18", 40.0, 38.0, "evening", clock="00:40")]  # Tuesday night's
    p = summarize(sessions, [], today=date(2026, 11, 18))
    assert p.slots_this_week == {"morning": 1, "afternoon": 0, "evening": 2}
    grid = calendar_data(sessions)
    assert grid.dates == ["2026-11-16", "2026-11-17"] and grid.done == [[1, 0, 1], [0, 0, 1]]
    later = DayParts(morning_h=9.0, afternoon_h=13.0, evening_h=23.5)  # someone whose evening starts late
    assert summarize(sessions, [], today=date(2026, 11, 18), parts=later).slots_this_week == {
        "morning": 0, "afternoon": 1, "evening": 1}


def test_progress_trend_noise_streak_and_slots(recording):
    _, result = recording
    start = date(2026, 11, 1)
    sessions = [_session(k, (start + timedelta(days=k)).isoformat(), 40.0 + 0.5 * k, 35.0 + 0.05 * k,
                         slot=("morning", "afternoon", "evening")[k % 3]) for k in range(21)]
    holds = [(s.id, replace(result.holds[0], duration_s=61.0 if s.id % 2 else 50.0)) for s in sessions]
    p = summarize(sessions, holds)
    assert p.left.slope_deg_per_week == pytest.approx(3.5)
    assert p.left.change_deg == pytest.approx(10.0) and p.left.change_is_real
    assert abs(p.right.change_deg) < MDC_DEG and p.right.change_is_real is False
    assert p.streak_days == 21 and p.compliant_fraction == pytest.approx(10 / 21)
    # the last day, 2026-11-21, is a Saturday: its week began on Monday the 16th (k = 15..20)
    assert p.slots_this_week == {"morning": 2, "afternoon": 2, "evening": 2}
    assert p.plateau is False


def test_a_plateau_with_steady_holds_suggests_the_unassisted_variant(recording):
    _, result = recording
    start = date(2026, 11, 1)
    sessions = [_session(k, (start + timedelta(days=k)).isoformat(), 55.0, 50.0) for k in range(14)]
    steady = replace(result.holds[0], twist_sd_deg=0.4, forced=False)
    p = summarize(sessions, [(s.id, steady) for s in sessions])
    assert p.plateau and any("unassisted" in line for line in p.advice)


def test_cli_analyze_store_then_progress(tmp_path, recording, capsys):
    path, _ = recording
    db = tmp_path / "p.sqlite3"
    assert main(["analyze", str(path), "--store", "--db", str(db)]) == 0
    assert main(["analyze", str(path), "--store", "--db", str(db)]) == 0
    assert "0 new session(s)" in flat(capsys.readouterr().err)  # a note: stdout keeps the data alone
    assert main(["progress", "--db", str(db), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sessions"] == 1 and summary["holds"] == 2
    assert main(["progress", "--db", str(db)]) == 0
    assert "range of motion" in capsys.readouterr().out
    assert main(["progress", "--db", str(tmp_path / "none.sqlite3")]) == 1
    assert "no progress database" in capsys.readouterr().err


HOLD_VALUES = {
    bool: st.sampled_from([True, False, np.bool_(True), np.bool_(False)]),
    int: st.integers(1, 1000) | st.integers(1, 1000).map(np.int64),
    float: st.floats(-1e6, 1e6, allow_nan=False) | st.just(float("nan")) | st.floats(-1e6, 1e6).map(np.float64),
    str: st.sampled_from(["left", "right"]),
}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_hold_field_comes_back_with_its_type(tmp_path_factory, recording, data):
    # A numpy bool was stored as a one-byte BLOB that read back as True: 196 of 196 holds "forced".
    from typing import get_type_hints

    path, result = recording
    hints = get_type_hints(HoldMetrics)
    drawn = {f.name: data.draw(HOLD_VALUES[hints[f.name]], label=f.name) for f in fields(HoldMetrics)}
    hold = HoldMetrics(**drawn)
    with Store(tmp_path_factory.mktemp("db") / "p.sqlite3") as store:
        store.add(replace(result, holds=[hold]), path)
        (_, back), = list(store.holds())
    for f in fields(HoldMetrics):
        value, stored = getattr(back, f.name), drawn[f.name]
        kind = hints[f.name]
        assert type(value) is kind, (f.name, type(value))
        if kind is float and np.isnan(stored):
            assert np.isnan(value)
        else:
            assert value == kind(stored), f.name


def test_a_store_with_forced_kept_as_blobs_is_repaired(tmp_path, recording):
    from imutrack.store import APPLICATION_ID, MIGRATIONS

    path, result = recording
    db = tmp_path / "v4.sqlite3"
    with sqlite3.connect(db) as raw:  # what imutrack with schema 4 wrote: `forced` as numpy's bytes
        for migration in MIGRATIONS[:4]:
            raw.executescript(migration)
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        raw.execute("PRAGMA user_version = 4")
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO sessions (id, content_hash, start_time, start_utc, local_date, time_slot, device, "
                    "profile, assisted, notes, recording_path, duration_s, reps_left, reps_right, imutrack_version, "
                    "stored_at) VALUES (1, 'h', '2026-11-01T08:00:00+01:00', '2026-11-01T07:00:00+00:00', "
                    "'2026-11-01', 'morning', 'd', 'p', 'assisted', '', 'x.csv', 300, 1, 1, '0.1.0', 'now')")
        for rep, (bounce, forced) in enumerate([(0.4, b"\x00"), (2.5, b"\x01")], start=1):
            raw.execute("INSERT INTO holds (session_id, rep, side, bounce_deg, forced) VALUES (1, ?, 'left', ?, ?)",
                        (rep, bounce, forced))
    with Store(db) as store:
        assert [h.forced for _, h in store.holds()] == [False, True]
        store.add(result, path)  # and a new session records the parameters it was computed with
    with sqlite3.connect(db) as raw:
        params = raw.execute("SELECT analysis_params FROM sessions ORDER BY id").fetchall()
    assert params[0][0] is None and json.loads(params[1][0])["metrics"]["forced_bounce_deg"] == 1.0


def test_sessions_from_an_earlier_analysis_are_pointed_out_and_reanalysed(tmp_path, capsys):
    db = tmp_path / "p.sqlite3"
    paths = []
    for seed in (31, 32):
        session = simulate(SimulatorConfig(seed=seed, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
        paths.append(write_recording(tmp_path / f"s{seed}.csv", session.samples,
                                     RecordingMeta(start_time=f"2026-11-{seed - 10}T08:30:00+01:00")))
    assert main(["analyze", *map(str, paths), "--store", "--db", str(db)]) == 0
    with Store(db) as store:
        now = {s.id: (s.best_rom_left_deg, s.best_rom_right_deg) for s in store.sessions()}
    with sqlite3.connect(db) as raw:  # as an earlier analysis left them: other numbers, no version
        raw.execute("UPDATE sessions SET analysis_version = NULL, best_rom_left_deg = best_rom_left_deg - 3")
        raw.execute("UPDATE holds SET rom_deg = rom_deg - 3")
    paths[1].rename(tmp_path / "moved.csv")  # one recording is no longer where it was
    capsys.readouterr()
    assert main(["progress", "--db", str(db)]) == 0
    assert "2 of 2 sessions were computed by an earlier version of the analysis" in flat(capsys.readouterr().err)
    assert main(["reanalyze", "--db", str(db), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert f"{now[1][0] - 3:.1f} → {now[1][0]:.1f}" in flat(captured.out)  # what changed, per session
    assert "is gone" in captured.err and "keeps the numbers of analysis version 1" in flat(captured.err)
    with Store(db) as store:
        sessions = store.sessions()
        holds = [h for sid, h in store.holds() if sid == sessions[0].id]
    assert (sessions[0].best_rom_left_deg, sessions[0].best_rom_right_deg) == pytest.approx(now[1])
    assert [s.analysis_version for s in sessions] == [ANALYSIS_VERSION, None]
    assert max(h.rom_deg for h in holds if h.side == "left") == pytest.approx(now[1][0])
    assert main(["progress", "--db", str(db)]) == 0
    assert "1 of 2 sessions were computed by an earlier version" in flat(capsys.readouterr().err)


def test_a_damaged_store_is_neither_written_nor_a_traceback(tmp_path, recording, capsys):
    path, result = recording
    db = tmp_path / "p.sqlite3"
    with Store(db) as store:
        for k in range(30):  # enough rows for several pages
            store.add(result, path, digest=f"d{k}")
    size = db.stat().st_size
    with open(db, "r+b") as f:  # a disk error scrambles a page in the middle of the file
        f.seek(size // 2)
        f.write(bytes(range(256)) * 8)
    before = _digest(db)
    with Store(db) as store, pytest.raises(StoreError, match="is damaged"):
        store.add(result, path, digest="new")
    assert _digest(db) == before  # nothing was written
    assert main(["analyze", str(path), "--store", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "is damaged" in err and "nothing was written" in err and "stored" not in err
    assert _digest(db) == before
    assert main(["progress", "--db", str(db)]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_a_start_time_that_is_no_time_is_said_and_the_session_still_stored(tmp_path, capsys):
    session = simulate(SimulatorConfig(seed=33, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
    path = write_recording(tmp_path / "s.csv", session.samples, RecordingMeta(start_time="yesterday morning"))
    assert main(["analyze", str(path), "--store", "--db", str(tmp_path / "p.sqlite3")]) == 0  # had crashed
    err = flat(capsys.readouterr().err)
    assert "start_time 'yesterday morning' is not an ISO 8601 time" in err
    with Store(tmp_path / "p.sqlite3") as store:
        (stored,) = store.sessions()
    assert stored.time_slot == "unknown"


def _open_new(args):
    db, start = args
    import time

    while time.monotonic() < start:  # all at once: the moment a new database is first used is the fragile one
        pass
    try:
        with Store(db) as store:
            return len(store.sessions())
    except StoreError as exc:
        return str(exc)


def test_many_processes_using_a_new_database_at_once_are_all_let_in(tmp_path):
    # 1-4.5 % of such opens had been refused ("another program's database", "database is locked")
    import time

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(8) as pool:
        for round_ in range(5):
            start = time.monotonic() + 0.2
            answers = pool.map(_open_new, [(tmp_path / f"new{round_}.sqlite3", start)] * 8)
            assert answers == [0] * 8, answers


def test_back_ratings_are_kept_with_the_session_and_summarised(tmp_path, recording):
    from imutrack.progress import pain_words
    from imutrack.report.progress_report import write_html

    path, result = recording
    with Store(tmp_path / "p.sqlite3") as store:
        session_id, _ = store.add(result, path)
        store.set_ratings(session_id, 6, 3)
        for wrong in (11, -1, 2.5, True, "5"):
            with pytest.raises(StoreError, match="whole number from 0 to 10"):
                store.set_ratings(session_id, wrong, None)
        store.replace(session_id, result)  # analysed again: the ratings stay
        [stored] = store.sessions()
    assert (stored.pain_before, stored.pain_after) == (6, 3)
    days = [("2026-11-16", 6, 4), ("2026-11-17", 5, None), ("2026-11-18", None, None), ("2026-11-19", 4, 2)]
    sessions = [replace(_session(k, day, 40.0, 38.0), pain_before=before, pain_after=after)
                for k, (day, before, after) in enumerate(days, start=1)]
    pain = summarize(sessions, []).pain
    assert pain.sessions == 3 and pain.before_mean == pytest.approx(5.0) and pain.after_mean == pytest.approx(3.0)
    assert pain.change_mean == pytest.approx(-2.0)  # only sessions rated both times: (4 − 6 + 2 − 4) / 2
    assert (pain.first_before, pain.latest_before) == (6, 4)
    assert summarize(sessions[2:3], []).pain is None
    words = pain_words(pain)
    assert "before sessions 5.0, after 3.0 on average (3 rated sessions)" in words and "-2.0" in words
    from imutrack.report.progress_report import report_data

    page = write_html(report_data(sessions, []), sessions, tmp_path / "r.html").read_text()
    assert words in page and page.count("<td>6 → 4</td>") == 1 and page.count("<td>– → –</td>") == 1


def test_compliance_and_adherence_follow_the_plan_in_force_each_day(tmp_path, recording):
    """A physiotherapist shortens the holds to 20 s and asks for two sessions a day from the 18th: holds of 25 s
    count from then on, not before; a day is measured against its own plan."""
    from imutrack.plan import Plan

    _, result = recording
    with Store(tmp_path / "p.sqlite3") as store:
        store.add_plan(Plan("2026-11-18", hold_s=20.0, reps_per_side=3, parts=("morning", "evening")))
        store.add_plan(Plan("2026-11-16", hold_s=60.0))
        store.add_plan(Plan("2026-11-18", hold_s=20.0, reps_per_side=3, parts=("morning", "evening"),
                            note="shorter holds, <b>twice</b> a day"))  # the same start date: replaced
        plans = store.plans()
        store.set_profile(name="Ana O'Neil", patient_id="P-17")
        store.set_profile(patient_id="")
        profile = store.profile()
    assert [p.start_date for p in plans] == ["2026-11-16", "2026-11-18"] and plans[1].note.startswith("shorter")
    assert profile == {"name": "Ana O'Neil"}
    sessions = [_session(1, "2026-11-16", 40.0, 38.0, "morning"), _session(2, "2026-11-17", 40.0, 38.0, "morning"),
                _session(3, "2026-11-18", 40.0, 38.0, "morning"), _session(4, "2026-11-18", 40.0, 38.0, "evening"),
                _session(5, "2026-11-19", 41.0, 38.0, "afternoon")]
    holds = [(s.id, replace(result.holds[0], duration_s=25.0)) for s in sessions]
    p = summarize(sessions, holds, plans)
    assert p.adherence.holds == 5 and p.adherence.holds_meeting_plan == 3  # 25 s ≥ 90 % of 20 s, not of 60 s
    assert p.compliant_fraction == pytest.approx(3 / 5)
    assert p.adherence.per_day["2026-11-16"] == (["morning"], ["morning", "afternoon", "evening"])
    assert p.adherence.per_day["2026-11-18"] == (["morning", "evening"], ["morning", "evening"])
    assert p.adherence.per_day["2026-11-19"] == (["afternoon"], ["morning", "evening"])  # done, but not as asked
    assert (p.adherence.days, p.adherence.days_fully_done) == (4, 1)
    assert (p.adherence.sessions_prescribed, p.adherence.sessions_done) == (3 + 3 + 2 + 2, 1 + 1 + 2 + 0)
    assert p.plan.hold_s == 20.0 and "3 reps per side, holds of 20 s, 2 sessions a day" in p.plan.describe()
    assert summarize(sessions, holds).adherence.holds_meeting_plan == 0  # the default plan: 60 s holds


def test_a_sessions_notes_are_kept(tmp_path, recording):
    _, result = recording
    noted = replace(result, meta=replace(result.meta, notes="after a long drive; =SUM(A1)"))
    with Store(tmp_path / "p.sqlite3") as store:
        store.add(noted, None, digest="noted")
        [stored] = store.sessions()
    assert stored.notes == "after a long drive; =SUM(A1)"
