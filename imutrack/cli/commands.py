"""The analysis commands: ``demo``, ``simulate``, ``info``, ``analyze``, ``reanalyze``, ``calibrate``, ``import``,
``progress`` and ``report`` compose the pipeline's stages and show their results with rich; ``run`` sends each
command to its function (the recording commands are in :mod:`imutrack.cli.record`, the guided session in
:mod:`imutrack.cli.guide`)."""

from __future__ import annotations

import argparse
import json
import os
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
from rich import box
from rich.table import Table

from imutrack.analysis import (
    ANALYSIS_SCHEMA_VERSION,
    HOLD_TABLE_COLUMNS,
    AnalysisParams,
    SessionAnalysis,
    analyze,
)
from imutrack.cli.console import console, data_dir, num, plain, progress_bar, status, unique
from imutrack.errors import ImutrackError, ImutrackWarning
from imutrack.io import find_sessions, pelvis_path
from imutrack.orientation import OrientationParams
from imutrack.recording import RecordingMeta, local_now_iso, read_recording, write_recording
from imutrack.report import SEAT_SHIFT_NOTE_DEG
from imutrack.sources.simulator import (
    SimulatedSession,
    SimulatorConfig,
    practice_history,
    simulate,
    simulate_calibration,
)
from imutrack.text import printable


def run(args: argparse.Namespace) -> int:
    handler = {
        "demo": demo,
        "simulate": simulate_command,
        "info": info,
        "analyze": analyze_command,
        "progress": progress_command,
        "report": report_command,
        "import": import_command,
        "calibrate": calibrate_command,
        "reanalyze": reanalyze_command,
    }.get(args.command)
    if handler is None:
        from imutrack.cli import guide, record

        handler = {"scan": record.scan_command, "record": record.record_command, "plan": plan_command,
                   "profile": profile_command,
                   "sim-sensor": record.sim_sensor_command, "live": guide.live_command,
                   "phone-setup": record.phone_setup_command}[args.command]
    return handler(args)


def demo(args: argparse.Namespace) -> int:
    if args.reps < 1:
        raise ImutrackError(f"--reps must be at least 1, got {args.reps}")
    out_dir = args.out if args.out is not None else data_dir() / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    recording_path = unique(out_dir / f"demo-{stamp}.csv")
    cfg = SimulatorConfig(
        sample_rate_hz=args.rate,
        seed=args.seed,
        reps_per_side=args.reps,
        hold_s=args.hold,
        start_time=local_now_iso(),
        pelvis_sensor=args.pelvis,
        pelvis_share=0.17 if args.pelvis else 0.0,
    )
    console.print(
        f"[bold]imutrack demo[/]: a simulated seated-twist session, {args.reps} reps per side, "
        f"{args.hold:g} s holds, {args.rate:g} Hz" + (", chest and pelvis sensors" if args.pelvis else "")
    )
    history = practice_history(days=args.days, end=datetime.fromisoformat(cfg.start_time), seed=args.seed)[:-1]
    db_path = out_dir / "demo-progress.sqlite3"
    for stale in out_dir.glob("demo-progress.sqlite3*"):  # the demo's own database, rebuilt on every run
        stale.unlink()
    with progress_bar() as progress:
        task = progress.add_task("simulating the sensor", total=6 + len(history))
        session = simulate(cfg)
        progress.update(task, advance=1, description="writing the recording")
        write_recording(recording_path, session.samples, session.recording_meta())
        if session.pelvis is not None:
            write_recording(pelvis_path(recording_path), session.pelvis, session.pelvis_meta())
        progress.update(task, advance=1, description="reading it back")
        recording = read_recording(recording_path)
        progress.update(task, advance=1, description="analysing")
        result = analyze(recording)
        progress.update(task, advance=1, description="drawing the session")
        from imutrack.report.plots import session_figure
        from imutrack.report.progress_report import write_reports

        figure_path = session_figure(recording_path.with_suffix(".png"), result, session.truth.twist_deg)
        progress.update(task, advance=1, description=f"{args.days} days of practice")
        from imutrack.store import Store

        with Store(db_path) as store, ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for past, digest in pool.map(_history_session, history, chunksize=4):
                store.add(past, None, digest=digest)
                progress.advance(task)
            store.add(result, recording_path)
        progress.update(task, description="writing the report")
        report_path = write_reports(db_path, html=out_dir / "demo-report.html")[0]
        progress.update(task, advance=1, description="done")

    _print_recording_summary(recording)
    print_analysis(result, truth=session)
    console.print(f"recording: {recording_path}")
    console.print(f"figure:    {figure_path}")
    console.print(f"progress:  {len(history) + 1} sessions over {args.days} days in {db_path}")
    console.print(f"report:    {report_path}")
    return 0


