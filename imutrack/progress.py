"""Progress over days, from the stored sessions and holds (pure: rows in, numbers out)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from imutrack.metrics import DAY_PARTS, DayParts, HoldMetrics
from imutrack.plan import DEFAULT_PLAN, Adherence, Plan, plan_on
from imutrack.store import StoredSession

# Smallest change of a seated trunk-rotation range that exceeds measurement noise. Published minimal detectable
# changes (MDC95) for seated rotation tests are about 2–6° (e.g. goniometric and inclinometric seated trunk rotation
# in healthy adults and low-back-pain patients); we take the middle of that range.
MDC_DEG = 4.0


@dataclass
class SideTrend:
    """One side's range of motion over the period (degrees)."""

    days: int
    first_deg: float | None
    latest_deg: float | None
    best_deg: float | None
    slope_deg_per_week: float | None
    change_deg: float | None
    change_is_real: bool | None


@dataclass
class SpineProgress:
    """Sessions measured with a second sensor on the pelvis: the spine's own range of motion per side (the
    largest |``spine_mean_twist_deg``| of a day's holds) — a series of its own, never mixed with the chest's turn
    of one-sensor sessions — and the median share of the turns the pelvis did (0-1)."""

    sessions: int
    left: SideTrend
    right: SideTrend
    pelvis_share_median: float | None
    daily: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass
class Progress:
    """Summary over a period. ``daily`` maps local dates to the best ROM per side that day."""

    first_date: str | None
    last_date: str | None
    sessions: int
    holds: int
    left: SideTrend
    right: SideTrend
    compliant_fraction: float | None
    median_sway_deg: float | None
    mean_asymmetry_deg: float | None
    slots_this_week: dict[str, int] = field(default_factory=dict)
    streak_days: int = 0
    plateau: bool = False
    daily: dict[str, dict[str, float | None]] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    pain: PainRatings | None = None  # how the back felt before and after the sessions rated; None: none rated
    adherence: Adherence = field(default_factory=Adherence)  # against the plan in force each day
    plan: Plan = DEFAULT_PLAN  # the plan in force on the period's last day
    spine: SpineProgress | None = None  # sessions with a pelvis sensor; None: there were none


@dataclass
class PainRatings:
    """Back ratings given at guided sessions, 0 (no pain) – 10 (worst imaginable): means over the sessions rated
    before (``before_mean``), after (``after_mean``), and the mean change within sessions rated both times
    (``change_mean``, negative = better after the exercise; None unless some were)."""

    sessions: int
    before_mean: float | None
    after_mean: float | None
    change_mean: float | None
    first_before: int | None  # the first and latest ratings before a session, to see the trend over days
    latest_before: int | None


def pain_words(pain: PainRatings) -> str:
    """The back ratings of a period in one phrase."""
    parts = []
    if pain.before_mean is not None:
        parts.append(f"before sessions {pain.before_mean:.1f}")
    if pain.after_mean is not None:
        parts.append(f"after {pain.after_mean:.1f}")
    text = ", ".join(parts) + f" on average ({pain.sessions} rated session{'s' if pain.sessions != 1 else ''})"
    if pain.change_mean is not None:
        text += f"; a session changed it by {pain.change_mean:+.1f}"
    if pain.first_before is not None and pain.latest_before != pain.first_before:
        text += f"; before the first {pain.first_before}, before the latest {pain.latest_before}"
    return text


def pain_ratings(sessions: list[StoredSession]) -> PainRatings | None:
    rated = [s for s in sessions if s.pain_before is not None or s.pain_after is not None]
    if not rated:
        return None
    before = [s.pain_before for s in rated if s.pain_before is not None]
    after = [s.pain_after for s in rated if s.pain_after is not None]
    both = [s.pain_after - s.pain_before for s in rated if s.pain_before is not None and s.pain_after is not None]
    return PainRatings(len(rated), float(np.mean(before)) if before else None, float(np.mean(after)) if after else None,
                       float(np.mean(both)) if both else None, before[0] if before else None,
                       before[-1] if before else None)


def version_note(sessions: list[StoredSession]) -> str | None:
    """A sentence when some of the sessions were computed by an earlier version of the analysis (their numbers are
    not comparable with the others'), or None."""
    from imutrack.analysis import ANALYSIS_VERSION

    earlier = sum(s.analysis_version != ANALYSIS_VERSION for s in sessions)
    if not earlier:
        return None
    return (f"{earlier} of {len(sessions)} sessions were computed by an earlier version of the analysis, so their "
            "numbers do not compare with the others': run 'imutrack reanalyze' to bring them up to date")


def _trend(daily: dict[str, float]) -> SideTrend:
    if not daily:
        return SideTrend(0, None, None, None, None, None, None)
    days = sorted(daily)
    values = np.array([daily[d] for d in days])
    x = np.array([(date.fromisoformat(d) - date.fromisoformat(days[0])).days for d in days], dtype=float)
    slope = float(np.polyfit(x, values, 1)[0] * 7.0) if len(days) >= 3 and x[-1] > 0 else None
    change = float(np.polyval(np.polyfit(x, values, 1), x[-1]) - np.polyval(np.polyfit(x, values, 1), 0.0)) \
        if slope is not None else None
    return SideTrend(len(days), float(values[0]), float(values[-1]), float(values.max()), slope, change,
                     None if change is None else abs(change) > MDC_DEG)


def _streak(dates: set[date]) -> int:
    if not dates:
        return 0
    day, count = max(dates), 0
    while day in dates:
        count += 1
        day -= timedelta(days=1)
    return count


def day_part(session: StoredSession, parts: DayParts | None = None) -> tuple[str | None, str]:
    """A stored session's exercise day and part of the day (:meth:`DayParts.part_of`), from its start time (so the
    parts' boundaries can change after it was stored); a session with no known time keeps its calendar day."""
    day, part = (parts or DayParts()).part_of(session.start_time)
    return (day or session.local_date), part


