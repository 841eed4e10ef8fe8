"""Accuracy of imutrack against known truth; rewrites docs/accuracy.md.

    python benchmarks/accuracy.py              # all simulated sessions + BROAD (when ../shared is there)
    python benchmarks/accuracy.py --quick      # a few sessions, print only

1. Simulated sessions (simulator ground truth): ≥ 50 sessions spanning sensor noise, gyro turn-on bias up to
   0.6 °/s and warm-up up to 0.2 °/s, mounting tilt up to 35°, any chest axis, 25–400 Hz, 5+ minutes each with short
   still starts, breathing at rest, settling after returns, seat shifts, creep, sway, slouching and forcing. Every
   hold's mean twist, timing and breathing rate against the truth; reps found per side; false holds; the live guide's
   angle per hold, fed the same streams, against the truth and against the analysis.
2. Independent sessions (../shared/data/independent-sessions: another generator's people), beside our own.
3. BROAD (real IMU, optical truth; ../shared/data/broad): twist error per trial, whole trial and 60 s windows, 6D and
   9D, computed as BASELINE.md there defines, for off-the-shelf vqf (re-run here) and for imutrack.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
from vqf import VQF

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gyro_errors  # noqa: E402
from imutrack import __version__  # noqa: E402
from imutrack.analysis import analyze  # noqa: E402
from imutrack.evaluation import whole_trial_rmse, window_rmse  # noqa: E402
from imutrack.live import Guide, GuideConfig  # noqa: E402
from imutrack.orientation import BiasModel, OrientationEstimator, OrientationParams  # noqa: E402
from imutrack.rests import estimate_orientation  # noqa: E402
from imutrack.recording import RecordingMeta, read_recording  # noqa: E402
from imutrack.samples import ImuSamples  # noqa: E402
from imutrack.calibration import estimate  # noqa: E402
from imutrack.sources.simulator import (  # noqa: E402
    ImuErrorModel, SimulatorConfig, follow, simulate, simulate_calibration)

SHARED = Path(os.environ.get("IMUTRACK_SHARED", REPO.parent / "shared"))
BROAD = SHARED / "data" / "broad"
INDEPENDENT = SHARED / "data" / "independent-sessions"
RATES_HZ = (25.0, 50.0, 100.0, 200.0, 400.0)
AXES = ("+x", "-x", "+y", "-y", "+z", "-z")


def session_config(k: int) -> SimulatorConfig:
    """The k-th simulated session: parameters drawn from a generator seeded with k."""
    rng = np.random.default_rng(10_000 + k)
    imu = ImuErrorModel(
        gyr_noise_deg_s_rthz=float(rng.uniform(0.003, 0.015)),
        gyr_bias_max_deg_s=0.6,
        acc_noise_ug_rthz=float(rng.uniform(70.0, 300.0)),
        gyr_warmup_max_deg_s=float(np.random.default_rng([10_000 + k, 1]).uniform(0.0, 0.2)),
    )
    return SimulatorConfig(
        seed=k,
        sample_rate_hz=RATES_HZ[k % len(RATES_HZ)],
        reps_per_side=int(rng.integers(2, 4)),
        first_side=str(rng.choice(["left", "right"])),
        peak_twist_left_deg=float(rng.uniform(30.0, 70.0)),
        peak_twist_right_deg=float(rng.uniform(30.0, 70.0)),
        creep_deg=float(rng.uniform(1.0, 8.0)),
        sway_deg=float(rng.uniform(0.3, 1.2)),
        slouch_probability=0.4,
        forced_probability=0.2,
        breath_hold_bpm=float(rng.uniform(5.0, 10.0)),
        mount_tilt_deg=float(rng.uniform(0.0, 35.0)),
        mount_spin_deg=float(rng.uniform(0.0, 360.0)),
        chest_normal_axis=str(rng.choice(AXES)),
        heading_deg=float(rng.uniform(0.0, 360.0)),
        seat_shift_deg=float(rng.uniform(0.0, 8.0)),
        imu=imu,
        **widened(np.random.default_rng([10_000 + k, 2])),
    )


def widened(rng: np.random.Generator) -> dict:
    """What people do that the first population left out (drawn from a generator of its own): still starts of
    3–7 s, breathing at rest 0.3–2.5° peak to peak at 6–18 /min, and returns that stop up to 0–3° short of (or
    beyond) facing forward, settled back to forward over the rest."""
    return dict(
        neutral_s=float(rng.uniform(3.0, 7.0)),
        breath_rest_pitch_deg=float(rng.uniform(0.3, 2.5)),
        breath_rest_bpm=float(rng.uniform(6.0, 18.0)),
        settle_deg=float(rng.uniform(0.0, 3.0)),
    )


@dataclass
class SessionOutcome:
    k: int
    rate_hz: float
    minutes: float
    reps_true: int
    reps_found: int
    sides_ok: bool
    false_holds: int
    missed_holds: int
    twist_err_deg: list[float]
    calibrated_err_deg: list[float]
    start_err_s: list[float]
    duration_err_s: list[float]
    breath_err_bpm: list[float]
    slouch_true: int
    slouch_found: int
    forced_ok: int
    forced_total: int
    live_err_deg: list[float]
    live_vs_analysis_deg: list[float]


def run_session(k: int) -> SessionOutcome:
    cfg = session_config(k)
    session = simulate(cfg)
    truth = session.truth
    result = analyze(session.samples, meta=RecordingMeta(chest_normal_axis=cfg.chest_normal_axis))
    holds = list(result.holds)
    matched = []
    for rep in truth.reps:
        best = min(holds, key=lambda h: abs(h.hold_start_s - rep.hold_start_s), default=None)
        if best is not None and abs(best.hold_start_s - rep.hold_start_s) < 5.0 and best.side == rep.side:
            matched.append((rep, best))
            holds.remove(best)
    live_err, live_vs = live_hold_errors(cfg, session, result)
    # The same session after `imutrack calibrate` on three turns of the same sensor.
    calibration = estimate(simulate_calibration(session.truth, 3, cfg=cfg).samples)
    calibrated = analyze(session.samples, meta=RecordingMeta(chest_normal_axis=cfg.chest_normal_axis),
                         calibration=calibration)
    slouched = [
        (rep, hold) for rep, hold in matched
        if any(s.start_s < rep.hold_end_s and s.end_s > rep.hold_start_s for s in truth.slouches)
    ]
    return SessionOutcome(
        k=k,
        rate_hz=cfg.sample_rate_hz,
        minutes=session.samples.duration_s / 60.0,
        reps_true=len(truth.reps),
        reps_found=len(result.reps),
        sides_ok=[r.side for r in result.reps] == [r.side for r in truth.reps],
        false_holds=len(holds),
        missed_holds=len(truth.reps) - len(matched),
        twist_err_deg=[h.mean_twist_deg - r.mean_twist_deg for r, h in matched],
        calibrated_err_deg=[h.mean_twist_deg - r.mean_twist_deg for r, h in zip(truth.reps, calibrated.holds)
                            if h.side == r.side],
        start_err_s=[h.hold_start_s - r.hold_start_s for r, h in matched],
        duration_err_s=[h.duration_s - r.hold_duration_s for r, h in matched],
        breath_err_bpm=[h.breath_rate_bpm - r.breath_rate_bpm for r, h in matched],
        slouch_true=len(slouched),
        slouch_found=sum(h.slouch_fraction > 0 for _, h in slouched),
        forced_ok=sum(h.forced == r.forced for r, h in matched),
        forced_total=len(matched),
        live_err_deg=live_err,
        live_vs_analysis_deg=live_vs,
    )


def live_hold_errors(cfg: SimulatorConfig, session, result) -> tuple[list[float], list[float]]:
    """The guided session fed with the simulated stream in 0.1 s batches: each hold's angle as the guide ends the
    session with it (the hold's mean twist from the rest before), minus the truth's over the same seconds, and minus
    the analysis's over the same seconds."""
    guide = Guide(GuideConfig(reps_per_side=cfg.reps_per_side, hold_s=50.0, rest_s=10.0, first_side=cfg.first_side,
                              chest_normal_axis=cfg.chest_normal_axis))
    t = session.samples.t_s
    edges = np.searchsorted(t, np.arange(t[0], t[-1] + 0.1, 0.1))
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            guide.update(session.samples.slice(int(a), int(b)))
    truth, analysed = [], []
    for hold in guide.state.holds:
        if "start_s" not in hold:
            continue
        sign = 1.0 if hold["side"] == "left" else -1.0
        i0, i1 = np.searchsorted(session.truth.t_s, [hold["start_s"], hold["end_s"]])
        truth.append(hold["twist_deg"] - sign * float(np.mean(session.truth.twist_deg[i0:i1])))
        j0, j1 = np.searchsorted(result.t_s, [hold["start_s"], hold["end_s"]])
        analysed.append(hold["twist_deg"] - sign * float(np.nanmean(result.twist_deg[j0:j1])))
    return truth, analysed


def simulated(n_sessions: int) -> tuple[list[SessionOutcome], list[str]]:
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(run_session, range(n_sessions)))
    twist = np.abs(np.concatenate([o.twist_err_deg for o in outcomes]))
    start = np.abs(np.concatenate([o.start_err_s for o in outcomes]))
    duration = np.abs(np.concatenate([o.duration_err_s for o in outcomes]))
    breath = np.abs(np.concatenate([o.breath_err_bpm for o in outcomes]))
    live = np.abs(np.concatenate([o.live_err_deg for o in outcomes]))
    live_vs = np.abs(np.concatenate([o.live_vs_analysis_deg for o in outcomes]))
    holds = sum(o.reps_true for o in outcomes)
    lines = [
        f"{n_sessions} sessions, {sum(o.minutes for o in outcomes):.0f} minutes, {holds} holds, "
        f"{min(o.minutes for o in outcomes):.1f}–{max(o.minutes for o in outcomes):.1f} min each, "
        f"rates {', '.join(f'{r:g}' for r in RATES_HZ)} Hz.",
        "",
        "| quantity | target | result |",
        "|---|---|---|",
        f"| reps found with the right side | all | {sum(o.sides_ok for o in outcomes)} of {n_sessions} sessions "
        f"exactly right; {sum(o.missed_holds for o in outcomes)} holds missed |",
        f"| false holds | none | {sum(o.false_holds for o in outcomes)} |",
        f"| mean twist of each hold, abs. error | ≤ 1° (aim 0.5°) | median {np.median(twist):.2f}°, "
        f"95th pct {np.percentile(twist, 95):.2f}°, max {twist.max():.2f}°; {100 * np.mean(twist <= 0.5):.0f} % "
        f"within 0.5° |",
        f"| hold start, abs. error | – | median {np.median(start):.3f} s, max {start.max():.3f} s |",
        f"| hold duration, abs. error | ≤ 0.2 s | median {np.median(duration):.3f} s, max {duration.max():.3f} s |",
        f"| breathing rate, abs. error | ≤ 1 /min | median {np.median(breath):.2f}, max {breath.max():.2f} /min |",
        f"| slouch episodes in holds found | all | {sum(o.slouch_found for o in outcomes)} of "
        f"{sum(o.slouch_true for o in outcomes)} |",
        f"| forced / relaxed holds told apart | all | {sum(o.forced_ok for o in outcomes)} of "
        f"{sum(o.forced_total for o in outcomes)} |",
        f"| live guide: each hold's angle at the session's end, abs. error | – | median {np.median(live):.2f}°, "
        f"95th pct {np.percentile(live, 95):.2f}°, max {live.max():.2f}° ({len(live)} holds) |",
        f"| live guide vs `analyze` over the same seconds, abs. difference | ≤ 0.5° | median "
        f"{np.median(live_vs):.2f}°, max {live_vs.max():.2f}° |",
    ]
    return outcomes, lines