def _history_session(past) -> tuple[SessionAnalysis, str]:
    """Worker: simulate and analyse one past session; its digest stands for the recording, which is not kept."""
    import hashlib

    simulated = simulate(past.config)
    meta = RecordingMeta(device="simulator", profile="simulator", start_time=past.start_time, assisted=past.assisted,
                         chest_normal_axis=past.config.chest_normal_axis)
    digest = hashlib.sha256(simulated.samples.gyr_rad_s.tobytes() + past.start_time.encode()).hexdigest()
    return analyze(simulated.samples, meta=meta), digest


def _print_recording_summary(recording) -> None:
    samples = recording.samples
    console.print(
        f"recorded {len(samples):,} samples, {samples.duration_s / 60:.1f} min at {samples.rate_hz:.1f} Hz, "
        f"{recording.lost_samples} lost"
    )


_HOLD_CAPTION = (
    "twist: mean angle held (+ left); creep: gained during the hold (relaxing into it); sway: SD of the angle "
    "around its trend; slouch: share of the hold bent forward beyond the threshold; br/min: breaths per minute"
)


_TWO_SENSOR_CAPTION = (
    "; two sensors: twist is the chest's turn, spine the spine's own twist (chest against pelvis), hips the pelvis's "
    "share of the turn (turning on the seat)"
)


def print_analysis(result: SessionAnalysis, truth: SimulatedSession | None = None) -> None:
    """The session's holds as a table (with the simulator's truth next to the measured twist when given)."""
    m = result.session
    two = result.sensors == "chest+pelvis"
    table = Table(title=plain(f"{Path(result.source).name}: holds"), title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False, collapse_padding=True)
    columns = ["rep", "side", "hold s", "twist°"]
    if truth is not None:
        columns.append("truth°")
    if two:  # (its sway is left to --json: two more columns must fit in 80 all the same)
        columns += ["spine°", "hips"]
    columns += ["creep°", *([] if two else ["sway°"]), "forced", "slouch", "br/min"]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    truth_reps = truth.truth.reps if truth is not None else []
    for h in result.holds:
        row = [str(h.rep), h.side, f"{h.duration_s:.1f}", f"{h.mean_twist_deg:+.1f}"]
        if truth is not None:
            match = min(truth_reps, key=lambda r: abs(r.hold_start_s - h.hold_start_s), default=None)
            row.append(f"{match.mean_twist_deg:+.1f}" if match else "-")
        if two:
            row += [f"{h.spine_mean_twist_deg:+.1f}", num(100 * h.pelvis_share, ".0f") + " %"]
        row += [
            f"{h.creep_deg:+.1f}",
            *([] if two else [f"{h.twist_sd_deg:.2f}"]),
            "yes" if h.forced else "",
            f"{100 * h.slouch_fraction:.0f} %" if h.slouch_fraction > 0 else "",
            num(h.breath_rate_bpm, ".1f"),
        ]
        table.add_row(*row)
    console.print(table)
    caption = _HOLD_CAPTION.replace(" sway: SD of the angle around its trend;", "") + _TWO_SENSOR_CAPTION if two \
        else _HOLD_CAPTION
    console.print(caption, style="dim")
    shifted = [h for h in result.holds if abs(h.neutral_shift_deg) >= SEAT_SHIFT_NOTE_DEG]
    if shifted:
        where = ", ".join(
            f"rep {h.rep}: {abs(h.neutral_shift_deg):.0f}° {'left' if h.neutral_shift_deg > 0 else 'right'}"
            for h in shifted
        )
        console.print(f"facing forward had moved from the start ({where}): a shift on the seat? Each rep is measured "
                      "from the rest before it.")
    console.print(result.calibration.describe() if result.calibration is not None else
                  "gyro scale not calibrated: twists may be off by 1–3 % of their size (imutrack calibrate)",
                  style="dim", markup=False)
    console.print(
        f"{m.time_slot} session, {m.duration_s / 60:.1f} min, {m.assisted}, "
        f"{'chest and pelvis sensors' if two else 'one chest sensor'}: "
        f"left best {num(m.left.best_rom_deg, '.1f')}° ({m.left.holds} holds), "
        f"right best {num(m.right.best_rom_deg, '.1f')}° ({m.right.holds} holds), "
        f"asymmetry {num(m.asymmetry_deg, '+.1f')}°; {m.compliant_holds} of {len(result.holds)} holds ≥ "
        f"{0.9 * result.params.metrics.target_hold_s:.0f} s"
    )


