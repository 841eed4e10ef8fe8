"""The end-of-session summary of a guided session: one row per rep and, per side, today against the best before.

The angles are the analysis's, the quantity the progress database keeps (each hold's mean twist, ``rom_deg``), not
the live guide's running estimate: what the person reads after the session is what their progress will show. The
guide contributes what only it knows: which rep each hold was and how many seconds its timer counted. Each guide
hold is matched to the analysed hold of the same side that overlaps it most in time.

"Best before" compares like with like: only earlier sessions done the same way (with or without hands) and computed
by the same version of the analysis; what was left out is said.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from imutrack.metrics import HoldMetrics, MetricParams
from imutrack.progress import MDC_DEG

SLOUCH_NOTE_FRACTION = 0.1  # a hold is noted as slouched when at least this share of it was bent forward


@dataclass(frozen=True)
class RepRow:
    """One rep: ``angle_deg`` the mean twist held (unsigned, °; None when no hold was measured), ``counted_s`` the
    seconds the guide's timer counted of ``target_s``, ``form`` short notes ("slouched 25 % of the hold", "forced",
    "shallow breathing", "ended early")."""

    rep: int
    side: str
    angle_deg: float | None
    counted_s: float
    target_s: float
    form: tuple[str, ...] = ()


@dataclass(frozen=True)
class SideRow:
    """One side: today's best hold (°), the best before from comparable sessions (°), and the change in words,
    judged against the measurement's noise (``MDC_DEG``)."""

    side: str
    today_deg: float | None
    before_deg: float | None
    change: str


@dataclass(frozen=True)
class SessionSummary:
    reps: list[RepRow]
    sides: list[SideRow]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready (NaN never appears: a missing angle is None)."""
        return {"reps": [asdict(r) | {"form": list(r.form)} for r in self.reps],
                "sides": [asdict(s) for s in self.sides], "notes": list(self.notes)}


def form_notes(hold: HoldMetrics, params: MetricParams | None = None) -> tuple[str, ...]:
    """What to improve in a hold, in a few words each (empty when its form was good)."""
    p = params or MetricParams()
    notes = []
    if hold.slouch_fraction >= SLOUCH_NOTE_FRACTION:
        notes.append(f"slouched {100 * hold.slouch_fraction:.0f} % of the hold")
    if hold.forced:
        notes.append(f"forced (bounced {hold.bounce_deg:.1f}°)")
    if hold.breath_depth_deg == hold.breath_depth_deg and hold.breath_depth_deg < p.shallow_breath_deg:
        notes.append("shallow breathing")
    return tuple(notes)


def summarize_session(guide_holds: list[dict], holds: list[HoldMetrics] | None, target_s: float,
                      before: dict[str, float | None], params: MetricParams | None = None,
                      notes: list[str] | None = None) -> SessionSummary:
    """The summary of a guided session.

    Args:
        guide_holds: the guide's holds (:attr:`imutrack.live.GuideState.holds`: side, rep, counted_s, twist_deg,
            early, and start_s/end_s in the recording's time when the hold began).
        holds: the analysis's holds of the same recording, or None when it could not be analysed (the guide's
            live angles are shown then, and a note says so).
        target_s: the hold length the guide asked for, s.
        before: per side, the best range of motion of comparable earlier sessions (°), None or absent if none.
        notes: sentences to show under the tables (what was compared with what, warnings).
    """
    notes = list(notes or [])
    unused = list(holds or [])
    rows = []
    for g in guide_holds:
        match = _best_overlap(g, unused) if holds is not None else None
        if match is not None:
            unused.remove(match)
            angle, form = match.rom_deg, form_notes(match, params)
        elif holds is None and g.get("twist_deg") == g.get("twist_deg") and g.get("twist_deg") is not None:
            angle, form = abs(float(g["twist_deg"])), ()
        else:
            angle, form = None, ()
        if g.get("early"):
            form = (*form, "ended early")
        if g.get("gap_s"):
            form = (*form, f"sensor lost {float(g['gap_s']):.1f} s")
        rows.append(RepRow(int(g["rep"]), g["side"], None if angle is None else round(float(angle), 1),
                           round(float(g.get("counted_s", 0.0)), 1), float(target_s), form))
    if holds is None:
        notes.append("Angles are the live estimates: the recording could not be analysed.")
    elif any(r.angle_deg is None and r.counted_s > 0 for r in rows):
        notes.append("The analysis found no hold where the guide counted one (a dash in the table).")
    sides = []
    for side in ("left", "right"):
        if holds is not None:
            values = [h.rom_deg for h in holds if h.side == side and h.rom_deg == h.rom_deg]
        else:
            values = [r.angle_deg for r in rows if r.side == side and r.angle_deg is not None]
        today = round(max(values), 1) if values else None
        prior = before.get(side)
        sides.append(SideRow(side, today, None if prior is None else round(prior, 1), _change(today, prior)))
    return SessionSummary(rows, sides, notes)


def _best_overlap(guide_hold: dict, holds: list[HoldMetrics]) -> HoldMetrics | None:
    start, end = guide_hold.get("start_s"), guide_hold.get("end_s")
    if start is None or end is None:
        return None
    best, best_overlap = None, 0.0
    for h in holds:
        overlap = min(end, h.hold_end_s) - max(start, h.hold_start_s)
        if h.side == guide_hold["side"] and overlap > best_overlap:
            best, best_overlap = h, overlap
    return best


def _change(today: float | None, before: float | None) -> str:
    if today is None:
        return "no hold today"
    if before is None:
        return "first session to compare with"
    change = today - before
    if math.fabs(change) <= MDC_DEG:
        return f"{change:+.1f}°: within the measurement's noise (±{MDC_DEG:.0f}°)"
    return f"{change:+.1f}°: {'a new best' if change > 0 else 'less than before'}"


def comparable_best(sessions, assisted: str, analysis_version: int, exclude_path: str | None = None
                    ) -> tuple[dict[str, float | None], list[str]]:
    """Per side, the best range of motion among stored sessions done the same way (``assisted``) and computed by
    the same analysis, and a sentence on what was compared (and what was left out). ``sessions``:
    :class:`~imutrack.store.StoredSession` rows."""
    earlier = [s for s in sessions if s.recording_path != exclude_path]
    alike = [s for s in earlier if s.assisted == assisted and s.analysis_version == analysis_version]
    best: dict[str, float | None] = {}
    for side in ("left", "right"):
        values = [getattr(s, f"best_rom_{side}_deg") for s in alike if getattr(s, f"best_rom_{side}_deg")]
        best[side] = max(values) if values else None
    notes = []
    if alike:
        notes.append(f"Best before: of {len(alike)} earlier session{'s' if len(alike) != 1 else ''} done "
                     f"{_way(assisted)}.")
    other_way = sum(s.assisted != assisted for s in earlier)
    other_version = sum(s.assisted == assisted and s.analysis_version != analysis_version for s in earlier)
    if other_way:
        notes.append(f"{other_way} session{'s' if other_way != 1 else ''} not marked as done "
                     f"{_way(assisted)} {'are' if other_way != 1 else 'is'} not compared.")
    if other_version:
        notes.append(f"{other_version} session{'s' if other_version != 1 else ''} computed by an earlier analysis "
                     f"{'are' if other_version != 1 else 'is'} not compared ('imutrack reanalyze' updates them).")
    return best, notes


def _way(assisted: str) -> str:
    return {"unassisted": "without hands", "assisted": "with hands"}.get(assisted, f"'{assisted}'")
