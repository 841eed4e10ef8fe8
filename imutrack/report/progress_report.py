"""The progress report a physiotherapist reads: figures (PNG, PDF), a self-contained HTML page, a CSV of holds.

Each figure is drawn from a small data object (``*_data`` functions) so the numbers behind every plot can be tested
and snapshot-compared without looking at pixels.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from imutrack.errors import ImutrackError  # noqa: E402
from imutrack.metrics import DAY_PARTS, DayParts, HoldMetrics  # noqa: E402
from imutrack.plan import Plan  # noqa: E402
from imutrack.progress import MDC_DEG, Progress, day_part, pain_words, summarize, version_note  # noqa: E402
from imutrack.report.tables import write_csv as write_table  # noqa: E402
from imutrack.text import printable  # noqa: E402
from imutrack.store import StoredSession  # noqa: E402

SLOTS = DAY_PARTS
COLOURS = {"left": "#1f77b4", "right": "#d62728"}


@dataclass
class RomData:
    """Best ROM of each session per side (degrees) against days since the first day, and the fitted trend."""

    first_date: str
    day: dict[str, list[float]]
    rom_deg: dict[str, list[float]]
    unassisted: dict[str, list[bool]]
    trend_deg: dict[str, list[float]]
    spine_day: dict[str, list[float]] = field(default_factory=lambda: {"left": [], "right": []})
    spine_deg: dict[str, list[float]] = field(default_factory=lambda: {"left": [], "right": []})


@dataclass
class HoldData:
    """Per day: mean hold duration (s) and median sway (°), over all holds that day."""

    dates: list[str]
    mean_duration_s: list[float]
    median_sway_deg: list[float]
    target_hold_s: float = 60.0  # the prescribed hold on the period's last day


@dataclass
class AsymmetryData:
    dates: list[str]
    asymmetry_deg: list[float]


@dataclass
class CalendarData:
    """``done[d][k]``: sessions on day ``dates[d]`` in slot ``SLOTS[k]``."""

    dates: list[str]
    done: list[list[int]]


@dataclass
class ReportData:
    rom: RomData
    holds: HoldData
    asymmetry: AsymmetryData
    calendar: CalendarData
    progress: Progress
    plans: list[Plan] = field(default_factory=list)  # the prescriptions (none: the default plan)
    profile: dict[str, str] = field(default_factory=dict)  # who the report is about (name, patient_id), if set
    weeks: list[list[str]] = field(default_factory=list)  # weekly_rows(): newest first


def _day_number(day: str, first: str) -> float:
    return float((date.fromisoformat(day) - date.fromisoformat(first)).days)


def rom_data(sessions: list[StoredSession]) -> RomData:
    first = sessions[0].local_date if sessions else date.today().isoformat()
    days: dict[str, list[float]] = {"left": [], "right": []}
    roms: dict[str, list[float]] = {"left": [], "right": []}
    unassisted: dict[str, list[bool]] = {"left": [], "right": []}
    trend: dict[str, list[float]] = {}
    for s in sessions:
        for side, rom in (("left", s.best_rom_left_deg), ("right", s.best_rom_right_deg)):
            if rom is not None:
                days[side].append(_day_number(s.local_date, first))
                roms[side].append(rom)
                unassisted[side].append(s.assisted == "unassisted")
    for side in ("left", "right"):
        x, y = np.array(days[side]), np.array(roms[side])
        if len(x) >= 2 and np.ptp(x) > 0:
            coef = np.polyfit(x, y, 1)
            trend[side] = [float(v) for v in np.polyval(coef, [x.min(), x.max()])]
        else:
            trend[side] = []
    return RomData(first, days, roms, unassisted, trend)


def hold_data(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]]) -> HoldData:
    day_of = {s.id: s.local_date for s in sessions}
    per_day: dict[str, list[HoldMetrics]] = {}
    for sid, h in holds:
        per_day.setdefault(day_of[sid], []).append(h)
    dates = sorted(per_day)
    return HoldData(dates, [float(np.mean([h.duration_s for h in per_day[d]])) for d in dates],
                    [float(np.median([h.twist_sd_deg for h in per_day[d]])) for d in dates])


def asymmetry_data(sessions: list[StoredSession]) -> AsymmetryData:
    per_day: dict[str, list[float]] = {}
    for s in sessions:
        if s.asymmetry_deg is not None:
            per_day.setdefault(s.local_date, []).append(s.asymmetry_deg)
    dates = sorted(per_day)
    return AsymmetryData(dates, [float(np.mean(per_day[d])) for d in dates])


def calendar_data(sessions: list[StoredSession], parts: DayParts | None = None) -> CalendarData:
    """Sessions per exercise day and part of the day (a session after midnight, before the morning, is the evening
    before's)."""
    placed = [day_part(s, parts) for s in sessions]
    days = sorted(day for day, _ in placed)
    if not days:
        return CalendarData([], [])
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    dates = [(first + timedelta(days=k)).isoformat() for k in range((last - first).days + 1)]
    index = {d: k for k, d in enumerate(dates)}
    done = [[0, 0, 0] for _ in dates]
    for day, part in placed:
        if part in SLOTS:
            done[index[day]][SLOTS.index(part)] += 1
    return CalendarData(dates, done)


def report_data(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]],
                parts: DayParts | None = None, plans: list[Plan] | None = None,
                profile: dict[str, str] | None = None) -> ReportData:
    """Everything the report shows; ``parts``: where the parts of the day begin (adherence); ``plans``: the
    prescriptions each day is measured against; ``profile``: who it is about."""
    progress = summarize(sessions, holds, plans or [], parts=parts)
    held = hold_data(sessions, holds)
    held.target_hold_s = progress.plan.hold_s
    rom = rom_data(sessions)
    if progress.spine is not None:  # the spine's own range: a series of its own (two sensors)
        for day, sides in progress.spine.daily.items():
            for side, value in sides.items():
                if value is not None:
                    rom.spine_day[side].append(_day_number(day, rom.first_date))
                    rom.spine_deg[side].append(value)
    return ReportData(rom, held, asymmetry_data(sessions), calendar_data(sessions, parts), progress,
                      list(plans or []), dict(profile or {}), weekly_rows(sessions, holds, progress.adherence))