def simulate_command(args: argparse.Namespace) -> int:
    if args.reps < 0:
        raise ImutrackError(f"--reps must be ≥ 0, got {args.reps}")
    if not 0.0 <= args.seat_shift <= 20.0:
        raise ImutrackError(f"--seat-shift must be between 0 and 20°, got {args.seat_shift:g}")
    if args.pelvis is not None and not 0.0 <= args.pelvis <= 0.6:
        raise ImutrackError(f"--pelvis is the pelvis's share of each turn, between 0 and 0.6, got {args.pelvis:g}")
    cfg = SimulatorConfig(
        sample_rate_hz=args.rate,
        seed=args.seed,
        reps_per_side=args.reps,
        hold_s=args.hold,
        with_mag=args.mag,
        seat_shift_deg=args.seat_shift,
        start_time=local_now_iso(),
        pelvis_sensor=args.pelvis is not None,
        pelvis_share=args.pelvis or 0.0,
    )
    session = simulate(cfg)
    if args.calibration_turns:
        turns = simulate_calibration(session.truth, args.calibration_turns, cfg=cfg)
        meta = session.recording_meta()
        meta.notes = f"simulated calibration: {args.calibration_turns} whole turns on a swivel chair"
        path = write_recording(args.out, turns.samples, meta)
        console.print(f"wrote {path}: {abs(args.calibration_turns)} whole turns of the simulated sensor of seed "
                      f"{args.seed} (imutrack calibrate {path})", markup=False)
        return 0
    path = write_recording(args.out, session.samples, session.recording_meta())
    truth_path = path.with_name(path.stem + ".truth.json")
    truth_path.write_text(json.dumps(session.truth_summary(), indent=2) + "\n", encoding="utf-8")
    pelvis = ""
    if session.pelvis is not None:
        pelvis = f", {write_recording(pelvis_path(path), session.pelvis, session.pelvis_meta())}"
    console.print(f"wrote {path} ({len(session.samples):,} samples){pelvis} and {truth_path}", markup=False)
    return 0


