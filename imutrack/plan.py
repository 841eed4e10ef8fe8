"""The prescription: what the person is asked to do, from a start date on (a plan can change; each day is measured
against the plan in force that day).

A plan says how long each hold lasts, how many reps per side, how many sessions a day and in which parts of the day,
and whether with hands (one beside, one behind) or without. Without any plan stored, the exercise as described is
the plan: 60 s holds, 2 reps per side, morning, afternoon and evening, with hands.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

from imutrack.errors import ImutrackError
from imutrack.metrics import DAY_PARTS

COMPLIANT_FRACTION = 0.9  # a hold meets the plan when it lasts at least this share of the prescribed length


@dataclass(frozen=True)
class Plan:
    """A prescription in force from ``start_date`` (ISO date) until the next plan's.

    Attributes:
        hold_s: each hold's length, s.
        reps_per_side: reps to each side per session.
        parts: the parts of the day with a session ("morning", "afternoon", "evening"); one session each.
        unassisted: without hands.
        note: the prescriber's words (free text; shown, escaped, in the report).
    """

    start_date: str = "0001-01-01"
    hold_s: float = 60.0
    reps_per_side: int = 2
    parts: tuple[str, ...] = DAY_PARTS
    unassisted: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if not 5.0 <= self.hold_s <= 600.0:
            raise ImutrackError(f"a hold of {self.hold_s:g} s is not a plan: between 5 and 600 s")
        if not 1 <= self.reps_per_side <= 20:
            raise ImutrackError(f"{self.reps_per_side} reps per side is not a plan: between 1 and 20")
        unknown = [p for p in self.parts if p not in DAY_PARTS]
        if unknown or not self.parts or len(set(self.parts)) != len(self.parts):
            raise ImutrackError(f"parts of the day must be some of {', '.join(DAY_PARTS)} (each once), got "
                                f"{', '.join(self.parts) or 'none'}")
        try:
            date.fromisoformat(self.start_date)
        except ValueError:
            raise ImutrackError(f"a plan's start date must be YYYY-MM-DD, got {self.start_date!r}") from None

    @property
    def sessions_per_day(self) -> int:
        return len(self.parts)

    @property
    def compliant_hold_s(self) -> float:
        """A hold at least this long (s) meets the plan."""
        return COMPLIANT_FRACTION * self.hold_s

    def describe(self) -> str:
        hands = "without hands" if self.unassisted else "with hands"
        return (f"{self.reps_per_side} rep{'s' if self.reps_per_side != 1 else ''} per side, holds of {self.hold_s:g} s, "
                f"{self.sessions_per_day} session{'s' if self.sessions_per_day != 1 else ''} a day "
                f"({', '.join(self.parts)}), {hands}")

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"parts": list(self.parts)})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        values = json.loads(text)
        values["parts"] = tuple(values.get("parts", DAY_PARTS))
        return cls(**values)


DEFAULT_PLAN = Plan()


def plan_on(plans: list[Plan], day: str) -> Plan:
    """The plan in force on ``day`` (ISO date): the latest one starting on or before it; the default before any."""
    current = DEFAULT_PLAN
    for plan in sorted(plans, key=lambda p: p.start_date):
        if plan.start_date <= day:
            current = plan
    return current


@dataclass
class Adherence:
    """Sessions and holds against the plan in force on each day.

    Attributes:
        days: days in the period (from the first session to the last day asked about).
        days_fully_done: days with every prescribed part of the day done.
        sessions_prescribed / sessions_done: over the period (a part done twice counts once).
        holds / holds_meeting_plan: holds in the period, and those at least 90 % of that day's prescribed length.
        per_day: ISO day → (parts done, parts prescribed).
    """

    days: int = 0
    days_fully_done: int = 0
    sessions_prescribed: int = 0
    sessions_done: int = 0
    holds: int = 0
    holds_meeting_plan: int = 0
    per_day: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @property
    def holds_fraction(self) -> float | None:
        return self.holds_meeting_plan / self.holds if self.holds else None
