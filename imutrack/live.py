"""The guided live session as a pure state machine: fed samples and time, it tells what to show and say.

Phases follow the exercise: **calibrate** (sit upright, facing forward, still) → **turn** to one side as far as is
comfortable → **hold** (a countdown that starts when the end of range is reached and, by default, counts only while
the form is right: upright, not bouncing) → **return** to face forward → **rest** → the other side … → **done**.

At the end of each rest the posture held still is taken as the new "facing forward" (as the analysis does), so a
shift on the seat between sides is not counted as twist, and the gyro bias is measured again on the rest's still
seconds: a sensor warming up on the chest moves its bias by hundredths of a °/s over the first minutes, which would
bend the live twist by degrees within a single hold. Each new measurement is blended with the current bias by its
uncertainty (a scalar Kalman update per axis), and one far off what a bias can do meanwhile is not taken.

Cues (slouching, leaning, bouncing, shallow or held breath) need their condition to last ``cue_grace_s`` before they
are given, so normal small shifts of position are not nagged about; encouragement is given when the angle creeps up
in a relaxed hold. Nothing here draws or plays anything: views (``imutrack live``) render :class:`GuideState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from imutrack.errors import ImutrackError
from imutrack.gaps import GapParams
from imutrack.orientation import BiasModel, OrientationEstimator, OrientationParams, still_bias, still_stretches
from imutrack.samples import ImuSamples
from imutrack.trunk import forward_at_neutral, trunk_angles_deg


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
    calibrate_s: float = 4.0
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
    rest_steady_deg: float = 0.2
    bias_drift_deg_s_per_s: float = 0.001
    resync_after_s: float = 2.0
    resync_still_s: float = 3.0
    bias_motion_sd_deg_s: float = 0.02


@dataclass
class GuideState:
    """What a view shows. Angles in degrees relative to neutral (twist + = left); times in s."""

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
    paused: bool = False
    holds: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    """Something to announce (shown in plain mode, spoken or sounded): kind and text, at time ``t_s``."""

    t_s: float
    kind: str
    text: str


class Guide:
    """Feed it with :meth:`update` (sample batches) and :meth:`tick` (time passing with or without data)."""

    def __init__(self, config: GuideConfig | None = None, orientation: OrientationParams | None = None):
        self.config = config or GuideConfig()
        self.state = GuideState(side=self.config.first_side)
        self.events: list[Event] = []
        self._orientation_params = orientation or OrientationParams()
        self._calibration: list[ImuSamples] = []
        self._estimator: OrientationEstimator | None = None
        self._q0: np.ndarray | None = None
        self._forward: np.ndarray | None = None
        self._recent = np.zeros((0, 4))  # (t_s, twist, flexion, lean) of the last 20 s
        self._facing_deg = 0.0  # twist (from the calibration) of the latest rest: the current "facing forward"
        self._last_t = None
        self._last_data_t = None
        self._phase_started = 0.0
        self._hold_start_twist = 0.0
        self._since: dict[str, float] = {}
        self._said: set[str] = set()
        self._praised = False
        self._reps_done = {"left": 0, "right": 0}
        self._user_paused = False
        self._rest_samples: list[ImuSamples] = []  # raw samples of the current rest, for the bias
        self._last_sample: ImuSamples | None = None  # the latest sample tracked, to interpolate from
        self._next_grid_t = 0.0  # the next time on the fixed-rate grid the estimator is fed on, s
        self._dropped = False  # data came back after a drop-out too long to bridge
        self._angle_lost_at: float | None = None  # when a drop-out in a rep made the twist unknown, s
        self._hold_dropped = False  # a drop-out during this hold: had the return begun meanwhile, the twist is off
        self._bias_var = np.zeros(3)  # variance of the current bias estimate per axis, (rad/s)²
        self._bias_t = 0.0  # when the bias was last measured, s
        self._say(0.0, "prompt", self.state.prompt)

    # --- input -------------------------------------------------------------------------------------------------
    def update(self, samples: ImuSamples) -> GuideState:
        """Process a batch of samples (times in s, increasing across calls)."""
        if len(samples) == 0 or self.state.phase is Phase.DONE:
            return self.state
        now = float(samples.t_s[-1])
        if self.state.paused and not self._user_paused:
            self.state.paused = False
            self._say(float(samples.t_s[0]), "resume", "Sensor back; carry on")
        self._last_data_t = now
        if self.state.phase is Phase.CALIBRATE:
            self._calibrate(samples)
        else:
            self._track(samples)
            if self._dropped:
                self._dropped = False
                if self.state.phase in (Phase.TURN, Phase.RETURN):
                    self._angle_lost(float(samples.t_s[0]))
                elif self.state.phase is Phase.HOLD:  # little rotation is lost while holding; the hold goes on
                    self._hold_dropped = True
            if self.state.phase is Phase.REST:
                self._rest_samples.append(samples)
        self.tick(now)
        return self.state

    def tick(self, now_s: float) -> GuideState:
        """Time passes (call regularly even when no data arrives, to notice a sensor drop-out)."""
        if self.state.phase is Phase.DONE:
            return self.state
        if self._user_paused:
            self._last_t = now_s
            return self.state
        if self._last_data_t is not None and now_s - self._last_data_t > self.config.dropout_s:
            if not self.state.paused:
                self.state.paused = True
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
                self._give_up_turn(best_twist_deg=0.0)
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
        gyr_sd = np.degrees(window.gyr_rad_s.std(axis=0)).max()
        acc_sd = window.acc_m_s2.std(axis=0).max()
        p = self._orientation_params
        if gyr_sd > p.still_gyr_sd_deg_s or acc_sd > p.still_acc_sd_m_s2:
            self._calibration = [window]  # not still yet: keep only the last window
            return
        bias = BiasModel(np.array([window.t_s.mean()]), window.gyr_rad_s.mean(axis=0)[None, :])
        self._estimator = OrientationEstimator(window.rate_hz, p, bias)
        _, standard_error = still_bias(window, (0, len(window)))
        self._bias_var = standard_error**2 + np.radians(c.bias_motion_sd_deg_s) ** 2
        self._bias_t = float(window.t_s.mean())
        quats = self._estimator.update(data).quat_wxyz_
        tail = quats[-max(1, len(quats) // 4):]
        q0 = tail.mean(axis=0)
        self._q0 = q0 / np.linalg.norm(q0)
        try:
            self._forward = forward_at_neutral(self._q0, c.chest_normal_axis)
        except ImutrackError:
            self._calibration = []
            self._estimator = None
            if "not worn" not in self._said:
                self._say(data.t_s[-1], "not worn", "The sensor does not seem to be worn on the chest (it lies flat): "
                          "strap it on the sternum and sit upright")
                self._said.add("not worn")
            return
        self._calibration = []
        self._say(data.t_s[-1], "calibrated", "Calibrated")
        self._start_turn(data.t_s[-1])

    # --- tracking ----------------------------------------------------------------------------------------------
    def _regular(self, samples: ImuSamples) -> ImuSamples | None:
        """The batch on a grid at the estimator's fixed rate, continuing the previous batch's (None: no grid time in
        it yet). Orientation integrates every sample over that step: a phone's sensor events, which come when the
        system delivers them, and a few lost packets would otherwise bend the twist by degrees
        (:func:`imutrack.gaps.regularise` does the same for a whole recording)."""
        dt, fill_max_s = 1.0 / self._estimator.sample_rate_hz, GapParams().fill_max_s
        previous, self._last_sample = self._last_sample, samples.slice(len(samples) - 1, len(samples))
        gap = samples.t_s[0] - previous.t_s[-1] if previous is not None else -1.0
        if 0.0 < gap <= fill_max_s:
            start, known = self._next_grid_t, ImuSamples.concatenate([previous, samples])
        else:  # the first batch, data given again, or a long drop-out: the grid starts again here
            start, known = float(samples.t_s[0]), samples
            self._dropped = self._dropped or gap > fill_max_s
        count = int(np.floor((samples.t_s[-1] - start) / dt + 1e-6)) + 1
        if count < 1:
            return None
        grid = start + dt * np.arange(count)
        self._next_grid_t = float(grid[-1] + dt)

        def at(values: np.ndarray) -> np.ndarray:
            return np.column_stack([np.interp(grid, known.t_s, values[:, k]) for k in range(3)])

        return ImuSamples(grid, at(known.gyr_rad_s), at(known.acc_m_s2),
                          None if known.mag_uT is None else at(known.mag_uT))

    def _track(self, samples: ImuSamples) -> None:
        samples = self._regular(samples)
        if samples is None:
            return
        quats = self._estimator.update(samples).quat_wxyz_
        twist, flexion, lean = trunk_angles_deg(quats, self._q0, self._forward)
        twist = twist - self._facing_deg
        recent = np.vstack([self._recent, np.column_stack([samples.t_s, twist, flexion, lean])])
        self._recent = recent[np.searchsorted(recent[:, 0], samples.t_s[-1] - 20.0):]
        s = self.state
        s.twist_deg, s.flexion_deg, s.lean_deg = float(twist[-1]), float(flexion[-1]), float(lean[-1])

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
        s.phase, s.rep = Phase.TURN, s.rep + 1
        self._phase_started = now
        self._said.discard("no hold")
        s.prompt = f"Turn to the {s.side} as far as is comfortable, and stay there"
        self._say(now, "turn", s.prompt)

    def _advance(self, now: float) -> None:
        s, c = self.state, self.config
        dt = max(0.0, now - self._last_t)
        sign = self._sign()
        toward = sign * s.twist_deg
        if s.phase is Phase.TURN:
            if toward < -c.excursion_deg:
                self._cue(now, "wrong way", True, f"Other way: turn to the {s.side}", grace=1.0)
            elif toward > c.excursion_deg and abs(self._rate()) < c.settle_rate_deg_s:
                s.phase, self._phase_started = Phase.HOLD, now
                s.hold_counted_s, self._hold_start_twist, self._praised = 0.0, toward, False
                s.hold_remaining_s = c.hold_s
                self._since.clear()
                s.prompt = f"Hold, breathe deeply and relax into it: {c.hold_s:.0f} s"
                self._say(now, "hold", s.prompt)
            elif now - self._phase_started > c.no_hold_after_s and "no hold" not in self._said:
                self._said.add("no hold")
                self._say(now, "no hold", "No hold yet: turn, then pause at the end of the range")
        elif s.phase is Phase.HOLD:
            s.best_twist_deg[s.side] = max(s.best_twist_deg[s.side], toward)
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
            self._cue(now, "slouch", slouching, "Sit tall: you are slouching")
            self._cue(now, "lean", leaning, "Keep level: you are leaning to the side")
            self._cue(now, "bounce", bouncing, "Don't bounce: relax into the hold")
            self._cue(now, "breath", shallow, "Breathe deeply and slowly")
            form_ok = not (slouching or bouncing)
            if form_ok or not c.strict_form:
                s.hold_counted_s += dt
            s.hold_remaining_s = max(0.0, c.hold_s - s.hold_counted_s)
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
                s.phase, self._phase_started = Phase.REST, now
                s.prompt = "Rest, facing forward"
                self._say(now, "rest", s.prompt)
        elif s.phase is Phase.REST:
            s.rest_remaining_s = max(0.0, c.rest_s - (now - self._phase_started))
            if s.rest_remaining_s <= 0.0:
                self._refresh_bias()
                self._recheck_forward()
                if all(n >= c.reps_per_side for n in self._reps_done.values()):
                    self._finish(now, "Well done: session complete")
                else:
                    other = "right" if s.side == "left" else "left"
                    s.side = other if self._reps_done[other] < c.reps_per_side else s.side
                    self._start_turn(now)

    def _refresh_bias(self) -> None:
        """Measure the gyro bias again on the last still stretch of the rest and blend it with the current one."""
        c = self.config
        rest, self._rest_samples = self._rest_samples, []
        if not rest or self._estimator is None:
            return
        data = ImuSamples.concatenate(rest)
        if len(data) < 10:
            return
        stretches = still_stretches(data, self._orientation_params)
        if not stretches:
            return
        stretch = self._steady_tail(data, stretches[-1])
        if stretch is None:
            return
        measured, standard_error = still_bias(data, stretch)
        t_measured = float(data.t_s[stretch[0]:stretch[1]].mean())
        current = self._estimator.bias.at(np.array([t_measured]))[0]
        # Between measurements the bias may have moved by up to the drift rate × the time since (process noise).
        prior_var = self._bias_var + (np.radians(c.bias_drift_deg_s_per_s) * (t_measured - self._bias_t)) ** 2
        measured_var = standard_error**2 + np.radians(c.bias_motion_sd_deg_s) ** 2
        if (np.abs(measured - current) > 4.0 * np.sqrt(prior_var + measured_var)).any():
            return  # slow movement, not a bias: keep the current one
        gain = prior_var / (prior_var + measured_var)
        self._estimator.bias = BiasModel(np.array([t_measured]), (current + gain * (measured - current))[None, :])
        self._bias_var = (1.0 - gain) * prior_var
        self._bias_t = t_measured

    def _steady_tail(self, data: ImuSamples, stretch: tuple[int, int]) -> tuple[int, int] | None:
        """The end of a still stretch over which the twist follows a straight line (what a bias error does) within
        ``rest_steady_deg``: a small shift on the seat passes the stillness test, but not this. None if shorter than
        the orientation's ``still_min_s``."""
        c, p = self.config, self._orientation_params
        a, b = stretch
        t = data.t_s
        rows = self._recent[np.searchsorted(self._recent[:, 0], t[a]):np.searchsorted(self._recent[:, 0], t[b - 1],
                                                                                          side="right")]
        step = max(1, int(round(0.5 * data.rate_hz)))
        for start in range(a, b, step):
            if t[b - 1] - t[start] < p.still_min_s:
                return None
            tail = rows[rows[:, 0] >= t[start]]
            if len(tail) < 3:
                return None
            line = np.polyval(np.polyfit(tail[:, 0] - tail[0, 0], tail[:, 1], 1), tail[:, 0] - tail[0, 0])
            if np.abs(tail[:, 1] - line).max() <= c.rest_steady_deg:
                return start, b
        return None

    def _recheck_forward(self) -> None:
        """At the end of a rest, the posture held still over its last second or more is the new facing forward: a
        shift on the seat (the whole body turning) is not a twist, and heading drift is reset."""
        c = self.config
        w = self._window(c.rest_s)
        if len(w) < 5:
            return
        settled = float(np.median(w[w[:, 0] >= w[-1, 0] - 0.5, 1]))
        away = np.flatnonzero(np.abs(w[:, 1] - settled) > c.rest_still_range_deg)
        tail = w[away[-1] + 1:] if len(away) else w
        lost, self._angle_lost_at = self._angle_lost_at is not None, None
        if len(tail) < 3 or tail[-1, 0] - tail[0, 0] < c.rest_still_s or (
                abs(settled) > c.facing_forward_deg and not lost):
            return  # still moving, or not facing forward: keep the previous reference
        offset = float(np.median(tail[:, 1]))
        self._facing_deg += offset
        self._recent[:, 1] -= offset
        self.state.twist_deg -= offset

    def _angle_lost(self, now: float) -> None:
        """A drop-out during a turn or a return lost the rotation done meanwhile, so the twist is unknown until the
        person faces forward again: the rep ends here (a turn's angle unknown), and the next still moment after the
        prompt is taken as facing forward."""
        s = self.state
        if s.phase is Phase.TURN:
            self._give_up_turn(best_twist_deg=float("nan"))
        s.phase, self._phase_started, self._angle_lost_at = Phase.RETURN, now, now
        s.cues = []
        s.prompt = "Sensor back, but the angle was lost: come back to face forward and keep still"
        self._say(now, "angle lost", s.prompt)

    def _give_up_turn(self, best_twist_deg: float) -> None:
        """This side's rep ends during its turn, with no hold counted."""
        s = self.state
        self._reps_done[s.side] += 1
        s.holds.append(dict(side=s.side, rep=s.rep, counted_s=0.0, best_twist_deg=best_twist_deg, early=True))

    def _end_hold(self, now: float, early: bool) -> None:
        s = self.state
        s.holds.append(dict(side=s.side, rep=s.rep, counted_s=round(s.hold_counted_s, 2),
                            best_twist_deg=round(s.best_twist_deg[s.side], 1), early=early))
        if self._hold_dropped:  # the return may have begun in the drop-out: facing forward is taken as in a resync
            self._hold_dropped, self._angle_lost_at = False, now
        self._reps_done[s.side] += 1
        s.phase, self._phase_started = Phase.RETURN, now
        s.cues = []
        s.prompt = (f"Hold ended early, {s.hold_counted_s:.0f} of {self.config.hold_s:.0f} s counted; slowly return "
                    "to face forward" if early else "Done: slowly return to face forward")
        self._say(now, "hold end", s.prompt)

    def _finish(self, now: float, text: str) -> None:
        s = self.state
        s.phase, s.prompt, s.cues = Phase.DONE, text, []
        self._say(now, "done", text)

    def _cue(self, now: float, name: str, active: bool, text: str, grace: float | None = None) -> None:
        """Give a cue once its condition has lasted the grace period; withdraw it when the condition ends."""
        s = self.state
        if not active:
            self._since.pop(name, None)
            if name in s.cues:
                s.cues.remove(name)
            return
        started = self._since.setdefault(name, now)
        if name not in s.cues and now - started >= (self.config.cue_grace_s if grace is None else grace):
            s.cues.append(name)
            self._say(now, "cue", text)

    def _say(self, t: float, kind: str, text: str) -> None:
        self.events.append(Event(float(t), kind, text))

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events