def info(args: argparse.Namespace) -> int:
    table = Table(title="recordings", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("file", "device", "start", "min", "Hz", "samples", "lost", "events"):
        table.add_column(column, overflow="fold")
    for path in args.files:
        recording = read_recording(path)
        samples, meta = recording.samples, recording.meta
        table.add_row(
            plain(path.name),
            plain(f"{meta.device} ({meta.profile}{', mag' if samples.has_mag else ''})"),
            plain(meta.start_time[:16].replace("T", " ")) or "?",
            f"{samples.duration_s / 60:.1f}",
            "-" if np.isnan(samples.rate_hz) else f"{samples.rate_hz:.1f}",
            f"{len(samples):,}",
            str(recording.lost_samples),
            str(len(recording.events)),
        )
    console.print(table)
    return 0


def _analyze_one(path: Path, params: AnalysisParams) -> tuple[SessionAnalysis | None, str, list[str]]:
    """Worker: (result or None, error message, warnings) — never raises for a user error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ImutrackWarning)
        try:
            result, error = analyze(path, params), ""
        except ImutrackError as exc:
            result, error = None, str(exc)
    return result, error, [str(w.message) for w in caught if issubclass(w.category, ImutrackWarning)]


def analyze_command(args: argparse.Namespace) -> int:
    paths = find_sessions(args.files)
    params = AnalysisParams(
        orientation=OrientationParams(use_mag=args.nine_d), neutral_s=args.neutral, chest_normal_axis=args.chest_axis
    )
    outcomes: dict[Path, tuple] = {}
    if len(paths) == 1:
        outcomes[paths[0]] = _analyze_one(paths[0], params)
    else:
        jobs = args.jobs or min(len(paths), os.cpu_count() or 1)
        with progress_bar() as progress, ProcessPoolExecutor(max_workers=jobs) as pool:
            task = progress.add_task(f"analysing {len(paths)} recordings", total=len(paths))
            futures = {pool.submit(_analyze_one, path, params): path for path in paths}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                progress.advance(task)
    failed = 0
    results, documents = [], []
    for path in paths:
        result, error, warned = outcomes[path]
        for message in warned:
            warnings.warn(message, ImutrackWarning, stacklevel=1)
        if result is None:
            if len(paths) == 1 and not args.json:
                raise ImutrackError(error)
            status.print(printable(f"imutrack: error: {error}"), markup=False, highlight=False, soft_wrap=True)
            documents.append({"schema_version": ANALYSIS_SCHEMA_VERSION, "source": str(path), "error": error})
            failed += 1
            continue
        results.append(result)
        documents.append(result.to_dict())
        _write_outputs(result, args, several=len(paths) > 1)
    if args.store:
        from imutrack.store import Store, default_path

        with Store(args.db or default_path()) as store:
            added = sum(store.add(r, r.source)[1] for r in results)
        status.print(f"stored {added} new session(s) in {store.path} ({len(results) - added} already there)",
                     style="dim", markup=False)
    if args.csv is not None:
        from imutrack.report.tables import write_csv

        write_csv(args.csv, HOLD_TABLE_COLUMNS, ([row[c] for c in HOLD_TABLE_COLUMNS]
                                                 for result in results for row in result.hold_rows()))
        status.print(f"holds: {args.csv}", style="dim", markup=False, highlight=False)
    if args.json:  # one shape whatever the number of inputs (docs/analysis.schema.json)
        print(json.dumps(documents, indent=2, allow_nan=False))
    elif len(paths) == 1:
        for result in results:
            print_analysis(result)
    elif results:
        print_sessions(results)
    return 1 if failed else 0


def print_sessions(results: list[SessionAnalysis]) -> None:
    """Several sessions: one row each (the holds of one are in `imutrack analyze FILE`, or all in --csv)."""
    table = Table(title=f"{len(results)} sessions", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("recording", "start", "holds", "best L/R°", "asym°", "≥54 s", "notes"):
        table.add_column(column, justify="left" if column in ("recording", "start") else "right",
                         no_wrap=column != "recording", overflow="fold")
    for result in results:
        m = result.session
        table.add_row(plain(Path(result.source).name), m.start_time[:16].replace("T", " ") or m.time_slot,
                      f"{m.left.holds}+{m.right.holds}",
                      f"{num(m.left.best_rom_deg, '.1f')}/{num(m.right.best_rom_deg, '.1f')}",
                      num(m.asymmetry_deg, "+.1f"), f"{m.compliant_holds}/{len(result.holds)}",
                      str(len(result.warnings)) if result.warnings else "")
    console.print(table)
    console.print("holds: left + right; best: the best hold's mean angle per side (its range of motion); asym: best "
                  "left − best right; ≥54 s: holds of 90 % of the 60 s target; notes: warnings (on stderr). The "
                  "holds of one session: imutrack analyze FILE; of all, one row each: --csv HOLDS.csv.", style="dim")


def _write_outputs(result: SessionAnalysis, args: argparse.Namespace, several: bool) -> None:
    stem = Path(result.source).stem
    if args.plot is not None:
        target = args.plot / f"{stem}.png" if several else args.plot
        target.parent.mkdir(parents=True, exist_ok=True)
        from imutrack.report.plots import session_figure

        session_figure(target, result)
    if args.angles is not None:
        target = args.angles / f"{stem}.angles.csv" if several else args.angles
        target.parent.mkdir(parents=True, exist_ok=True)
        result.write_angles_csv(target)


def reanalyze_command(args: argparse.Namespace) -> int:
    """Analyse stored sessions again from their recordings with this version of the analysis, and say what changed."""
    from imutrack.analysis import ANALYSIS_VERSION
    from imutrack.store import Store, default_path

    path = args.db or default_path()
    if not path.exists():
        raise ImutrackError(f"no progress database at {path} yet: analyse sessions with 'imutrack analyze --store'")
    with Store(path) as store:
        todo = [s for s in store.sessions() if args.all or s.analysis_version != ANALYSIS_VERSION]
        params = {s.id: _kept_choices(store.analysis_params(s.id)) for s in todo}
    gone = [s for s in todo if not s.recording_path or not Path(s.recording_path).is_file()]
    todo = [s for s in todo if s not in gone]
    if not todo and not gone:
        console.print(f"every stored session is already from this analysis (version {ANALYSIS_VERSION})")
        return 0
    outcomes = {}
    if todo:
        with progress_bar() as progress, ProcessPoolExecutor(max_workers=args.jobs or os.cpu_count() or 1) as pool:
            task = progress.add_task(f"re-analysing {len(todo)} sessions", total=len(todo))
            futures = {pool.submit(_analyze_one, Path(s.recording_path), params[s.id]): s for s in todo}
            for future in as_completed(futures):
                outcomes[futures[future].id] = future.result()
                progress.advance(task)
    table = Table(title=f"{path.name}: re-analysed (analysis version {ANALYSIS_VERSION})", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for column in ("session", "left best, °", "right best, °"):
        table.add_column(column, justify="right")
    failed = 0
    with Store(path) as store:
        for s in todo:
            result, error, _ = outcomes[s.id]
            if result is None:
                status.print(f"imutrack: error: {error}; the stored session is kept as it was", markup=False,
                             highlight=False, soft_wrap=True)
                failed += 1
                continue
            store.replace(s.id, result)
            m = result.session
            table.add_row(f"{s.start_time[:16].replace('T', ' ')} {s.time_slot}",
                          f"{num(s.best_rom_left_deg, '.1f')} → {num(m.left.best_rom_deg, '.1f')}",
                          f"{num(s.best_rom_right_deg, '.1f')} → {num(m.right.best_rom_deg, '.1f')}")
    console.print(table)
    for s in gone:
        status.print(f"note: the recording of the session of {s.start_time[:16].replace('T', ' ')} is gone "
                     f"({s.recording_path or 'not kept'}): it keeps the numbers of analysis version "
                     f"{s.analysis_version or 1}", markup=False, highlight=False, soft_wrap=True)
    return 1 if failed else 0


def _kept_choices(stored: dict | None) -> AnalysisParams:
    """The current analysis, with what a person chose when the session was first analysed (an explicit neutral, the
    chest axis, 9D) carried over from its stored parameters."""
    stored = stored or {}
    neutral = stored.get("neutral_s")
    return AnalysisParams(orientation=OrientationParams(use_mag=bool(stored.get("orientation", {}).get("use_mag"))),
                          neutral_s=tuple(neutral) if neutral else None,
                          chest_normal_axis=stored.get("chest_normal_axis"))


def calibrate_command(args: argparse.Namespace) -> int:
    """Measure the gyro's scale from a recording of whole turns on a swivel chair, and keep it for its device."""
    from imutrack.calibration import estimate, save
    from imutrack.io import load

    recording = load(args.file)
    device = args.device or recording.meta.device
    if device in ("", "unknown"):
        raise ImutrackError(f"{args.file}: the recording does not name its sensor; say which with --device NAME")
    calibration = estimate(recording.samples, args.turns, device)
    path = save(calibration, args.config)
    console.print(f"{device}: {calibration.describe()} — measured {calibration.measured_deg:.1f}° for "
                  f"{abs(calibration.turns)} whole turn(s); kept in {path} and applied to its recordings from now on",
                  markup=False, highlight=False)
    return 0


def progress_command(args: argparse.Namespace) -> int:
    from imutrack.progress import MDC_DEG, pain_words, summarize, version_note
    from imutrack.store import Store, default_path

    path = args.db or default_path()
    if not path.exists():
        raise ImutrackError(f"no progress database at {path} yet: analyse sessions with 'imutrack analyze --store'")
    with Store(path) as store:
        sessions = store.sessions(args.date_from, args.date_to)
        holds = list(store.holds([s.id for s in sessions]))
    with Store(path) as store:
        plans = store.plans()
    summary = summarize(sessions, holds, plans, parts=args.day_parts)
    if args.json:
        from imutrack.analysis import json_safe

        print(json.dumps(json_safe(asdict(summary)), indent=2, allow_nan=False))
        return 0
    if not sessions:
        console.print("no sessions in that period")
        return 0
    note = version_note(sessions)
    if note:
        status.print(f"note: {note}", markup=False, highlight=False)
    console.print(f"[bold]{summary.sessions} sessions[/], {summary.holds} holds, {summary.first_date} to "
                  f"{summary.last_date}; streak {summary.streak_days} day(s)")
    table = Table(box=box.SIMPLE_HEAD, title="range of motion (best hold of the day)", title_justify="left")
    for column in ("side", "first", "latest", "best", "trend", "change"):
        table.add_column(column, justify="right")
    for side, trend in (("left", summary.left), ("right", summary.right)):
        verdict = "" if trend.change_is_real is None else (
            "real" if trend.change_is_real else f"within noise (±{MDC_DEG:g}°)")
        table.add_row(side, num(trend.first_deg, ".1f"), num(trend.latest_deg, ".1f"), num(trend.best_deg, ".1f"),
                      "-" if trend.slope_deg_per_week is None else f"{trend.slope_deg_per_week:+.1f}°/week",
                      "-" if trend.change_deg is None else f"{trend.change_deg:+.1f}° {verdict}")
    console.print(table)
    if summary.spine is not None:
        _print_spine(summary.spine)
    days = Table(box=box.SIMPLE_HEAD, title="best hold per day (last 7)", title_justify="left")
    for column in ("day", "left, °", "right, °"):
        days.add_column(column, justify="right")
    for day in sorted(summary.daily)[-7:]:
        days.add_row(day, num(summary.daily[day]["left"], ".1f"), num(summary.daily[day]["right"], ".1f"))
    console.print(days)
    slots = ", ".join(f"{slot} {n}" for slot, n in summary.slots_this_week.items())
    kept = summary.adherence
    console.print(f"plan: {summary.plan.describe()}; sessions done as planned {kept.sessions_done} of "
                  f"{kept.sessions_prescribed} ({kept.days_fully_done} of {kept.days} days complete)",
                  markup=False, highlight=False)
    console.print(f"holds meeting the plan (≥ 90 % of its hold): "
                  f"{num(100 * (summary.compliant_fraction or 0), '.0f')} %; median sway "
                  f"{num(summary.median_sway_deg, '.2f')}°; mean asymmetry {num(summary.mean_asymmetry_deg, '+.1f')}°"
                  f" (+ = left further); this week: {slots} ({_parts_words(args.day_parts)})")
    if summary.pain is not None:
        console.print(f"back (0 no pain – 10 worst): {pain_words(summary.pain)}", markup=False)
    for line in summary.advice:
        console.print(line, style="green")
    return 0



def _print_spine(spine) -> None:
    """The spine's own range, from the sessions with a pelvis sensor: a series of its own."""
    share = "" if spine.pelvis_share_median is None else (
        f"; the hips did a median {100 * spine.pelvis_share_median:.0f} % of the turns")
    table = Table(box=box.SIMPLE_HEAD, title_justify="left", title="the spine's own twist (two sensors)")
    for column in ("side", "first", "latest", "best", "trend"):
        table.add_column(column, justify="right")
    for side, trend in (("left", spine.left), ("right", spine.right)):
        table.add_row(side, num(trend.first_deg, ".1f"), num(trend.latest_deg, ".1f"), num(trend.best_deg, ".1f"),
                      "-" if trend.slope_deg_per_week is None else f"{trend.slope_deg_per_week:+.1f}°/week")
    console.print(table)
    console.print(f"{spine.sessions} session(s) with a pelvis sensor{share}", markup=False, highlight=False)


def plan_command(args: argparse.Namespace) -> int:
    """Show the plan in force and before, or start a new one changing what the options name."""
    from dataclasses import replace as changed
    from datetime import date

    from imutrack.plan import DEFAULT_PLAN, plan_on
    from imutrack.store import Store, default_path

    with Store(args.db or default_path()) as store:
        plans = store.plans()
        today = date.today().isoformat()
        changes = {name: value for name, value in (("hold_s", args.hold), ("reps_per_side", args.reps),
                                                  ("unassisted", args.unassisted), ("note", args.note))
                   if value is not None}
        if args.parts is not None:
            changes["parts"] = tuple(part.strip() for part in args.parts.split(",") if part.strip())
        if changes or args.date_from:
            start = args.date_from or today
            new = changed(plan_on(plans, start), start_date=start, **changes)
            if "note" not in changes:
                new = changed(new, note="")
            store.add_plan(new)
            plans = store.plans()
            console.print(f"plan from {start}: {new.describe()}", markup=False, highlight=False, soft_wrap=True)
            return 0
    current = plan_on(plans, today)
    if not plans:
        console.print(f"no plan set: the exercise as described — {DEFAULT_PLAN.describe()}. Set one with e.g. "
                      "'imutrack plan --hold 45 --reps 3 --parts morning,evening'", markup=False, highlight=False,
                      soft_wrap=True)
        return 0
    console.print(plain(f"in force: {current.describe()}" + (f" — {current.note}" if current.note else "")),
                  highlight=False, soft_wrap=True)
    for plan in plans:
        note = f" — {plan.note}" if plan.note else ""
        console.print(plain(f"  from {plan.start_date}: {plan.describe()}{note}"),
                      highlight=False, style="dim", soft_wrap=True)
    return 0


def profile_command(args: argparse.Namespace) -> int:
    """Set or show who the reports are about."""
    from imutrack.store import Store, default_path

    with Store(args.db or default_path()) as store:
        values = {k: v for k, v in (("name", args.name), ("patient_id", args.patient_id)) if v is not None}
        if values:
            store.set_profile(**values)
        profile = store.profile()
    if not profile:
        console.print("no name or patient ID set (reports say neither); set with --name or --id")
    for key, label in (("name", "name"), ("patient_id", "patient ID")):
        if key in profile:
            console.print(plain(f"{label}: {profile[key]}"), highlight=False, soft_wrap=True)
    return 0


def _parts_words(parts) -> str:
    from imutrack.metrics import DayParts

    p = parts or DayParts()

    def clock(h: float) -> str:
        return f"{int(h):02d}:{round(60 * (h - int(h))):02d}"

    return (f"mornings from {clock(p.morning_h)}, afternoons from {clock(p.afternoon_h)}, evenings from "
            f"{clock(p.evening_h)} until the morning; --day-parts changes them")


def report_command(args: argparse.Namespace) -> int:
    from imutrack.report.progress_report import write_reports
    from imutrack.store import default_path

    db = args.db or default_path()
    if not db.exists():
        raise ImutrackError(f"no progress database at {db} yet: analyse sessions with 'imutrack analyze --store'")
    html = args.html
    if not any((args.html, args.pdf, args.csv, args.png)):
        html = data_dir() / "report.html"
    for path in write_reports(db, html, args.pdf, args.csv, args.png, args.date_from, args.date_to,
                              args.day_parts, args.paper):
        console.print(f"wrote {path}")
    return 0


def _import_pair(args: argparse.Namespace, columns: dict, units: dict, out_dir: Path) -> int:
    """One chest export and one pelvis export of the same session, as a two-sensor pair on the chest's time base."""
    import secrets

    from imutrack.io import load
    from imutrack.samples import ImuSamples

    if len(args.files) != 1:
        raise ImutrackError(f"--pelvis pairs one chest export with the pelvis's; {len(args.files)} were given")
    chest = load(args.files[0], args.format, columns, units, args.chest_axis)
    pelvis = load(args.pelvis, args.format, columns, units, args.pelvis_axis)
    clocks = [(r.meta.extra.get("clock"), r.meta.extra.get("clock_at_zero_s")) for r in (chest, pelvis)]
    if any(at is None for _, at in clocks) or clocks[0][0] != clocks[1][0]:
        said = ", ".join(f"{path.name}: {kind or 'no clock'}" for path, (kind, _) in zip(
            (args.files[0], args.pelvis), clocks, strict=True))
        raise ImutrackError(f"the two exports cannot be put on one time base ({said}): pair exports of phone apps "
                            "(Unix time) or two Polar sensors of one phone")
    offset_s = float(clocks[1][1]) - float(clocks[0][1])
    p = pelvis.samples
    shifted = ImuSamples(p.t_s + offset_s, p.gyr_rad_s, p.acc_m_s2, p.mag_uT)
    if shifted.t_s[0] > chest.samples.t_s[-1] or shifted.t_s[-1] < chest.samples.t_s[0]:
        raise ImutrackError(f"{args.pelvis} does not overlap {args.files[0]} in time ({offset_s:+.1f} s apart): not "
                            "the same session?")
    session = {"session_id": secrets.token_hex(6)}
    chest.meta.extra |= session | {"sensor_role": "chest"}
    pelvis.meta.extra |= session | {"sensor_role": "pelvis", "clock_at_zero_s": clocks[0][1]}
    if args.start_time:
        chest.meta.start_time = pelvis.meta.start_time = args.start_time
    target = unique(out_dir / f"{args.files[0].stem}.csv")
    write_recording(target, chest.samples, chest.meta)
    write_recording(pelvis_path(target), shifted, pelvis.meta)
    console.print(f"{args.files[0]} → {target} and {args.pelvis} → {pelvis_path(target)}: the pelvis's clock starts "
                  f"{offset_s:+.3f} s from the chest's (two phones' clocks may differ by some tens of ms)",
                  markup=False, highlight=False)
    return 0


def import_command(args: argparse.Namespace) -> int:
    from imutrack.io import load
    from imutrack.io.generic import parse_mapping

    columns = parse_mapping(args.columns, "--columns")
    units = parse_mapping(args.units, "--units")
    out_dir = args.out or data_dir() / "recordings"
    if args.pelvis is not None:
        return _import_pair(args, columns, units, out_dir)
    for path in args.files:
        recording = load(path, args.format, columns, units, args.chest_axis)
        if args.start_time:
            recording.meta.start_time = args.start_time
        target = unique(out_dir / f"{path.stem}.csv")
        write_recording(target, recording.samples, recording.meta)
        samples = recording.samples
        console.print(f"{path} → {target}: {len(samples):,} samples, {samples.duration_s / 60:.1f} min at "
                      f"{samples.rate_hz:.1f} Hz{' with magnetometer' if samples.has_mag else ''}")
    return 0