NOT_ENOUGH = "not enough data yet"
SWAY_NOISE_DEG = 0.25  # sway differences smaller than this are not worth a scale (the hold's own breathing is ~0.3°)


def _dates(days: list[str]) -> np.ndarray:
    """ISO days as matplotlib date numbers (1 = one day)."""
    return np.array([mdates.date2num(date.fromisoformat(d)) for d in days], dtype=float)


def _date_axis(ax, numbers: np.ndarray) -> None:
    """A date axis that reads well for one day or three years: concise labels, and at least a week shown (a single
    session is not stretched across the page)."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize=8)
    if len(numbers):
        lo, hi = float(np.min(numbers)), float(np.max(numbers))
        pad = max(0.5 + 0.02 * (hi - lo), (7.0 - (hi - lo)) / 2)
        ax.set_xlim(lo - pad, hi + pad)


def _y_span_at_least(ax, values, min_span: float, floor: float | None = None) -> None:
    """A y range that covers the values and is never narrower than ``min_span`` (the measurement's noise), so
    differences smaller than the noise do not look large; ``floor``: never below it (0 for durations)."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not len(values):
        return
    lo, hi = float(values.min()), float(values.max())
    margin = 0.08 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    if hi - lo < min_span:
        centre = (hi + lo) / 2
        lo, hi = centre - min_span / 2, centre + min_span / 2
    if floor is not None and lo < floor:
        lo, hi = floor, max(hi, floor + min_span)
    ax.set_ylim(lo, hi)


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"{what}: {NOT_ENOUGH}", transform=ax.transAxes, ha="center", va="center", fontsize=10,
            color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _subplots(height_in: float, rows: int = 1):
    """A figure 9 in wide with ``rows`` axes one above the other (sharing x), in fixed margins: room for the y tick
    labels and label, the title, and the date ticks with their year below. (Matplotlib's constrained layout would
    fit them to the text each time; it took half of the figures' drawing time, and these labels do not change.)"""
    margins = {"left": 0.8 / 9, "right": 1 - 0.2 / 9, "top": 1 - 0.35 / height_in, "bottom": 0.5 / height_in,
               "hspace": 0.08}
    return plt.subplots(rows, 1, figsize=(9, height_in), sharex=True, gridspec_kw=margins)


def _rom_figure(data: RomData):
    fig, ax = _subplots(4.2)
    first = mdates.date2num(date.fromisoformat(data.first_date))
    shown = []
    for side in ("left", "right"):
        x, y = first + np.array(data.day[side]), np.array(data.rom_deg[side])
        if not len(x):
            continue
        shown.append((x, y))
        free = np.array(data.unassisted[side], dtype=bool)
        ax.scatter(x[~free], y[~free], color=COLOURS[side], s=18, label=f"{side} (hands helping)")
        if free.any():
            ax.scatter(x[free], y[free], facecolors="none", edgecolors=COLOURS[side], s=28,
                       label=f"{side} (no hands)")
        if data.spine_deg[side]:
            sx, sy = first + np.array(data.spine_day[side]), np.array(data.spine_deg[side])
            shown.append((sx, sy))
            ax.scatter(sx, sy, color=COLOURS[side], marker="x", s=24, label=f"{side}: the spine alone (two sensors)")
        if data.trend_deg[side]:
            xs = [x.min(), x.max()]
            ax.plot(xs, data.trend_deg[side], color=COLOURS[side], lw=1.5)
            ax.fill_between(xs, np.array(data.trend_deg[side]) - MDC_DEG, np.array(data.trend_deg[side]) + MDC_DEG,
                            color=COLOURS[side], alpha=0.1, lw=0)
    ax.set_title(f"Range of motion per side, with trend; shaded: ±{MDC_DEG:g}° measurement noise (MDC)", fontsize=10)
    if not shown:
        _empty(ax, "range of motion")
        return fig
    ax.set_ylabel("range of motion, ° (best hold)")
    _date_axis(ax, np.concatenate([x for x, _ in shown]))
    _y_span_at_least(ax, np.concatenate([y for _, y in shown]), 4 * MDC_DEG)
    if not any(data.trend_deg.values()):
        ax.text(0.01, 0.02, "trend: after sessions on at least two days", transform=ax.transAxes, fontsize=8,
                color="0.4")
    ax.legend(fontsize=8, frameon=False, ncol=2)
    return fig


def _bars(ax, x: np.ndarray, heights: np.ndarray, colour: str) -> None:
    """Day bars (0.8 day wide) for a few months; a filled step curve for longer periods (thousands of bars are slow
    and unreadable)."""
    if len(x) <= 90:
        ax.bar(x, heights, width=0.8, color=colour)
    else:
        ax.fill_between(x, 0.0, heights, step="mid", color=colour, lw=0)


def _holds_figure(data: HoldData):
    fig, (top, bottom) = _subplots(4.6, rows=2)
    top.set_title("Hold duration and steadiness per day (lower sway = steadier)", fontsize=10)
    if not data.dates:
        _empty(top, "holds")
        bottom.axis("off")
        return fig
    x = _dates(data.dates)
    _bars(top, x, np.array(data.mean_duration_s), "0.6")
    top.axhline(data.target_hold_s, color="#2ca02c", ls="--", lw=1, label=f"prescribed {data.target_hold_s:g} s")
    top.set_ylabel("hold, s (mean)")
    top.set_ylim(0.0, 1.15 * max(max(data.mean_duration_s), data.target_hold_s))  # bars start at zero
    top.legend(fontsize=8, frameon=False)
    bottom.plot(x, data.median_sway_deg, marker="o", ms=3, color="#9467bd")
    bottom.set_ylabel("sway, ° (median)")
    _y_span_at_least(bottom, [*data.median_sway_deg, 0.0], 4 * SWAY_NOISE_DEG, floor=0.0)
    _date_axis(bottom, x)
    return fig


def _asymmetry_figure(data: AsymmetryData):
    fig, ax = _subplots(2.8)
    ax.set_title("Left/right asymmetry of the best holds (+ = the left turn goes further)", fontsize=10)
    if not data.dates:
        _empty(ax, "asymmetry (needs holds to both sides in a session)")
        return fig
    x = _dates(data.dates)
    values = np.array(data.asymmetry_deg)
    _bars(ax, x, np.where(values >= 0, values, 0.0), "#1f77b4")
    _bars(ax, x, np.where(values < 0, values, 0.0), "#d62728")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel("left − right, °")
    _y_span_at_least(ax, [*values, 0.0], 4 * MDC_DEG)
    _date_axis(ax, x)
    return fig


def _calendar_figure(data: CalendarData):
    fig, ax = _subplots(2.0)
    ax.set_title("Adherence: sessions per part of the day (green = done)", fontsize=10)
    if not data.dates:
        _empty(ax, "adherence")
        return fig
    x = _dates(data.dates)
    grid = np.array(data.done, dtype=float).T
    ax.imshow(grid > 0, aspect="auto", cmap="Greens", vmin=0, vmax=1.3, interpolation="nearest",
              extent=(x[0] - 0.5, x[-1] + 0.5, len(SLOTS) - 0.5, -0.5))
    ax.set_yticks(range(len(SLOTS)), SLOTS, fontsize=8)
    _date_axis(ax, x)
    return fig


FIGURES = (("rom", _rom_figure, "rom"), ("holds", _holds_figure, "holds"), ("asymmetry", _asymmetry_figure,
                                                                              "asymmetry"),
           ("calendar", _calendar_figure, "calendar"))


def figures(data: ReportData) -> dict[str, plt.Figure]:
    """The report's figures, drawn from their data (close them with ``plt.close`` when done)."""
    return {name: draw(getattr(data, attr)) for name, draw, attr in FIGURES}


def close(figs: dict) -> None:
    for fig in figs.values():
        plt.close(fig)


def _png(fig) -> bytes:
    """The figure as PNG (kept with the figure: the HTML and the PDF both show it)."""
    cached = getattr(fig, "_imutrack_png", None)
    if cached is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        cached = fig._imutrack_png = buffer.getvalue()
    return cached


def write_png(data: ReportData, folder: Path, figs: dict | None = None) -> list[Path]:
    own = figs is None
    figs = figures(data) if own else figs
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figs.items():
        path = folder / f"{name}.png"
        path.write_bytes(_png(fig))
        if own:
            plt.close(fig)
        paths.append(path)
    return paths


GLOSSARY = (
    ("Range of motion (°)", "The trunk's rotation about vertical held during a hold, relative to sitting upright and "
     "facing forward, measured by a chest-worn motion sensor; the best hold of each session per side."),
    ("Measurement noise (MDC)", f"Changes smaller than about ±{MDC_DEG:g}° are within the minimal detectable change "
     "reported for seated trunk-rotation measurements (2–6°) and should not be read as progress."),
    ("Hold (s)", "Time at the end of range between the end of the turn and the start of the return. A hold meets the "
     "plan when it lasts at least 90 % of the prescribed length."),
    ("Sway (°)", "Standard deviation of the angle around its slow trend during a hold: lower is steadier."),
    ("Slouched", "Share of the week's hold time spent bent forward beyond the slouch threshold (10°)."),
    ("Forced", "Share of the week's holds with bouncing (a 0.5–3 Hz twist oscillation above 1°): pushing into the "
     "stretch rather than relaxing into it."),
    ("Creep (°)", "How much further the twist went during a hold (median of the week): positive when the person "
     "relaxes into the hold, as the exercise asks."),
    ("Breaths/min", "Median breathing rate during the week's holds, from the breastbone's rise and fall; slow deep "
     "breaths (about 6–10 a minute) help the hold."),
    ("Asymmetry (°)", "Best left minus best right range in a session."),
    ("Back before → after", "How the back felt just before and just after a guided session, as the person rated it: "
     "0 no pain, 10 the worst imaginable (a numeric rating scale); \"–\" when not rated."),
    ("Hands", "As declared: \"assisted\" (one hand beside, one behind) or \"unassisted\" (no hands)."),
    ("Gyro calibrated", "Whether the sensor's gyro scale was measured (imutrack calibrate, whole turns on a swivel "
     "chair) and taken out, and by how much it read off. An uncalibrated consumer sensor may read angles 1–3 % too "
     "large or too small: 1–2° on a 60° twist, the same every day."),
)


@dataclass
class ReportText:
    """The report's words, the same in HTML and PDF (plain text: each sink escapes it)."""

    header: str
    summary: list[str]
    prescription: list[str]
    notes: list[str]  # advice and cautions


def report_text(data: ReportData, sessions: list[StoredSession]) -> ReportText:
    p = data.progress
    who = [v for v in (data.profile.get("name"), data.profile.get("patient_id") and
                       f"ID {data.profile['patient_id']}") if v]
    header = " · ".join([*who, f"period {p.first_date or '–'} to {p.last_date or '–'}",
                         f"written {date.today().isoformat()}"])
    summary = [f"{p.sessions} sessions with {p.holds} holds, {p.first_date or '–'} to {p.last_date or '–'}; "
               f"current streak {p.streak_days} day(s)."]
    for side, t in (("Left", p.left), ("Right", p.right)):
        if t.change_deg is None:
            summary.append(f"{side}: not enough days for a trend yet.")
            continue
        verdict = (f"a real change (larger than the ±{MDC_DEG:g}° measurement noise)" if t.change_is_real
                   else f"within measurement noise (±{MDC_DEG:g}°): no change shown yet")
        summary.append(f"{side}: {_fmt(t.first_deg)}° → {_fmt(t.latest_deg)}°, trend "
                       f"{t.slope_deg_per_week:+.1f}°/week, {t.change_deg:+.1f}° over the period — {verdict}.")
    if p.spine is not None:
        share = "" if p.spine.pelvis_share_median is None else (
            "; the rest of each turn was the hips turning on the seat, a median "
            f"{100 * p.spine.pelvis_share_median:.0f} %")
        summary.append(f"The spine's own twist, measured in {p.spine.sessions} session(s) with a second sensor on the "
                       f"pelvis: best left {_fmt(p.spine.left.best_deg)}°, right {_fmt(p.spine.right.best_deg)}°"
                       f"{share}. It is shown apart from the ranges above (crosses in the figure).")
    summary += personal_bests(sessions)
    summary.append(f"Mean asymmetry {_fmt(p.mean_asymmetry_deg, '+.1f')}° (+ = the left turn goes further); median "
                   f"sway {_fmt(p.median_sway_deg, '.2f')}°.")
    if p.pain is not None:
        summary.append(f"Back (0 no pain – 10 worst), as rated at guided sessions: {pain_words(p.pain)}.")
    kept = p.adherence
    prescription = [f"From {plan.start_date}: {plan.describe()}" + (f" — {plan.note}" if plan.note else "")
                    for plan in data.plans] or [f"No plan set: the exercise as described — {p.plan.describe()}."]
    prescription.append(
        f"Sessions done as planned: {kept.sessions_done} of {kept.sessions_prescribed} ({kept.days_fully_done} of "
        f"{kept.days} days complete). Holds meeting the plan in force that day (at least 90 % of its hold length): "
        f"{_fmt(100 * (p.compliant_fraction or 0), '.0f')} % of {kept.holds}.")
    note = version_note(sessions)
    return ReportText(header, summary, prescription, [*p.advice, *([note] if note else [])])


WEEK_COLUMNS = ["week of", "sessions / planned", "best left, °", "best right, °", "slouched", "forced",
                "breaths/min", "creep, °"]


def weekly_rows(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]], adherence) -> list[list[str]]:
    """Per week (newest first): its Monday, sessions done / prescribed, best left and right range (°), and form: the
    share of hold time slouched, the share of holds forced, the median breathing rate and the median creep (°,
    relaxing into the hold when positive)."""

    def monday(day: str) -> str:
        d = date.fromisoformat(day)
        return (d - timedelta(days=d.weekday())).isoformat()

    week_of = {s.id: monday(s.local_date) for s in sessions}
    weeks: dict[str, dict] = {}
    for s in sessions:
        week = weeks.setdefault(week_of[s.id], {"sessions": 0, "left": [], "right": [], "holds": []})
        week["sessions"] += 1
        for side in ("left", "right"):
            value = getattr(s, f"best_rom_{side}_deg")
            if value is not None:
                week[side].append(value)
    for session_id, hold in holds:
        if session_id in week_of:
            weeks[week_of[session_id]]["holds"].append(hold)
    prescribed: dict[str, int] = {}
    for day, (_, asked) in adherence.per_day.items():
        prescribed[monday(day)] = prescribed.get(monday(day), 0) + len(asked)

    def median(values) -> float | None:
        values = [v for v in values if v == v]
        return float(np.median(values)) if values else None

    rows = []
    for start, w in sorted(weeks.items(), reverse=True):
        held = w["holds"]
        time_s = sum(h.duration_s for h in held)
        slouched = (f"{100 * sum(h.slouch_fraction * h.duration_s for h in held) / time_s:.0f} %"
                    if time_s > 0 else "–")
        forced = f"{100 * sum(h.forced for h in held) / len(held):.0f} %" if held else "–"
        rows.append([start, f"{w['sessions']} of {prescribed.get(start, 0)}", _fmt(max(w["left"], default=None)),
                     _fmt(max(w["right"], default=None)), slouched, forced,
                     _fmt(median(h.breath_rate_bpm for h in held)), _fmt(median(h.creep_deg for h in held), "+.1f")])
    return rows