def two_sensor_session(k: int) -> dict:
    """The k-th session of the population with a second sensor on the sacrum: the pelvis turning by 0-30 % of
    each turn (per session; ±5 % per rep), leading or lagging by up to 0.5 s, and in 30 % of holds turning on by
    2-6° part-way through (drawn from a generator of their own)."""
    rng = np.random.default_rng([10_000 + k, 3])
    cfg = replace(session_config(k), pelvis_sensor=True, pelvis_share=float(rng.uniform(0.0, 0.3)),
                  pelvis_lag_s=float(rng.uniform(-0.5, 0.5)), hip_slip_probability=0.3,
                  hip_slip_deg=float(rng.uniform(2.0, 6.0)))
    session = simulate(cfg)
    calibration = estimate(simulate_calibration(session.truth, 3, cfg=cfg).samples)  # the chest's gyro scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyze(session.samples, meta=RecordingMeta(chest_normal_axis=cfg.chest_normal_axis),
                         pelvis=session.pelvis)
        calibrated = analyze(session.samples, meta=RecordingMeta(chest_normal_axis=cfg.chest_normal_axis),
                             pelvis=session.pelvis, calibration=calibration)
    out = {"spine": [], "share": [], "slips": [], "moved": [], "calibrated": []}
    for rep, hold in zip(session.truth.reps, calibrated.holds):
        if hold.side == rep.side:
            out["calibrated"].append(hold.spine_mean_twist_deg - rep.spine_mean_twist_deg)
    for rep in session.truth.reps:
        hold = min(result.holds, key=lambda h: abs(h.hold_start_s - rep.hold_start_s), default=None)
        if hold is None or abs(hold.hold_start_s - rep.hold_start_s) > 5.0:
            continue
        out["spine"].append(hold.spine_mean_twist_deg - rep.spine_mean_twist_deg)
        out["share"].append(hold.pelvis_share - rep.pelvis_mean_twist_deg / rep.mean_twist_deg)
        out["slips"].append(rep.hip_slip_deg)
        out["moved"].append(hold.hips_moved_deg)
    return out


