"""The guided live session as a pure state machine: fed samples and time, it tells what to show and say.

Phases follow the exercise: **calibrate** (sit upright, facing forward, still) → **turn** to one side as far as is
comfortable → **hold** (a countdown that starts when the end of range is reached and, by default, counts only while
the form is right: upright, not bouncing) → **return** to face forward → **rest** → the other side … → **done**.

The rest stage's incremental form (:class:`imutrack.rests.RestTracker`) follows the orientation: when a turn reaches
its hold, it measures the rest before it as the analysis does (its level over the last still seconds before the turn,
its rate, the tilt over it), fits the gyro bias on every rest so far, and takes the rest's level as the new "facing
forward", so a shift on the seat between sides is not
counted as twist and a sensor warming up on the chest does not bend the twist. Each hold's angle is its mean twist
from the rest before, as the analysis and the progress store have it.

Cues (slouching, leaning, bouncing, shallow or held breath) need their condition to last ``cue_grace_s`` before they
are given, so normal small shifts of position are not nagged about; encouragement is given when the angle creeps up
in a relaxed hold. Nothing here draws or plays anything: views (``imutrack live``) render :class:`GuideState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

import numpy as np

from imutrack.errors import ImutrackError
from imutrack.gaps import GapParams
from imutrack.orientation import OrientationParams
from imutrack.pelvis import PelvisTracker
from imutrack.rests import RestParams, RestTracker, still_mask
from imutrack.samples import ImuSamples


CUE_TEXTS = {  # each cue as the sentence shown and spoken
    "slouch": "Sit tall: you are slouching",
    "lean": "Keep level: you are leaning to the side",
    "bounce": "Don't bounce: relax into the hold",
    "breath": "Breathe deeply and slowly",
    "hips": "Keep your hips still, knees together",
}


class Phase(str, Enum):
    CALIBRATE = "calibrate"
    TURN = "turn"
    HOLD = "hold"
    RETURN = "return"
    REST = "rest"
    DONE = "done"


@dataclass
class GuideConfig:
    """How the session runs (seconds, degrees)."""

    reps_per_side: int = 2
    hold_s: float = 60.0
    rest_s: float = 10.0
    first_side: str = "left"
    calibrate_s: float = 3.0
    strict_form: bool = True
    chest_normal_axis: str = "+z"
    excursion_deg: float = 15.0
    settle_rate_deg_s: float = 4.0
    facing_forward_deg: float = 10.0
    rest_still_range_deg: float = 1.0
    rest_still_s: float = 1.0
    slouch_deg: float = 10.0
    lean_deg: float = 10.0
    bounce_rate_deg_s: float = 12.0
    shallow_breath_deg: float = 0.15
    creep_praise_deg: float = 2.0
    cue_grace_s: float = 3.0
    dropout_s: float = 2.0
    no_hold_after_s: float = 30.0
    resync_after_s: float = 2.0
    resync_still_s: float = 3.0
    # A drop-out of up to gap_kept_s keeps the angle when the person was still just before it and is just after
    # (gap_look_s of data): a turn or a return is seconds of motion, which would show at its edges; once the person
    # was asked to turn or return (a second or more before it), only up to gap_kept_prompted_s. Otherwise the
    # rotation during it may be lost, and facing forward is found again.
    gap_kept_s: float = 3.0
    gap_kept_prompted_s: float = 1.0
    gap_look_s: float = 0.4
    hips_moved_deg: float = 3.0  # with a pelvis sensor: the hips turning this much during a hold is cued


@dataclass
class GuideState:
    """What a view shows. Angles in degrees from facing forward (twist + = left); times in s. ``rep`` counts this
    side's reps from 1 (0 before the first turn).

    ``best_twist_deg``: per side, today's best held angle (a hold's mean twist towards its side, as the analysis
    and the progress store measure it). ``holds``: per rep, its side, number, the seconds counted, ``twist_deg``
    (the hold's mean twist towards its side; nan when a drop-out lost the angle), whether it ended early, the
    hold's ``start_s`` and ``end_s`` (none for a rep given up in its turn), and ``gap_s``, the seconds the sensor was
    lost during it (only when it was: the rotation meanwhile is not seen, so the live angle may be off by a degree
    or two; the analysis of the recording measures the hold from the rests around it).
    ``cues`` names the cues in force and ``cue_texts`` says them as sentences; ``timer_note`` says why the countdown
    stands still ("" while it runs); ``rep_twist_deg`` is this hold's mean twist towards its side so far (nan outside
    a hold); ``session_s`` the session's clock. With a second sensor on the pelvis (:meth:`Guide.update_pelvis`),
    ``pelvis_twist_deg`` and ``spine_twist_deg`` split the twist into the hips' turn and the spine's (nan without).
    """

    phase: Phase = Phase.CALIBRATE
    side: str = "left"
    rep: int = 0
    prompt: str = "Sit upright, facing forward, and keep still"
    twist_deg: float = 0.0
    flexion_deg: float = 0.0
    lean_deg: float = 0.0
    hold_counted_s: float = 0.0
    hold_remaining_s: float = 0.0
    rest_remaining_s: float = 0.0
    best_twist_deg: dict[str, float] = field(default_factory=lambda: {"left": 0.0, "right": 0.0})
    cues: list[str] = field(default_factory=list)
    cue_texts: list[str] = field(default_factory=list)
    paused: bool = False
    timer_note: str = ""
    session_s: float = 0.0
    rep_twist_deg: float = float("nan")
    facing_inward: bool = False  # the sensor was found facing into the chest (and is measured the other way round)
    holds: list[dict] = field(default_factory=list)
    pelvis_twist_deg: float = float("nan")  # with a pelvis sensor: its own turn since the last rest (+ = left)
    spine_twist_deg: float = float("nan")  # and the spine's twist, the chest's less the pelvis's

    def to_dict(self) -> dict:
        """Plain data for a view in another process (the web page): JSON-ready, NaN as None."""
        def clean(value):
            if isinstance(value, float):
                return None if value != value else round(value, 2)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value.value if isinstance(value, Enum) else value

        return {f.name: clean(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Event:
    """Something to announce (shown in plain mode, spoken or sounded): kind and text, at time ``t_s``."""

    t_s: float
    kind: str
    text: str


class Guide:
    """Feed it with :meth:`update` (sample batches) and :meth:`tick` (time passing with or without data)."""

    def __init__(self, config: GuideConfig | None = None, orientation: OrientationParams | None = None,
                 rests: RestParams | None = None):
        self.config = config or GuideConfig()
        self.state = GuideState(side=self.config.first_side)
        self.events: list[Event] = []
        self._orientation_params = orientation or OrientationParams()
        self._rest_params = rests or RestParams()
        self._calibration: list[ImuSamples] = []
        self._tracker: RestTracker | None = None
        self._recent = np.zeros((0, 4))  # (t_s, twist, flexion, lean) of the last 20 s
        self._last_t = None
        self._last_data_t = None
        self._counted_to = 0.0  # the hold's countdown has counted the data up to here, s
        self._phase_started = 0.0
        self._hold_start_twist = 0.0
        self._since: dict[str, float] = {}
        self._said: set[str] = set()
        self._praised = False
        self._reps_done = {"left": 0, "right": 0}
        self._user_paused = False
        self._angle_lost_at: float | None = None  # when a drop-out in a rep made the twist unknown, s
        self._hold_dropped = False  # a drop-out during this hold: had the return begun meanwhile, the twist is off
        self._gap: tuple[float, bool] | None = None  # a drop-out's end (s), and whether it is kept if still after it
        self._hold_gap_s = 0.0  # seconds of this hold the sensor was lost
        self._hold_sum = 0.0  # ∫ twist towards the side dt over this hold, ° s
        self._hold_time = 0.0  # s
        self._hold_started_s = 0.0
        self._turn_started_s = 0.0  # when this rep's turn began, s
        self._placement_known = False  # the turns told how the sensor faces
        self._rest_started_s = 0.0  # when the latest rest began (the return came back), s
        self._rest_lost = False  # that rest follows a drop-out that lost the angle
        self._rest_measured = False  # the rest before this turn is measured already (after a drop-out: at its end)
        self._pelvis: PelvisTracker | None = None  # a second sensor on the pelvis, once it sends
        self._pelvis_zero = float("nan")  # its heading at the last rest (facing forward), °
        self._pelvis_zero_s: float | None = None  # when that rest ended, s
        self._pelvis_at_hold = float("nan")  # its turn when this hold began, °
        self._say(0.0, "prompt", self.state.prompt)

    # --- input -------------------------------------------------------------------------------------------------
    def update(self, samples: ImuSamples) -> GuideState:
        """Process a batch of samples (times in s, increasing across calls)."""
        if len(samples) == 0 or self.state.phase is Phase.DONE:
            return self.state
        now = float(samples.t_s[-1])
        before = self._last_data_t  # the last data before this batch, s
        if self.state.paused and not self._user_paused:
            self.state.paused, self.state.timer_note = False, ""
            self._say(float(samples.t_s[0]), "resume", "Sensor back; carry on")
        self._last_data_t = now
        if self.state.phase is Phase.CALIBRATE:
            self._calibrate(samples)
        else:
            self._track(samples)
            if self._tracker.dropped:
                self._tracker.dropped = False
                self._counted_to = float(samples.t_s[0])  # a drop-out's seconds are not held seconds
                if self.state.phase is Phase.HOLD and before is not None:
                    self._hold_gap_s += float(samples.t_s[0]) - before
                self._gap_began(before if before is not None else float(samples.t_s[0]), float(samples.t_s[0]))
            if self._gap is not None and now - self._gap[0] >= self.config.gap_look_s:
                end, keep = self._gap
                self._gap = None
                if not (keep and self._still_between(end, now)):
                    self._rotation_lost(end)
        self.tick(now)
        return self.state

    def update_pelvis(self, samples: ImuSamples) -> GuideState:
        """Process a batch of the pelvis sensor's samples (on the chest's clock; give them before the chest's batch
        of the same moment): the twist is split into the hips' turn on the seat and the spine's own."""
        if self._pelvis is None:
            self._pelvis = PelvisTracker()
        self._pelvis.update(samples)
        self._split_twist()
        return self.state

    def _split_twist(self) -> None:
        s = self.state
        if self._pelvis is None or self._last_data_t is None:
            return
        if self._pelvis_zero != self._pelvis_zero and self._pelvis_zero_s is not None:  # its bias came later
            self._pelvis_zero = self._pelvis.mean_heading_deg(self._pelvis_zero_s - 2.0, self._pelvis_zero_s)
        s.pelvis_twist_deg = self._pelvis.heading_deg(self._last_data_t) - self._pelvis_zero
        s.spine_twist_deg = s.twist_deg - s.pelvis_twist_deg

    def _gap_began(self, start: float, end: float) -> None:
        """Data is back after a drop-out from ``start`` to ``end`` (s) too long to fill in: was rotation lost in it?
        Judged once ``gap_look_s`` of data after it has come (:attr:`GuideConfig.gap_kept_s`)."""
        c, s = self.config, self.state
        # the person was to move a second or more before it began (may have, unseen; a prompt just before or during
        # it cannot have been followed far)
        prompted = s.phase in (Phase.TURN, Phase.RETURN) and self._phase_started < start - 1.0
        keep = end - start <= (c.gap_kept_prompted_s if prompted else c.gap_kept_s) and self._still_between(
            start - c.gap_look_s, start)
        self._gap = (end, keep)

    def _still_between(self, t0: float, t1: float) -> bool:
        """Whether the twist held still from ``t0`` to ``t1`` (s): its rate below ``settle_rate_deg_s`` (unknown
        without data there: not still)."""
        rows = self._recent[(self._recent[:, 0] >= t0) & (self._recent[:, 0] <= t1)]
        if len(rows) < 3 or rows[-1, 0] - rows[0, 0] < 0.5 * (t1 - t0):
            return False
        rate = float(np.polyfit(rows[:, 0] - rows[0, 0], rows[:, 1], 1)[0])
        return abs(rate) < self.config.settle_rate_deg_s

    def _rotation_lost(self, now: float) -> None:
        """The drop-out ending at ``now`` may have hidden rotation: in a turn or a return the twist is unknown; in a
        hold it goes on, but its end finds facing forward again (the return may have begun in it)."""
        if self.state.phase in (Phase.TURN, Phase.RETURN):
            self._angle_lost(now)
        elif self.state.phase is Phase.HOLD:
            self._hold_dropped = True

    def tick(self, now_s: float) -> GuideState:
        """Time passes (call regularly even when no data arrives, to notice a sensor drop-out)."""
        if self.state.phase is Phase.DONE:
            return self.state
        self.state.session_s = now_s
        if self._user_paused:
            self._last_t = now_s
            self._counted_to = max(self._counted_to, self._last_data_t or now_s)
            return self.state
        if self._last_data_t is not None and now_s - self._last_data_t > self.config.dropout_s:
            if not self.state.paused:
                self.state.paused = True
                self.state.timer_note = "Sensor lost: the timers wait until it is back"
                self._say(now_s, "paused", "Sensor lost: timers paused until it is back")
            self._last_t = now_s
            return self.state
        if self.state.phase is not Phase.CALIBRATE and self._last_t is not None:
            self._advance(now_s)
        self._last_t = now_s
        return self.state

    def toggle_pause(self, now_s: float) -> GuideState:
        """The person pauses (or resumes): timers stand still meanwhile."""
        s = self.state
        if s.phase is Phase.DONE:
            return s
        self._user_paused = not self._user_paused
        s.paused = self._user_paused
        s.timer_note = "Paused: resume when you are ready" if self._user_paused else ""
        self._say(now_s, "paused" if self._user_paused else "resume",
                  "Paused: press space to carry on" if self._user_paused else "Carry on")
        return s

    def skip(self, now_s: float) -> GuideState:
        """Skip ahead: end the hold now, end the rest now, or give up on this turn."""
        s = self.state
        if s.phase is Phase.HOLD:
            self._end_hold(now_s, early=True)
        elif s.phase in (Phase.TURN, Phase.RETURN):
            if s.phase is Phase.TURN:
                self._give_up_turn(twist_deg=0.0)
            s.phase, self._phase_started = Phase.REST, now_s - self.config.rest_s
            self._advance(now_s)
        elif s.phase is Phase.REST:
            self._phase_started = now_s - self.config.rest_s
            self._advance(now_s)
        return s

    def stop(self, now_s: float) -> GuideState:
        """The person ends the session (the data so far is kept)."""
        if self.state.phase is Phase.HOLD:
            self._end_hold(now_s, early=True)
        if self._tracker is not None:
            self._revise_holds()
        self._finish(now_s, "Session stopped")
        return self.state

    # --- calibration -------------------------------------------------------------------------------------------
    def _calibrate(self, samples: ImuSamples) -> None:
        c = self.config
        self._calibration.append(samples)
        data = ImuSamples.concatenate(self._calibration)
        keep = data.t_s >= data.t_s[-1] - c.calibrate_s
        window = data.slice(int(np.argmax(keep)), len(data))
        if data.t_s[-1] - data.t_s[0] < c.calibrate_s:
            return
        if still_mask(window, self._rest_params).mean() < 0.9:  # breathing is allowed; turning is not
            self._calibration = [window]  # not still yet: keep only the last window
            return
        try:
            self._tracker = RestTracker(window.rate_hz, self._rest_params, self._orientation_params,
                                        c.chest_normal_axis, GapParams().fill_max_s).start(window)
        except ImutrackError:
            self._calibration = []
            if "not worn" not in self._said:
                self._say(data.t_s[-1], "not worn", "The sensor does not seem to be worn on the chest (it lies flat): "
                          "strap it on the sternum and sit upright")
                self._said.add("not worn")
            return
        self._calibration = []
        self._say(data.t_s[-1], "calibrated", "Calibrated")
        self._rest_started_s = float(window.t_s[-1])  # sitting still on after calibrating is resting, too
        self._start_turn(data.t_s[-1])

    # --- tracking ----------------------------------------------------------------------------------------------
    def _track(self, samples: ImuSamples) -> None:
        tracked = self._tracker.track(samples)
        if tracked is None:
            return
        grid, twist, flexion, lean = tracked
        recent = np.vstack([self._recent, np.column_stack([grid.t_s, twist, flexion, lean])])
        self._recent = recent[np.searchsorted(recent[:, 0], grid.t_s[-1] - 20.0):]
        s = self.state
        s.twist_deg, s.flexion_deg, s.lean_deg = float(twist[-1]), float(flexion[-1]), float(lean[-1])
        self._split_twist()

    def _window(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of (t_s, twist, flexion, lean) rows."""
        rows = self._recent
        if not len(rows):
            return rows
        return rows[np.searchsorted(rows[:, 0], rows[-1, 0] - seconds):]

    def _still_for(self, seconds: float) -> bool:
        """Whether the twist has stayed within ``rest_still_range_deg`` over the last ``seconds``."""
        w = self._window(seconds)
        return len(w) > 3 and w[-1, 0] - w[0, 0] >= 0.9 * seconds and np.ptp(w[:, 1]) < self.config.rest_still_range_deg

    def _rate(self) -> float:
        w = self._window(0.5)
        if len(w) < 3 or w[-1, 0] - w[0, 0] <= 0:
            return 0.0
        return float(np.polyfit(w[:, 0] - w[0, 0], w[:, 1], 1)[0])

    # --- phases ------------------------------------------------------------------------------------------------
    def _sign(self) -> float:
        return 1.0 if self.state.side == "left" else -1.0

    def _start_turn(self, now: float) -> None:
        s = self.state
        self._pelvis_zero_s = now  # the rest ends facing forward: where the hips are now is their zero
        if self._pelvis is not None:
            self._pelvis_zero = self._pelvis.mean_heading_deg(now - 2.0, now)
            self._split_twist()
        s.phase, s.rep = Phase.TURN, self._reps_done[s.side] + 1
        self._phase_started = self._turn_started_s = now
        self._said.discard("no hold")
        s.prompt = f"Turn to the {s.side} as far as is comfortable, and stay there"
        self._say(now, "turn", s.prompt)

    def _advance(self, now: float) -> None:
        s, c = self.state, self.config
        if self._gap is not None:  # until the data after a drop-out tells whether rotation was lost, nothing moves on
            return
        data_now = now if self._last_data_t is None else min(now, self._last_data_t)
        dt = max(0.0, data_now - self._counted_to)  # a hold counts the seconds the data shows, not the clock's
        self._counted_to = max(self._counted_to, data_now)
        sign = self._sign()
        toward = sign * s.twist_deg
        if s.phase is Phase.TURN:
            if toward < -c.excursion_deg:
                self._cue(now, "wrong way", True, f"Other way: turn to the {s.side}", grace=1.0)
            elif toward > c.excursion_deg and abs(self._rate()) < c.settle_rate_deg_s:
                if not self._rest_measured:
                    toward -= sign * self._measure_rest(now)
                self._rest_measured = False
                s.phase, self._phase_started = Phase.HOLD, now
                s.hold_counted_s, self._hold_start_twist, self._praised = 0.0, toward, False
                self._hold_sum, self._hold_time, self._hold_started_s, self._hold_gap_s = 0.0, 0.0, now, 0.0
                s.hold_remaining_s, s.rep_twist_deg, s.timer_note = c.hold_s, toward, ""
                self._pelvis_at_hold = s.pelvis_twist_deg
                self._since.clear()
                s.prompt = f"Hold, breathe deeply and relax into it: {c.hold_s:.0f} s"
                self._say(now, "hold", s.prompt)
            elif now - self._phase_started > c.no_hold_after_s and "no hold" not in self._said:
                self._said.add("no hold")
                self._say(now, "no hold", "No hold yet: turn, then pause at the end of the range")
        elif s.phase is Phase.HOLD:
            if toward < 0.5 * self._hold_start_twist:
                self._end_hold(now, early=True)
                return
            slouching = s.flexion_deg > c.slouch_deg
            leaning = abs(s.lean_deg) > c.lean_deg
            last_2s = self._window(2.0)
            bouncing = bool(len(last_2s) > 3 and np.abs(np.gradient(last_2s[:, 1], last_2s[:, 0])).max()
                            > c.bounce_rate_deg_s)
            breath = self._window(min(20.0, now - self._phase_started))  # this hold's breathing only
            shallow = len(breath) > 10 and breath[-1, 0] - breath[0, 0] > 15.0 and float(
                np.std(breath[:, 2] - np.polyval(np.polyfit(breath[:, 0], breath[:, 2], 1), breath[:, 0]))
            ) < c.shallow_breath_deg
            self._cue(now, "slouch", slouching, CUE_TEXTS["slouch"])
            self._cue(now, "lean", leaning, CUE_TEXTS["lean"])
            self._cue(now, "bounce", bouncing, CUE_TEXTS["bounce"])
            self._cue(now, "breath", shallow, CUE_TEXTS["breath"])
            hips = abs(s.pelvis_twist_deg - self._pelvis_at_hold) > c.hips_moved_deg  # (false without a pelvis)
            self._cue(now, "hips", hips, CUE_TEXTS["hips"], grace=1.0)
            self._hold_sum, self._hold_time = self._hold_sum + toward * dt, self._hold_time + dt
            s.rep_twist_deg = self._hold_sum / self._hold_time if self._hold_time > 0 else toward
            form_ok = not (slouching or bouncing)
            if form_ok or not c.strict_form:
                s.hold_counted_s += dt
                s.timer_note = ""
            else:
                s.timer_note = "Timer paused: " + ("sit tall" if slouching else "relax, don't bounce")
            before = s.hold_remaining_s
            s.hold_remaining_s = max(0.0, c.hold_s - s.hold_counted_s)
            # "N seconds to go" when the countdown crosses a multiple of 10 s (not before)
            mark = int(np.ceil(s.hold_remaining_s / 10.0 - 1e-9))
            if 0 < mark < int(np.ceil(before / 10.0 - 1e-9)):
                self._say(now, "tick", f"{mark * 10} seconds to go")
            if not self._praised and not bouncing and toward - self._hold_start_twist >= c.creep_praise_deg:
                self._praised = True
                self._say(now, "praise", "Good: you are relaxing into it")
            if s.hold_counted_s >= c.hold_s:
                self._end_hold(now, early=False)
        elif s.phase is Phase.RETURN:
            if self._angle_lost_at is not None:  # facing forward is where the person keeps still after the prompt
                back = now - self._angle_lost_at >= c.resync_after_s + c.resync_still_s and self._still_for(
                    c.resync_still_s)
            else:
                back = abs(s.twist_deg) < c.facing_forward_deg
            if back:
                s.phase, self._phase_started, self._rest_started_s = Phase.REST, now, now
                s.prompt = "Rest, facing forward"
                self._say(now, "rest", s.prompt)
                if not self._placement_known:
                    self._check_placement(now)
        elif s.phase is Phase.REST:
            s.rest_remaining_s = max(0.0, c.rest_s - (now - self._phase_started))
            if s.rest_remaining_s <= 0.0:
                self._rest_lost, self._angle_lost_at = self._angle_lost_at is not None, None
                if all(n >= c.reps_per_side for n in self._reps_done.values()):
                    self._measure_rest(now)  # the last rest: its rate and level tell about the last hold
                    self._finish(now, "Well done: session complete")
                else:
                    if self._rest_lost:
                        # After a drop-out the twist is off by the rotation lost: facing forward is this rest, now,
                        # before the turn is judged (else the lost rotation reads as a turn already held).
                        self._measure_rest(now)
                        self._rest_measured = True
                    other = "right" if s.side == "left" else "left"
                    s.side = other if self._reps_done[other] < c.reps_per_side else s.side
                    self._start_turn(now)

    def _measure_rest(self, now: float) -> float:
        """The turn has reached its hold: the rest before it (from when it began to the turn) is measured as the
        analysis does — its level over its last still seconds before the turn becomes facing forward, and the bias is
        fitted again on every rest so far. Returns how far facing forward moved, °."""
        lost, self._rest_lost = self._rest_lost, False
        moved = self._tracker.end_rest(self._rest_started_s, now, trusted=lost,
                                       away_deg=self.config.facing_forward_deg) or 0.0
        if not lost and abs(moved) > self.config.facing_forward_deg:  # the second rest after a drop-out: said
            self._say(now, "note", f"Facing forward measured again after the sensor was lost: the angles moved by "
                                   f"{abs(moved):.0f}°")
        if moved:
            self._recent[:, 1] -= moved
            self.state.twist_deg -= moved
        self._revise_holds()
        return moved

    def _revise_holds(self) -> None:
        """Each hold's angle again with the bias fitted on every rest so far (:meth:`RestTracker.held_twist_deg`),
        and today's best per side from them."""
        s = self.state
        for hold in s.holds:
            if "start_s" in hold:
                held = self._tracker.held_twist_deg(hold["start_s"], hold["end_s"])
                if held is not None:
                    hold["twist_deg"] = round(held * (1.0 if hold["side"] == "left" else -1.0), 2)
        for side in ("left", "right"):
            s.best_twist_deg[side] = max([h["twist_deg"] for h in s.holds if h["side"] == side
                                          and h["twist_deg"] == h["twist_deg"]], default=0.0)

    def _angle_lost(self, now: float) -> None:
        """A drop-out during a turn or a return lost the rotation done meanwhile, so the twist is unknown until the
        person faces forward again: the rep ends here (a turn's angle unknown), and the next still moment after the
        prompt is taken as facing forward."""
        s = self.state
        if s.phase is Phase.TURN:
            self._give_up_turn(twist_deg=float("nan"))
        s.phase, self._phase_started, self._angle_lost_at = Phase.RETURN, now, now
        self._clear_cues()
        s.prompt = "Sensor back, but the angle was lost: come back to face forward and keep still"
        self._say(now, "angle lost", s.prompt)

    def _check_placement(self, now: float) -> None:
        """After a rep, whether the sensor faces into the chest (its turns tell); if so, its back is taken as the
        front from now on, and the person is told (:mod:`imutrack.placement`)."""
        placement = self._tracker.placement(self._turn_started_s, now)
        if placement.facing == "unknown":
            return
        self._placement_known = True
        if placement.facing == "inward":
            self._tracker.face_the_other_way()
            self.state.facing_inward = True
            self._say(now, "note", "The sensor seems to face into your chest: its back is taken as the front from now "
                                   "on. Next time, wear it facing outward")

    def _give_up_turn(self, twist_deg: float) -> None:
        """This side's rep ends during its turn, with no hold counted (``twist_deg`` nan: the angle was lost)."""
        s = self.state
        self._reps_done[s.side] += 1
        s.holds.append(dict(side=s.side, rep=s.rep, counted_s=0.0, twist_deg=twist_deg, early=True))

    def _end_hold(self, now: float, early: bool) -> None:
        s = self.state
        held = self._hold_sum / self._hold_time if self._hold_time > 0 else float("nan")
        if held == held:
            s.best_twist_deg[s.side] = max(s.best_twist_deg[s.side], held)
        s.holds.append(dict(side=s.side, rep=s.rep, counted_s=round(s.hold_counted_s, 2), twist_deg=round(held, 2),
                            early=early, start_s=self._hold_started_s, end_s=now))
        if self._hold_gap_s > 0:  # the rotation in a drop-out is not seen: the live angle may be off by a degree or two
            s.holds[-1]["gap_s"] = round(self._hold_gap_s, 1)
        if self._hold_dropped:  # the return may have begun in the drop-out: facing forward is taken as in a resync
            self._hold_dropped, self._angle_lost_at = False, now
        self._reps_done[s.side] += 1
        s.phase, self._phase_started = Phase.RETURN, now
        self._clear_cues()
        s.rep_twist_deg, s.timer_note = float("nan"), ""
        s.prompt = (f"Hold ended early, {s.hold_counted_s:.0f} of {self.config.hold_s:.0f} s counted; slowly return "
                    "to face forward" if early else "Done: slowly return to face forward")
        self._say(now, "hold end", s.prompt)

    def _finish(self, now: float, text: str) -> None:
        s = self.state
        s.phase, s.prompt, s.timer_note = Phase.DONE, text, ""
        self._clear_cues()
        self._say(now, "done", text)

    def _clear_cues(self) -> None:
        self.state.cues, self.state.cue_texts = [], []

    def _cue(self, now: float, name: str, active: bool, text: str, grace: float | None = None) -> None:
        """Give a cue once its condition has lasted the grace period; withdraw it when the condition ends."""
        s = self.state
        if not active:
            self._since.pop(name, None)
            if name in s.cues:
                del s.cue_texts[s.cues.index(name)]
                s.cues.remove(name)
            return
        started = self._since.setdefault(name, now)
        if name not in s.cues and now - started >= (self.config.cue_grace_s if grace is None else grace):
            s.cues.append(name)
            s.cue_texts.append(text)
            self._say(now, "cue", text)

    def _say(self, t: float, kind: str, text: str) -> None:
        self.events.append(Event(float(t), kind, text))

    def asks(self, since: int = 0) -> list[tuple[str, float, str | None]]:
        """What the events from number ``since`` on ask of the person: ("turn", time s, side), ("return", time s,
        None) — come back to face forward — or ("relax", time s, None) — stop bouncing (what a simulated person
        who follows the guide takes, :func:`imutrack.sources.simulator.follow`)."""
        out = []
        for event in self.events[since:]:
            if event.kind == "turn":
                out.append(("turn", event.t_s, self.state.side))
            elif event.kind in ("hold end", "angle lost"):
                out.append(("return", event.t_s, None))
            elif event.kind == "cue" and event.text == CUE_TEXTS["bounce"]:
                out.append(("relax", event.t_s, None))
        return out

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events