def personal_bests(sessions: list[StoredSession]) -> list[str]:
    """Per side, the best range of motion and the day it was reached."""
    lines = []
    for side in ("left", "right"):
        best = max((s for s in sessions if getattr(s, f"best_rom_{side}_deg") is not None),
                   key=lambda s: getattr(s, f"best_rom_{side}_deg"), default=None)
        if best is not None:
            lines.append(f"Personal best {side}: {getattr(best, f'best_rom_{side}_deg'):.1f}° on {best.local_date}.")
    return lines


PAPER_IN = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}  # width, height in inches
PDF_SESSIONS = 60  # the newest sessions listed in the printed report (a page)
PDF_WEEKS = 52  # and weeks


def write_pdf(data: ReportData, sessions: list[StoredSession], path: Path, figs: dict | None = None,
              title: str = "Seated twist progress", paper: str = "a4") -> Path:
    """The report as a document on A4 or Letter ``paper`` (text as text, searchable): header, summary, prescription
    against what was done, the figures sized for the page, a weekly table and the sessions (newest first), and the
    glossary. ``figs`` reuses already drawn figures."""
    if paper not in PAPER_IN:
        raise ImutrackError(f"paper must be one of {', '.join(PAPER_IN)}, got {paper!r}")
    own = figs is None
    figs = figures(data) if own else figs
    partial = path.with_name(path.name + ".partial")  # moved into place once whole: Ctrl-C leaves no half PDF
    try:
        _write_pdf_pages(data, figs, sessions, partial, title, PAPER_IN[paper])
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        if own:
            close(figs)
    return path