def two_sensor_lines(n_sessions: int) -> list[str]:
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(two_sensor_session, range(n_sessions)))
    spine = np.abs(np.concatenate([o["spine"] for o in outcomes]))
    calibrated = np.abs(np.concatenate([o["calibrated"] for o in outcomes]))
    share = np.abs(np.concatenate([o["share"] for o in outcomes])) * 100.0
    slips = np.concatenate([o["slips"] for o in outcomes])
    moved = np.concatenate([o["moved"] for o in outcomes]) > 2.0
    return [
        f"{n_sessions} of the sessions above with a second sensor on the sacrum, {len(spine)} holds "
        "(`benchmarks/accuracy.py: two_sensor_session`).",
        "",
        "| quantity | target | result |",
        "|---|---|---|",
        f"| the spine's mean twist of each hold, abs. error | ≤ 0.5° | median {np.median(spine):.2f}°, 95th pct "
        f"{np.percentile(spine, 95):.2f}°, max {spine.max():.2f}°; {100 * np.mean(spine <= 0.5):.0f} % within "
        "0.5° |",
        f"| the same, the chest's gyro scale calibrated (`imutrack calibrate`, 3 turns) | ≤ 0.5° | median "
        f"{np.median(calibrated):.2f}°, max {calibrated.max():.2f}° |",
        f"| the pelvis's share of the turn, abs. error | ≤ 2 percentage points | median {np.median(share):.2f}, "
        f"max {share.max():.2f} points |",
        f"| hips that turned on by 2° or more during a hold, said | all | {int(moved[slips >= 2.0].sum())} of "
        f"{int((slips >= 2.0).sum())} |",
        f"| hips said to move in holds where they did not | none | {int(moved[slips == 0.0].sum())} of "
        f"{int((slips == 0.0).sum())} |",
    ]


