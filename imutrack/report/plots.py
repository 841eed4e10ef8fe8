"""Session figures with matplotlib (Agg backend: no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


@dataclass(frozen=True)
class Span:
    """A shaded interval on the time axis, s, with a short label (e.g. a hold "L1 52°")."""

    start_s: float
    end_s: float
    label: str
    side: str = ""


def plot_session(
    path: str | Path,
    t_s: np.ndarray,
    twist_deg: np.ndarray,
    flexion_deg: np.ndarray,
    *,
    holds: Sequence[Span] = (),
    reference_twist_deg: np.ndarray | None = None,
    reference_label: str = "truth",
    slouch_threshold_deg: float | None = None,
    breath_rate_bpm: Sequence[float] = (),
    breath_depth_deg: Sequence[float] = (),
    title: str = "",
) -> Path:
    """Write a session figure: twist over time with the holds shaded and labelled; flexion with the slouch
    threshold; breathing rate (and depth, peak-to-peak sternum pitch) per hold. Returns the path."""
    fig, (ax_twist, ax_flex, ax_breath) = plt.subplots(
        3, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 1.0]}, layout="constrained"
    )
    t_min = np.asarray(t_s) / 60.0
    colours = {"left": "#1f77b4", "right": "#d62728"}
    for span in holds:
        for ax in (ax_twist, ax_flex, ax_breath):
            ax.axvspan(span.start_s / 60.0, span.end_s / 60.0, color=colours.get(span.side, "0.6"), alpha=0.12, lw=0)
        ax_twist.annotate(
            span.label,
            ((span.start_s + span.end_s) / 120.0, 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontsize=8,
        )
    if reference_twist_deg is not None:
        ax_twist.plot(t_min, reference_twist_deg, color="0.55", lw=2.5, alpha=0.6, label=reference_label)
    ax_twist.plot(t_min, twist_deg, color="k", lw=0.9, label="twist (measured)")
    ax_twist.axhline(0, color="0.7", lw=0.6)
    ax_twist.set_ylabel("twist, ° (+ left)")
    ax_twist.legend(loc="lower right", fontsize=8, frameon=False)
    ax_flex.plot(t_min, flexion_deg, color="#2ca02c", lw=0.9)
    if slouch_threshold_deg is not None:
        ax_flex.axhline(slouch_threshold_deg, color="#ff7f0e", ls="--", lw=0.8, label="slouch threshold")
        ax_flex.legend(loc="upper right", fontsize=8, frameon=False)
    ax_flex.set_ylabel("flexion, °")
    for span, rate, depth in zip(holds, breath_rate_bpm, breath_depth_deg):
        if np.isfinite(rate):
            mid = (span.start_s + span.end_s) / 120.0
            ax_breath.plot([span.start_s / 60.0, span.end_s / 60.0], [rate, rate], color=colours.get(span.side, "k"))
            ax_breath.annotate(f"{rate:.1f}/min, {depth:.1f}°", (mid, rate), textcoords="offset points",
                               xytext=(0, 4), ha="center", fontsize=7)
    ax_breath.set_ylabel("breaths/min")
    ax_breath.set_ylim(0, max([12.0, *[r * 1.4 for r in breath_rate_bpm if np.isfinite(r)]]))
    ax_breath.set_xlabel("time, min")
    if title:  # a file name: user text, where "$" would start mathtext
        ax_twist.set_title(title, fontsize=10, parse_math=False)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def session_figure(path: str | Path, result, truth_twist_deg: np.ndarray | None = None) -> Path:
    """The figure of one analysed session (a :class:`~imutrack.analysis.SessionAnalysis`): twist and flexion over
    time, each hold shaded and labelled with its angle, breathing per hold; with the simulator's truth (twist, °, on
    the recording's samples) beside the measured twist when given."""
    from imutrack.report import SEAT_SHIFT_NOTE_DEG

    def label(h) -> str:
        moved = f"\nforward moved {h.neutral_shift_deg:+.0f}°" if abs(h.neutral_shift_deg) >= SEAT_SHIFT_NOTE_DEG else ""
        return f"{h.side[0].upper()}{h.rep} {h.rom_deg:.0f}°{moved}"

    holds = [Span(h.hold_start_s, h.hold_end_s, label(h), h.side) for h in result.holds]
    return plot_session(
        path,
        result.t_s,
        result.twist_deg,
        result.flexion_deg,
        holds=holds,
        reference_twist_deg=truth_twist_deg,
        reference_label="simulator truth",
        slouch_threshold_deg=result.params.metrics.slouch_threshold_deg,
        breath_rate_bpm=[h.breath_rate_bpm for h in result.holds],
        breath_depth_deg=[h.breath_depth_deg for h in result.holds],
        title=Path(result.source).name,
    )