class _Page:
    """An A4 page written top to bottom: wrapped paragraphs, headings, images and tables."""

    MARGIN = 0.07  # of the page's width and height
    LINE = 0.0165  # of the page's height, for 9-point text

    def __init__(self, pdf: PdfPages, size_in: tuple[float, float]):
        self.pdf, self.size_in = pdf, size_in
        self.fig = plt.figure(figsize=size_in)
        self.y = 1.0 - self.MARGIN

    def room(self, height: float) -> None:
        if self.y - height < self.MARGIN:
            self.finish()
            self.fig = plt.figure(figsize=self.size_in)
            self.y = 1.0 - self.MARGIN

    def text(self, words: str, size: float = 9.0, weight: str = "normal", width: int = 105, gap: float = 0.3) -> None:
        import textwrap

        lines = textwrap.wrap(words, width=width) or [""]
        step = self.LINE * size / 9.0
        self.room(step * (len(lines) + gap))
        for line in lines:
            self.fig.text(self.MARGIN, self.y, line, fontsize=size, weight=weight, va="top", usetex=False,
                          parse_math=False)
            self.y -= step
        self.y -= step * gap

    def heading(self, words: str, keep: float = 0.1) -> None:
        """A section heading, on a new page unless ``keep`` (share of the page) of what follows fits below it: a
        heading is never left alone at the foot of a page."""
        self.room(self.LINE * 12.0 / 9.0 * 1.3 + keep)
        self.text(words, size=12, weight="bold")

    def figure(self, title: str, fig, height: float) -> None:
        """A section of one figure: its heading, and the figure on the same page."""
        self.heading(title, keep=height)
        self.image(fig, height)

    def image(self, fig, height: float) -> None:
        """A figure drawn as an image ``height`` (share of the page) tall, across the text width."""
        from matplotlib.image import imread

        self.room(height)
        ax = self.fig.add_axes((self.MARGIN, self.y - height, 1 - 2 * self.MARGIN, height))
        ax.imshow(imread(io.BytesIO(_png(fig)), format="png"), interpolation="antialiased")
        ax.set_aspect("auto")
        ax.axis("off")
        self.y -= height + 0.01

    def table(self, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        """Columns of 8-point text, continued on new pages with the header again (one text per column and page:
        thousands of separate texts would take seconds to draw)."""
        step = self.LINE * 8.0 / 9.0
        left = self.MARGIN + np.cumsum([0.0, *widths[:-1]])
        done = 0
        while True:
            self.room(step * 3)
            fits = max(1, int((self.y - self.MARGIN) / step) - 1)
            chunk = rows[done:done + fits]
            for x, k in zip(left, range(len(header))):
                self.fig.text(x, self.y, header[k], fontsize=8, weight="bold", va="top", parse_math=False)
                if chunk:
                    self.fig.text(x, self.y - step, "\n".join(row[k] for row in chunk), fontsize=8, va="top",
                                  linespacing=1.25, parse_math=False)
            self.y -= step * (len(chunk) + 1.5)
            done += len(chunk)
            if done >= len(rows):
                break
            self.room(1.0)  # a new page, the header again

    def finish(self) -> None:
        self.pdf.savefig(self.fig)
        plt.close(self.fig)


def _write_pdf_pages(data: ReportData, figs: dict, sessions: list[StoredSession], path: Path, title: str,
                     size_in: tuple[float, float]) -> None:
    words = report_text(data, sessions)
    with PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"], info["Creator"] = printable(title), "imutrack"
        page = _Page(pdf, size_in)
        page.text(printable(title), size=16, weight="bold", gap=0.2)
        page.text(printable(words.header), size=9, gap=0.8)
        page.heading("Summary")
        for sentence in words.summary:
            page.text(printable(sentence))
        for sentence in words.notes:
            page.text(printable(sentence), weight="bold")
        page.heading("Prescription and what was done")
        for sentence in words.prescription:
            page.text(printable(sentence))
        page.figure("Range of motion", figs["rom"], 0.34)
        page.figure("Holds", figs["holds"], 0.36)
        page.figure("Symmetry", figs["asymmetry"], 0.22)
        page.figure("Adherence", figs["calendar"], 0.16)
        page.heading("Weeks and form (newest first)")
        weeks = data.weeks
        page.table(WEEK_COLUMNS, weeks[:PDF_WEEKS], [0.14, 0.16, 0.11, 0.11, 0.1, 0.09, 0.11, 0.1])
        if len(weeks) > PDF_WEEKS:
            page.text(f"… and {len(weeks) - PDF_WEEKS} earlier weeks (in the HTML report).")
        page.heading("Sessions (newest first)")
        rows = [[s.start_time[:16].replace("T", " "), s.time_slot, s.assisted, _fmt(s.best_rom_left_deg),
                 _fmt(s.best_rom_right_deg), f"{_rating(s.pain_before)} → {_rating(s.pain_after)}",
                 printable(s.notes)[:40]] for s in reversed(sessions[-PDF_SESSIONS:])]
        page.table(["start", "part of day", "hands", "left, °", "right, °", "back", "notes"], rows,
                   [0.18, 0.12, 0.12, 0.08, 0.08, 0.09, 0.3])
        if len(sessions) > PDF_SESSIONS:
            page.text(f"… and {len(sessions) - PDF_SESSIONS} older sessions (all of them are in the HTML report and "
                      "in report --csv).")
        page.heading("What the numbers mean")
        for term, meaning in GLOSSARY:
            page.text(f"{term}: {meaning}")
        page.text("Made by imutrack on this computer; nothing was sent anywhere.", size=7)
        page.finish()


def write_csv(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]], path: Path) -> Path:
    """One row per hold with its session's start, time slot, hands and device (cells safe for spreadsheets)."""
    by_id = {s.id: s for s in sessions}
    hold_names = [f.name for f in fields(HoldMetrics)]
    return write_table(path, ["session_start", "local_date", "time_slot", "assisted", "device", *hold_names],
                       ([by_id[sid].start_time, by_id[sid].local_date, by_id[sid].time_slot, by_id[sid].assisted,
                         by_id[sid].device, *(getattr(h, name) for name in hold_names)] for sid, h in holds))


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "–" if value is None or value != value else format(value, spec)