def dropout_run(case: tuple[int, int]) -> dict:
    """Session k of the population, its person following the guided session's prompts (turning and coming back
    0.8 s after being asked; :func:`imutrack.sources.simulator.follow`), streamed in 0.1 s batches with one drop-out
    of 0.5-4 s at a random moment (number j of the session; drawn from a generator of its own): what became of each
    rep."""
    k, j = case
    base = session_config(k)
    reps = 2 * base.reps_per_side
    active_s = base.neutral_s + reps * 75.0  # calibrating, then each rep's turn, 50 s hold, return and 10 s rest
    cfg = replace(base, rest_s=8.0, duration_s=active_s + 60.0)
    rng = np.random.default_rng([10_000 + k, 4, j])
    length, start = rng.uniform(0.5, 4.0), rng.uniform(15.0, active_s - 20.0)
    guide = Guide(GuideConfig(reps_per_side=cfg.reps_per_side, hold_s=50.0, rest_s=10.0, first_side=cfg.first_side,
                              chest_normal_axis=cfg.chest_normal_axis))

    def respond(batch: ImuSamples) -> list:
        n = len(guide.events)
        if start <= batch.t_s[0] < start + length:
            guide.tick(float(batch.t_s[-1]))  # time goes on, no data
        else:
            guide.update(batch)
        return guide.asks(n)

    session = follow(cfg, respond)
    errors, marked = [], []
    for hold in guide.state.holds:
        if "start_s" in hold:
            sign = 1.0 if hold["side"] == "left" else -1.0
            i0, i1 = np.searchsorted(session.truth.t_s, [hold["start_s"], hold["end_s"]])
            errors.append(hold["twist_deg"] - sign * float(np.mean(session.truth.twist_deg[i0:i1])))
            marked.append("gap_s" in hold)
    sides_ok = [h["side"] for h in guide.state.holds] == [r.side for r in session.truth.reps] and \
        len(guide.state.holds) == reps  # (a rep whose angle was lost is there, its angle unknown)
    return {"thrown": not sides_ok or guide.state.phase.name != "DONE" or any(abs(e) > 10.0 for e in errors),
            "errors": errors, "marked": marked, "lost": any(e.kind == "angle lost" for e in guide.events)}


def dropout_lines(n_sessions: int, per_session: int = 3) -> list[str]:
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        runs = list(pool.map(dropout_run, [(k, j) for k in range(n_sessions) for j in range(per_session)]))
    kept = [r for r in runs if not r["thrown"]]
    errors = np.abs(np.concatenate([r["errors"] for r in kept]))
    marked = np.concatenate([r["marked"] for r in kept]).astype(bool)
    off = errors > 1.0
    return [
        f"{len(runs)} runs: {n_sessions} sessions of the population above, each streamed {per_session} times to the "
        "guided session with one drop-out of 0.5–4 s at a random moment (time goes on, no data), the person doing "
        "what the guide asks 0.8 s after being asked (turn, come back, stop bouncing; "
        "`benchmarks/accuracy.py: dropout_run`, `imutrack.sources.simulator.follow`).",
        "",
        "| quantity | result |",
        "|---|---|",
        f"| runs thrown (a rep missed or on the wrong side, the session not finished, or a hold > 10° off) | "
        f"{sum(r['thrown'] for r in runs)} of {len(runs)} |",
        f"| runs where the guide said the angle was lost | {sum(r['lost'] for r in runs)} of {len(runs)} |",
        f"| holds of the other runs more than 1° off, and of those marked with the seconds lost | {int(off.sum())} "
        f"of {len(errors)}, {int((off & marked).sum())} marked |",
        f"| the other holds, abs. error | median {np.median(errors[~off]):.2f}°, max {errors[~off].max():.2f}° |",
    ]