def adherence(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]], plans: list[Plan],
              parts: DayParts | None = None, last_day: str | None = None) -> Adherence:
    """Sessions and holds against the plan in force on each day, from the first session's day to ``last_day`` (the
    last session's by default). A part of the day counts once however many sessions were done in it; a part the plan
    does not ask for counts as done beyond the plan (not against it)."""
    placed = {s.id: day_part(s, parts) for s in sessions}
    days_seen = sorted(day for day, _ in placed.values())
    result = Adherence()
    if not days_seen:
        return result
    first = date.fromisoformat(days_seen[0])
    last = date.fromisoformat(max(last_day or days_seen[-1], days_seen[-1]))
    done: dict[str, set[str]] = {}
    for day, part in placed.values():
        done.setdefault(day, set()).add(part)
    plan_of: dict[str, Plan] = {}  # the plan in force each day, found once
    for k in range((last - first).days + 1):
        day = (first + timedelta(days=k)).isoformat()
        plan_of[day] = plan_on(plans, day)
        asked = list(plan_of[day].parts)
        got = [p for p in DAY_PARTS if p in done.get(day, set())]
        result.per_day[day] = (got, asked)
        result.days += 1
        result.sessions_prescribed += len(asked)
        result.sessions_done += sum(p in got for p in asked)
        result.days_fully_done += all(p in got for p in asked)
    for session_id, hold in holds:
        day = placed.get(session_id, (None, ""))[0]
        if day is None:
            continue
        result.holds += 1
        result.holds_meeting_plan += hold.duration_s >= plan_of[day].compliant_hold_s
    return result


def summarize(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]], plans: list[Plan] | None = None,
              today: date | None = None, parts: DayParts | None = None) -> Progress:
    """Progress over the given sessions and their holds, against the plans (prescriptions; none: the default
    plan); ``parts``: where the parts of the day begin."""
    by_day: dict[str, dict[str, float]] = {"left": {}, "right": {}}
    for s in sessions:
        for side, rom in (("left", s.best_rom_left_deg), ("right", s.best_rom_right_deg)):
            if rom is not None:
                by_day[side][s.local_date] = max(rom, by_day[side].get(s.local_date, -1.0))
    all_days = sorted({s.local_date for s in sessions})
    hold_list = [h for _, h in holds]
    sways = np.array([h.twist_sd_deg for h in hold_list])
    asymmetries = [s.asymmetry_deg for s in sessions if s.asymmetry_deg is not None]
    today = today or (date.fromisoformat(all_days[-1]) if all_days else date.today())
    week_start = today - timedelta(days=today.weekday())
    slots = Counter(slot for day, slot in (day_part(s, parts) for s in sessions)
                    if day is not None and week_start <= date.fromisoformat(day) <= today)
    left, right = _trend(by_day["left"]), _trend(by_day["right"])
    kept = adherence(sessions, holds, plans or [], parts)
    compliant = kept.holds_fraction
    recent = [h for (sid, h) in holds if sid in {s.id for s in sessions[-9:]}]
    plateau = (
        left.days >= 7 and right.days >= 7
        and all(t.slope_deg_per_week is not None and abs(t.slope_deg_per_week) < MDC_DEG / 4 for t in (left, right))
        and bool(recent) and float(np.median([h.twist_sd_deg for h in recent])) < 1.0
        and not any(h.forced for h in recent)
    )
    assisted_recent = sum(s.assisted == "assisted" for s in sessions[-9:])
    advice = []
    if plateau and assisted_recent:
        advice.append("Range has levelled off and the holds are steady: the unassisted (no hands) variant may be next.")
    progress = Progress(
        first_date=all_days[0] if all_days else None,
        last_date=all_days[-1] if all_days else None,
        sessions=len(sessions),
        holds=len(hold_list),
        left=left,
        right=right,
        compliant_fraction=compliant,
        median_sway_deg=float(np.median(sways)) if len(sways) else None,
        mean_asymmetry_deg=float(np.mean(asymmetries)) if asymmetries else None,
        slots_this_week={slot: slots.get(slot, 0) for slot in DAY_PARTS},
        streak_days=_streak({date.fromisoformat(d) for d in all_days}),
        plateau=plateau,
        daily={d: {"left": by_day["left"].get(d), "right": by_day["right"].get(d)} for d in all_days},
        advice=advice,
        pain=pain_ratings(sessions),
        adherence=kept,
        plan=plan_on(plans or [], today.isoformat()),
        spine=spine_progress(sessions, holds),
    )
    return progress


def spine_progress(sessions: list[StoredSession], holds: list[tuple[int, HoldMetrics]]) -> SpineProgress | None:
    """The spine's own range per side and day over the sessions measured with two sensors (None without any)."""
    day_of = {s.id: s.local_date for s in sessions if s.sensors == "chest+pelvis"}
    if not day_of:
        return None
    by_day: dict[str, dict[str, float]] = {"left": {}, "right": {}}
    shares = []
    for sid, h in holds:
        if sid in day_of and np.isfinite(h.spine_mean_twist_deg):
            days = by_day[h.side]
            days[day_of[sid]] = max(abs(h.spine_mean_twist_deg), days.get(day_of[sid], -1.0))
            if np.isfinite(h.pelvis_share):
                shares.append(h.pelvis_share)
    dates = sorted(set(by_day["left"]) | set(by_day["right"]))
    return SpineProgress(len(day_of), _trend(by_day["left"]), _trend(by_day["right"]),
                         float(np.median(shares)) if shares else None,
                         {d: {"left": by_day["left"].get(d), "right": by_day["right"].get(d)} for d in dates})