def _rating(value: int | None) -> str:
    return "–" if value is None else str(int(value))


def write_html(data: ReportData, sessions: list[StoredSession], path: Path, title: str = "Seated twist progress",
               figs: dict | None = None) -> Path:
    """A single self-contained page (figures embedded), readable offline; every user string is escaped.
    ``figs`` reuses already drawn figures."""
    own = figs is None
    figs = figures(data) if own else figs
    images = []
    for name, fig in figs.items():
        encoded = base64.b64encode(_png(fig)).decode("ascii")
        if own:
            plt.close(fig)
        images.append(f'<figure id="fig-{name}"><img alt="{name} figure" src="data:image/png;base64,{encoded}">'
                      f"</figure>")
    e = html.escape

    words = report_text(data, sessions)
    rows = "\n".join(
        f"<tr><td>{e(s.start_time[:16].replace('T', ' '))}</td><td>{e(s.time_slot)}</td><td>{e(s.assisted)}</td>"
        f"<td>{s.reps_left}/{s.reps_right}</td><td>{_fmt(s.best_rom_left_deg)}</td>"
        f"<td>{_fmt(s.best_rom_right_deg)}</td><td>{_fmt(s.asymmetry_deg, '+.1f')}</td><td>{e(s.device)}</td>"
        f"<td>{'no' if s.gyro_scale is None else f'{100 * (s.gyro_scale - 1):+.1f} %'}</td>"
        f"<td>{_rating(s.pain_before)} → {_rating(s.pain_after)}</td><td class=\"note\">{e(s.notes)}</td></tr>"
        for s in sessions
    )
    header = f'<p class="who">{e(words.header)}</p>'
    summary = "".join(f"<li>{e(sentence)}</li>" for sentence in words.summary)
    prescription = ("<ul>" + "".join(f"<li>{e(line)}</li>" for line in words.prescription[:-1]) + "</ul>"
                    f"<p>{e(words.prescription[-1])}</p>")
    advice = "".join(f'<p class="advice">{e(line)}</p>' for line in words.notes)
    weeks = "\n".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>"
                       for row in data.weeks)
    week_header = "".join(f"<th>{e(name)}</th>" for name in WEEK_COLUMNS)
    glossary = "\n".join(f"<dt>{e(term)}</dt><dd>{e(meaning)}</dd>" for term, meaning in GLOSSARY)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }}