def independent() -> dict | None:
    """The independent sessions against their truth: holds missing, on the wrong side or extra, each hold's mean
    twist error (from the rest before) and each session's breathing-rate error."""
    paths = sorted(INDEPENDENT.glob("session-*[0-9].csv")) if INDEPENDENT.is_dir() else []
    if not paths:
        return None
    out = dict(sessions=len(paths), holds=0, missing=0, wrong=0, extra=0, errors=[], breath=[], warned=0)
    for path in paths:
        truth = json.loads(path.with_name(path.stem + ".truth.json").read_text(encoding="utf-8"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = analyze(read_recording(path))
        found = list(result.holds)
        out["warned"] += bool(result.warnings)
        for true in truth["holds"]:
            out["holds"] += 1
            match = [h for h in found if h.hold_start_s < true["end_s"] and h.hold_end_s > true["start_s"]]
            if not match:
                out["missing"] += 1
                continue
            found.remove(match[0])
            out["wrong"] += match[0].side != true["side"]
            out["errors"].append(match[0].mean_twist_deg - true["mean_twist_from_rest_deg"])
            out["breath"].append(match[0].breath_rate_bpm - truth["breath_rate_bpm"])
        out["extra"] += len(found)
    return out


def side_by_side_lines(outcomes: list[SessionOutcome], other: dict | None) -> list[str]:
    """Our population and the independent sessions against the same goals."""
    ours = np.abs(np.concatenate([o.twist_err_deg for o in outcomes]))
    breath = np.abs(np.concatenate([o.breath_err_bpm for o in outcomes]))
    lines = ["| quantity | goal | our simulator (" f"{len(outcomes)} sessions, {len(ours)} holds) | "
             + (f"independent sessions ({other['sessions']} sessions, {other['holds']} holds) |" if other else
                "independent sessions |"),
             "|---|---|---|---|"]
    theirs = np.abs(other["errors"]) if other else None
    lines.append(
        "| holds missing / wrong side / extra | none | "
        f"{sum(o.missed_holds for o in outcomes)} / {sum(not o.sides_ok for o in outcomes)} sessions / "
        f"{sum(o.false_holds for o in outcomes)} | "
        + (f"{other['missing']} / {other['wrong']} / {other['extra']} |" if other else "not here |"))
    lines.append(
        f"| hold-mean twist error, median / max | ≤ 0.25° / ≤ 0.5° | {np.median(ours):.2f}° / {ours.max():.2f}° | "
        + (f"{np.median(theirs):.2f}° / {theirs.max():.2f}° |" if other else "not here |"))
    calibrated = np.abs(np.concatenate([o.calibrated_err_deg for o in outcomes]))
    lines.append(
        f"| the same, the gyro scale calibrated (`imutrack calibrate`, 3 turns) | ≤ 0.25° / ≤ 0.5° | "
        f"{np.median(calibrated):.2f}° / {calibrated.max():.2f}° | (no scale error in these) |")
    lines.append(
        f"| breathing rate error, max | ≤ 1 /min | {breath.max():.2f} /min | "
        + (f"{np.abs(other['breath']).max():.2f} /min |" if other else "not here |"))
    return lines


def load_broad(path: Path):
    with np.load(path) as z:
        gyr, acc, mag = (np.ascontiguousarray(z[k], dtype=np.float64) for k in ("gyr_rad_s", "acc_m_s2", "mag_uT"))
        return (gyr, acc, mag, z["quat_true_wxyz"].astype(np.float64), z["movement"].astype(bool),
                float(z["fs_hz"]), str(z["trial"]))


def baseline_table() -> dict[str, list[float]]:
    """The published off-the-shelf figures from BASELINE.md: trial → [whole 6D, whole 9D, win6 med, win6 max,
    win9 med, win9 max]."""
    figures = {}
    for line in (BROAD / "BASELINE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and re.match(r"\d\d_", cells[0]):
            numbers = [float(x) for cell in cells[1:] for x in cell.split("/")]
            figures[cells[0]] = numbers
    return figures


def imutrack_orientation(gyr, acc, mag, fs, nine_d: bool) -> np.ndarray:
    samples = ImuSamples(np.arange(len(gyr)) / fs, gyr, acc, mag)
    # BROAD is not a seated twist: every still stretch is a rest, whatever the angle.
    params = OrientationParams(use_mag=nine_d)
    return estimate_orientation(samples, params).quat_wxyz


def broad_results() -> dict[str, dict[str, tuple[float, float, float]]]:
    """trial → {"vqf6", "vqf9", "ours6", "ours9"} → (whole trial, window median, window max), degrees."""
    results = {}
    for path in sorted(BROAD.glob("*.npz")):
        gyr, acc, mag, q_true, movement, fs, name = load_broad(path)
        out = VQF(1.0 / fs).updateBatch(gyr, acc, mag)
        estimates = {
            "vqf6": out["quat6D"],
            "vqf9": out["quat9D"],
            "ours6": imutrack_orientation(gyr, acc, mag, fs, False),
            "ours9": imutrack_orientation(gyr, acc, mag, fs, True),
        }
        results[name] = {}
        for key, q in estimates.items():
            windows = window_rmse(q, q_true, movement, fs)
            results[name][key] = (whole_trial_rmse(q, q_true, movement), windows.median_deg, windows.max_deg)
            results[name][key + "_windows"] = windows.rmse_deg
    return results


def broad_lines(results) -> list[str]:
    published = baseline_table()
    lines = [
        "| trial | whole 6D: baseline / vqf here / imutrack | whole 9D: baseline / vqf / imutrack | "
        "60 s windows 6D median/max: vqf → imutrack | windows 9D: vqf → imutrack |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        b = published.get(name, [float("nan")] * 6)
        lines.append(
            f"| {name} | {b[0]:.2f} / {r['vqf6'][0]:.2f} / **{r['ours6'][0]:.2f}** | "
            f"{b[1]:.2f} / {r['vqf9'][0]:.2f} / **{r['ours9'][0]:.2f}** | "
            f"{r['vqf6'][1]:.2f}/{r['vqf6'][2]:.2f} → **{r['ours6'][1]:.2f}/{r['ours6'][2]:.2f}** | "
            f"{r['vqf9'][1]:.2f}/{r['vqf9'][2]:.2f} → **{r['ours9'][1]:.2f}/{r['ours9'][2]:.2f}** |"
        )
    for key in ("vqf6", "ours6", "vqf9", "ours9"):
        pooled = np.concatenate([r[key + "_windows"] for r in results.values()])
        lines.append("")
        lines.append(f"- {key}: median of all {len(pooled)} 60 s windows over all trials = {np.median(pooled):.2f}°")
    return lines


def bias_sensitivity_lines(perturbation_deg_s: float = 0.005, draws: int = 12) -> list[str]:
    """How much the whole-trial 6D figure moves when the gyro bias is off by a few thousandths of a °/s — the size
    of the bias drift between a trial's first and last rest — in seeded random directions."""
    published = baseline_table()
    rng = np.random.default_rng(0)
    lines = [
        "| trial | bias change first → last rest, °/s | std. error of a rest's mean, °/s | whole 6D: baseline / "
        f"imutrack | imutrack with the bias off by {perturbation_deg_s} °/s: min – max |",
        "|---|---|---|---|---|",
    ]
    for path in sorted(BROAD.glob("*.npz")):
        gyr, acc, mag, q_true, movement, fs, name = load_broad(path)
        samples = ImuSamples(np.arange(len(gyr)) / fs, gyr, acc, mag)
        params = OrientationParams()
        result = estimate_orientation(samples, params)
        bias = result.bias
        a, b = result.still[0]
        per_s = int(fs)
        blocks = gyr[a:b][: (b - a) // per_s * per_s].reshape(-1, per_s, 3).mean(axis=1)
        std_error = np.degrees(blocks.std(axis=0) / np.sqrt(len(blocks))).max()
        change = np.degrees(np.linalg.norm(bias.bias_rad_s[-1] - bias.bias_rad_s[0]))
        moved = []
        for _ in range(draws):
            offset = rng.normal(size=3)
            offset *= np.radians(perturbation_deg_s) / np.linalg.norm(offset)
            shifted = BiasModel(bias.t_s, bias.bias_rad_s + offset)
            q = OrientationEstimator(fs, params, shifted).update(samples).quat_wxyz_
            moved.append(whole_trial_rmse(q, q_true, movement))
        ours = whole_trial_rmse(result.quat_wxyz, q_true, movement)
        lines.append(f"| {name} | {change:.4f} | {std_error:.4f} | {published[name][0]:.2f} / {ours:.2f} | "
                     f"{min(moved):.2f} – {max(moved):.2f} |")
    return lines


def start_cut_lines(cuts_s=(0, 1, 2, 3, 4, 5, 6, 8, 10)) -> list[str]:
    """Whether imutrack's lead or lag against off-the-shelf vqf (6D, whole trial) holds when the first seconds of
    each trial (in its still start) are cut off: a difference that changes sign is within the metric's noise."""
    lines = [
        "| trial | imutrack − vqf, whole 6D, ° (min – max over cuts) | imutrack better in |",
        "|---|---|---|",
    ]
    params = OrientationParams()
    for path in sorted(BROAD.glob("*.npz")):
        gyr, acc, mag, q_true, movement, fs, name = load_broad(path)
        differences = []
        for cut_s in cuts_s:
            i = int(cut_s * fs)
            g, a, q_t, moving = (np.ascontiguousarray(x[i:]) for x in (gyr, acc, q_true, movement))
            samples = ImuSamples(np.arange(len(g)) / fs, g, a, None)
            ours = estimate_orientation(samples, params).quat_wxyz
            vqf = VQF(1.0 / fs).updateBatch(g, a)["quat6D"]
            differences.append(whole_trial_rmse(ours, q_t, moving) - whole_trial_rmse(vqf, q_t, moving))
        better = sum(d < 0 for d in differences)
        lines.append(f"| {name} | {min(differences):+.2f} – {max(differences):+.2f} | "
                     f"{better} of {len(cuts_s)} cuts |")
    return lines


def gyro_error_lines() -> list[str]:
    """The 6D whole-trial error with the linear gyro error model of ``gyro_errors.py`` removed: fitted to the optical
    truth (what the model can explain) and to gravity alone (what an estimator without a heading reference could
    find)."""
    published = baseline_table()
    lines = [
        "| trial | baseline | imutrack | oracle: + constant bias offset | oracle: + bias offset and 3×3 matrix | "
        "gravity only: + bias offset and 3×3 matrix |",
        "|---|---|---|---|---|---|",
    ]
    params = OrientationParams()
    for path in sorted(BROAD.glob("*.npz")):
        gyr, acc, mag, q_true, movement, fs, name = load_broad(path)
        samples = ImuSamples(np.arange(len(gyr)) / fs, gyr, acc, mag)
        result = estimate_orientation(samples, params)
        bias = result.bias.at(samples.t_s)
        figures = [whole_trial_rmse(result.quat_wxyz, q_true, movement)]
        for error in (gyro_errors.fit_to_truth(gyr, acc, fs, bias, q_true, matrix=False)[1],
                      gyro_errors.fit_to_truth(gyr, acc, fs, bias, q_true)[1],
                      gyro_errors.fit_to_gravity(gyr, acc, fs, bias)[1]):
            corrected = BiasModel(samples.t_s, bias + error)
            q = OrientationEstimator(fs, params, corrected).update(samples).quat_wxyz_
            figures.append(whole_trial_rmse(q, q_true, movement))
        lines.append(f"| {name} | {published[name][0]:.2f} | " + " | ".join(f"{x:.2f}" for x in figures) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 sessions, no BROAD, print only")
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args(argv)
    outcomes, sim_lines = simulated(6 if args.quick else args.sessions)
    print("\n".join(sim_lines))
    two = two_sensor_lines(6 if args.quick else 30)
    print("\n".join(two))
    drops = dropout_lines(4 if args.quick else 16)
    print("\n".join(drops))
    both = side_by_side_lines(outcomes, independent())
    print("\n".join(both))
    broad = None
    if not args.quick and BROAD.exists():
        broad = broad_lines(broad_results()) + ["", "Sensitivity to the gyro bias (6D, whole trial):", ""]
        broad += bias_sensitivity_lines()
        broad += ["", f"The same with the first 0–10 s of each trial cut off (nine cuts):", ""]
        broad += start_cut_lines()
        broad += ["", "What the remaining 6D error is made of (whole trial, °; `benchmarks/gyro_errors.py`):", ""]
        broad += gyro_error_lines()
        print("\n".join(broad))
    if not args.quick:
        write_doc(both, sim_lines, broad, two, drops)
    return 0


def write_doc(both: list[str], sim_lines: list[str], broad: list[str] | None, two: list[str],
              drops: list[str]) -> None:
    broad_text = "\n".join(broad) if broad else "_BROAD data not found when this was run._"
    text = f"""# Accuracy

Measured by `python benchmarks/accuracy.py` (it rewrites this file). Last run: {date.today().isoformat()},
imutrack {__version__}. The default test run checks a fast subset of the same claims (`tests/test_analysis.py`,
`tests/test_broad.py`).

## Our simulator and sessions we did not generate, side by side
Our simulator confirms what we already believe; the independent sessions (`../shared/data/independent-sessions`:
another generator, other people's habits — short still starts with deep breathing, settling back to forward over
every rest, mounts tilted up to 35°, gyro bias up to 0.6 °/s) check it. The same goals for both:

{chr(10).join(both)}

## Simulated seated-twist sessions (simulator ground truth)
Each session draws its sensor noise (gyro 0.003–0.015 °/s/√Hz, acc 70–300 µg/√Hz), a gyro turn-on bias of up to
0.6 °/s per axis with a slow bias random walk and a warm-up (the bias moving by up to 0–0.2 °/s per axis, drawn per
session, with a 5 min time constant), ±0.5 % gyro scale and cross-axis errors, a sternum mounting tilted by
0–35° and spun by any angle with any chest axis, a still start of 3–7 s with breathing at rest of 0.3–2.5° peak to
peak at 6–18 /min, 2–3 reps per side of 30–70°, returns that stop up to 0–3° short of facing forward (or beyond) and
settle back over the rest, creep of 1–8°, sway, slouching, forced (bouncing) holds, deep breathing at 5–10 /min in
the holds, and a shift on the seat in every rest (the whole body turning by up to ±0–8°, drawn per session; each rep
must still be measured from facing forward) (`benchmarks/accuracy.py: session_config`).

{chr(10).join(sim_lines)}

What limits the twist: the gyro's own scale and cross-axis errors (±0.5 % each: on a mount tilted 30° they reach
±0.6° on a 60° twist, and no rest can reveal them; with the true bias given, the worst hold of the population is
still 0.58° off — `imutrack calibrate` measures the scale), then the small shifts on the seat that are as slow as
settling (a 0.5° shift over 1.5 s): the rest stage takes the rest's end as facing forward again, so such a shift
reads as bias between the rests. vqf's defaults on the same sessions are several degrees off in creeping holds
(`tests/test_analysis.py::test_our_bias_handling_beats_vqf_defaults_on_creeping_holds`): its rest detector takes a
hold for rest and the creep for bias.

The live guide shows each hold with the bias known when it began (a warming sensor's bias has moved since the last
rest: up to 1.7° on the hardest sessions while the hold runs), and revises every hold with each rest measured after it,
so at the end of the session its angles are the analysis's.

## Two sensors: chest and pelvis (simulator ground truth)
{chr(10).join(two)}

The spine's twist carries the errors of both sensors' twists (each as in the table above: the largest is the chest
gyro's own scale error, which no rest reveals and `imutrack calibrate` measures), and a pelvis that turns in a hold
is measured as it moves. Not yet measured on real people with two sensors (no such data here).

## The guided session through drop-outs (simulator ground truth)
{chr(10).join(drops)}

A drop-out of up to 3 s with the person still on both sides of it keeps the angle (a turn or a return is seconds of
motion); the hold records how long the sensor was lost, as its sway and bounce meanwhile are unseen (the holds more
than 1° off). After a longer drop-out, or one with motion at its edges, the guide asks the person to come back to face
forward and takes the stillness that follows as facing forward (`docs/live.md`); the second rest after it is taken
however far it reads, to tie the chain of rests again. The simulated person follows the prompts, as a person using
the guide does: with a person on a schedule of their own (until 2026-12-03), a drop-out that moved the guide's timing
had the guide take a hold for a rest, and 1 run of 48 was thrown for that. The stored numbers come from the
analysis of the recording, which measures across the gap from the rests around it.

## BROAD (real IMU, optical truth)
Twist error, degrees RMS, computed as `../shared/data/broad/BASELINE.md` defines (`imutrack/evaluation.py`).
"baseline" is the published table there; "vqf here" is the same off-the-shelf vqf re-run in this script (the 6D
figures reproduce the table; our 9D reproduction differs from the published 9D column, so both are shown).

{broad_text}

Reading the tables: the BROAD trials tumble the sensor through whole turns about every axis for minutes. There the
heading error of every 6D method grows with the rotation done (7–11° in the slow and combined trials), far beyond
what the bias allows for, and no rest-based bias estimate removes it. A seated twist stays within ±70° about one axis
and returns to neutral between sides, so it is far less exposed (see the simulated results above, which include
scale and cross-axis errors).

**What the remaining 6D error is.** The last table removes a linear gyro error model from the bias-corrected gyro —
a constant bias offset and a constant 3×3 scale/cross-axis matrix, 12 numbers per trial — fitted to the optical
truth through the drift of a pure gyro integration (`benchmarks/gyro_errors.py`). With the matrix, every trial falls
to 0.1–0.4°: what is left on BROAD after our bias handling is the gyro's own scale and cross-axis error (matrix
entries of 0.1–1 %, ordinary for a MEMS gyro), not the bias. A bias offset alone explains much less. An estimator has
no truth; from gravity alone the same model is only partly observable (through inclination, not heading). Fitted
that way, it makes trials 01, 04 and 21 far better but 06 and 24 worse, and in trials run while tuning it (window
length, priors, down-weighting fast motion) the winners and losers changed places — not dependable enough to ship.
For the seated twist it could not help anyway: the twist is a rotation about vertical, and gravity reveals nothing
of the vertical axis's scale. (An earlier version of this page fitted the matrix to the optical *rate* instead of the
drift and concluded that no constant matrix fits; the rate differences are dominated by noise and timing, and the
drift fit shows that one does.)

**Against the targets.** The targets: no trial worse than vqf's defaults by more than 0.2° over the whole trial, and
in 6D the median of all 60 s windows below 1°. Met: trials 24 and 30 are 0.10° above vqf's defaults over the whole
trial, every other trial is better (01, 04 and 06 by 0.5–0.8° at every start cut; 21 by a few hundredths, which is
noise: better at 4 of 9 cuts), the 60 s windows' median is 0.99°, and every 9D trial beats the published baseline.
vqf's defaults win on 24 and 30 by adapting their bias while the board tumbles (in trial 24 their estimate moves by
0.01 °/s during the motion and back in the end rest), which absorbs a little of the scale and cross-axis error above;
with a cut start, trial 30 is up to 0.34° behind. We keep the rest-based bias: vqf's own estimators take a hold's
creep for bias, several degrees in the simulated sessions. The sensitivity table shows the size of what is at stake:
a bias off by 0.005 °/s, less than the drift between a trial's rests, moves these figures by ±0.2°. BROAD's trials
are not a seated twist, so they use the rest stage's generic form (`imutrack.rests.estimate_orientation`: every still
stretch of 3 s or more is a rest, its bias with the net tilt taken out).
"""
    (REPO / "docs" / "accuracy.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
