"""What each CLI command does: compose the stages, show progress and results with rich."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
from platformdirs import user_data_dir
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from imutrack.errors import ImutrackError
from imutrack.recording import RecordingMeta, read_recording, write_recording
from imutrack.sources.simulator import SimulatedSession, SimulatorConfig, default_start_time, simulate

console = Console()


def run(args: argparse.Namespace) -> int:
    handler = {"demo": demo, "simulate": simulate_command, "info": info}[args.command]
    return handler(args)


def data_dir() -> Path:
    """The user's imutrack data folder (recordings, database)."""
    return Path(user_data_dir("imutrack", appauthor=False))


def simulator_meta(session: SimulatedSession) -> RecordingMeta:
    cfg = session.config
    return RecordingMeta(
        device="simulator",
        profile="simulator",
        sensor_frame=f"simulated sternum sensor; {cfg.chest_normal_axis} out of the chest, "
        f"mount tilted {cfg.mount_tilt_deg:g} deg",
        chest_normal_axis=cfg.chest_normal_axis,
        sample_rate_hz=cfg.sample_rate_hz,
        start_time=cfg.start_time,
        assisted="assisted",
        notes="simulated session",
        extra={"simulator_seed": str(cfg.seed)},
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), console=console, transient=False
    )


def demo(args: argparse.Namespace) -> int:
    if args.reps < 1:
        raise ImutrackError(f"--reps must be at least 1, got {args.reps}")
    out_dir = args.out if args.out is not None else data_dir() / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    recording_path = _unique(out_dir / f"demo-{stamp}.csv")
    cfg = SimulatorConfig(
        sample_rate_hz=args.rate,
        seed=args.seed,
        reps_per_side=args.reps,
        hold_s=args.hold,
        start_time=default_start_time(),
    )
    console.print(
        f"[bold]imutrack demo[/]: a simulated seated-twist session, {args.reps} reps per side, "
        f"{args.hold:g} s holds, {args.rate:g} Hz"
    )
    with _progress() as progress:
        task = progress.add_task("simulating the sensor", total=4)
        session = simulate(cfg)
        progress.update(task, advance=1, description="writing the recording")
        write_recording(recording_path, session.samples, simulator_meta(session))
        progress.update(task, advance=1, description="reading it back")
        recording = read_recording(recording_path)
        progress.update(task, advance=1, description="drawing the session")
        figure_path = _session_figure(recording_path.with_suffix(".png"), session)
        progress.update(task, advance=1, description="done")

    _print_recording_summary(recording)
    _print_truth_table(session)
    console.print(f"recording: {recording_path}")
    console.print(f"figure:    {figure_path}")
    return 0


def _session_figure(path: Path, session: SimulatedSession) -> Path:
    from imutrack.report.plots import Span, plot_session

    truth = session.truth
    holds = [
        Span(rep.hold_start_s, rep.hold_end_s, f"{rep.side[0].upper()} {abs(rep.mean_twist_deg):.0f}°", rep.side)
        for rep in truth.reps
    ]
    return plot_session(
        path,
        truth.t_s,
        truth.twist_deg,
        truth.flexion_deg,
        holds=holds,
        title="simulated session (ground truth)",
    )


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _print_recording_summary(recording) -> None:
    samples = recording.samples
    console.print(
        f"recorded {len(samples):,} samples, {samples.duration_s / 60:.1f} min at {samples.rate_hz:.1f} Hz, "
        f"{recording.lost_samples} lost"
    )


def _print_truth_table(session: SimulatedSession) -> None:
    table = Table(title="simulated holds (ground truth)", title_justify="left")
    for column in ("rep", "side", "hold start, s", "hold, s", "mean twist, °", "creep, °", "breaths/min", "forced"):
        table.add_column(column, justify="right")
    for i, rep in enumerate(session.truth.reps, start=1):
        table.add_row(
            str(i),
            rep.side,
            f"{rep.hold_start_s:.1f}",
            f"{rep.hold_duration_s:.1f}",
            f"{rep.mean_twist_deg:+.1f}",
            f"{rep.creep_deg:.1f}",
            f"{rep.breath_rate_bpm:.1f}",
            "yes" if rep.forced else "",
        )
    console.print(table)


def simulate_command(args: argparse.Namespace) -> int:
    if args.reps < 0:
        raise ImutrackError(f"--reps must be ≥ 0, got {args.reps}")
    cfg = SimulatorConfig(
        sample_rate_hz=args.rate,
        seed=args.seed,
        reps_per_side=args.reps,
        hold_s=args.hold,
        with_mag=args.mag,
        start_time=default_start_time(),
    )
    session = simulate(cfg)
    path = write_recording(args.out, session.samples, simulator_meta(session))
    truth_path = path.with_name(path.stem + ".truth.json")
    truth_path.write_text(json.dumps(truth_summary(session), indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {path} ({len(session.samples):,} samples) and {truth_path}")
    return 0


def truth_summary(session: SimulatedSession) -> dict:
    """The ground truth's events as plain data (JSON-ready): config, neutral, reps, slouches, gyro bias."""
    truth = session.truth
    return {
        "config": session.config.to_dict(),
        "neutral_end_s": truth.neutral_end_s,
        "reps": [asdict(rep) | {"hold_duration_s": rep.hold_duration_s} for rep in truth.reps],
        "slouches": [asdict(s) for s in truth.slouches],
        "gyr_bias_rad_s": truth.gyr_bias_rad_s.tolist(),
        "mount_wxyz": truth.mount_wxyz.tolist(),
    }


def info(args: argparse.Namespace) -> int:
    table = Table(title="recordings", title_justify="left")
    for column in ("file", "device", "start", "min", "Hz", "samples", "lost", "events"):
        table.add_column(column, overflow="fold")
    for path in args.files:
        recording = read_recording(path)
        samples, meta = recording.samples, recording.meta
        table.add_row(
            path.name,
            f"{meta.device} ({meta.profile}{', mag' if samples.has_mag else ''})",
            meta.start_time[:16].replace("T", " ") or "?",
            f"{samples.duration_s / 60:.1f}",
            "-" if np.isnan(samples.rate_hz) else f"{samples.rate_hz:.1f}",
            f"{len(samples):,}",
            str(recording.lost_samples),
            str(len(recording.events)),
        )
    console.print(table)
    return 0