img {{ max-width: 100%; }} table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }} .advice {{ color: #1a7f37; font-weight: 600; }}
dt {{ font-weight: 600; }} @media print {{ figure {{ break-inside: avoid; }} }}
.scroll {{ overflow-x: auto; }} figure {{ margin: 0; }} td.note {{ text-align: left; }}
</style></head><body>
<h1>{e(title)}</h1>
{header}
<h2>Summary</h2>
<ul id="summary">{summary}</ul>
{advice}
<h2>Prescription and what was done</h2>
{prescription}
<h2>Range of motion</h2>
{images[0]}
<h2>Holds</h2>
{images[1]}
<h2>Symmetry</h2>
{images[2]}
<h2>Adherence</h2>
{images[3]}
<h2>Weeks and form (newest first)</h2>
<div class="scroll"><table id="weeks"><thead><tr>{week_header}</tr></thead>
<tbody>
{weeks}
</tbody></table></div>
<h2>Sessions</h2>
<div class="scroll"><table id="sessions"><thead><tr><th>start (local)</th><th>time of day</th><th>hands</th>
<th>reps L/R</th><th>best left, °</th><th>best right, °</th><th>asymmetry, °</th><th>device</th>
<th>gyro calibrated</th><th>back before → after</th><th>notes</th></tr></thead>
<tbody>
{rows}
</tbody></table></div>
<h2>What the numbers mean</h2>
<dl>
{glossary}
</dl>
<p><small>Made by imutrack on this computer; nothing was sent anywhere.</small></p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def write_reports(db: Path, html: Path | None = None, pdf: Path | None = None, csv: Path | None = None,
                  png: Path | None = None, date_from: str | None = None, date_to: str | None = None,
                  parts: DayParts | None = None, paper: str = "a4") -> list[Path]:
    """Write the requested report files from the progress database; returns their paths. ``parts``: where the
    parts of the day begin."""
    from imutrack.store import Store

    with Store(db) as store:
        sessions = store.sessions(date_from, date_to)
        holds = list(store.holds([s.id for s in sessions]))
        plans, profile = store.plans(), store.profile()
    if not sessions:
        raise ImutrackError(f"no sessions in {db} for that period: nothing to report")
    data = report_data(sessions, holds, parts, plans, profile)
    figs = figures(data) if (html or pdf or png) else {}
    written = []
    try:
        for target, write in ((html, lambda p: write_html(data, sessions, p, figs=figs)),
                              (pdf, lambda p: write_pdf(data, sessions, p, figs=figs, paper=paper)),
                              (csv, lambda p: write_csv(sessions, holds, p))):
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(write(target))
        if png is not None:
            written += write_png(data, png, figs=figs)
    finally:
        close(figs)
    return written
