"""Physically exact simulator of seated-twist sessions, with ground truth.

The simulator first builds the *trunk's* motion as smooth functions of time — twist about vertical, flexion
(slouch) and lateral lean relative to neutral, breathing — then derives what a sternum-worn IMU measures:

* orientation of the sensor: ``q_sensor(t) = q_trunk(t) ⊗ q_breath(t) ⊗ q_mount`` (wxyz, sensor → earth), where
  ``q_trunk = Rz(heading + twist) ⊗ swing(flexion, lean)`` with the swing about the trunk's neutral forward/left axes
  and ``q_breath`` the small pitch of the sternum with each breath;
* gyroscope: the angular rate of the sensor in its own frame. Sample ``k`` is the *mean* rate over
  ``[t_k, t_k+1)``: the rotation vector of ``q_k⁻¹ ⊗ q_k+1`` divided by the sample interval (what a gyro with an
  averaging low-pass filter delivers). Strapdown integration of the noiseless gyro is therefore exact;
* accelerometer: specific force ``R⁻¹ (a − g)`` in the sensor frame at ``t_k``, with ``a`` the second derivative of
  the sensor's position (sternum on a lever arm from the lumbar pivot, plus chest-wall breathing motion);
* optional magnetometer: a homogeneous earth field rotated into the sensor frame;
* MEMS errors: white noise, turn-on bias and bias random walk, scale and cross-axis errors (gyro and acc).

All angle profiles are sums of minimum-jerk steps and smoothly windowed sines, so they are C2-smooth and can be
evaluated at any sample rate; a session simulated at 25 Hz and at 1 kHz is the same motion.

Sign conventions (``docs/frames.md``): earth z up; twist + = to the left (counter-clockwise seen from above);
flexion + = forward (slouching); lean + = to the left.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from imutrack import quaternion
from imutrack.errors import ImutrackError
from imutrack.frames import GRAVITY_M_S2, MOVEMENT_ONSET_FRACTION, axis_vector
from imutrack.recording import RecordingMeta
from imutrack.samples import ImuSamples

_DIFF_STEP_S = 1e-4  # central-difference step for the sensor's linear acceleration


def min_jerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk step 10u³ − 15u⁴ + 6u⁵ for u clipped to [0, 1]: zero rate and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _min_jerk_integral(u: np.ndarray) -> np.ndarray:
    """∫₀ᵘ min_jerk for u in [0, 1]; for u > 1 it continues with slope 1."""
    v = np.clip(u, 0.0, 1.0)
    inside = v**4 * (2.5 + v * (-3.0 + v))
    return inside + np.maximum(u - 1.0, 0.0)


@dataclass(frozen=True)
class Step:
    """A smooth change by ``delta`` starting at ``t0_s`` and lasting ``duration_s`` (minimum-jerk)."""

    t0_s: float
    duration_s: float
    delta: float


@dataclass(frozen=True)
class Wave:
    """A sine ``amplitude·sin(2π f (t − t0) + phase)`` on ``[t0_s, t1_s)``, faded in and out over ``fade_s``."""

    t0_s: float
    t1_s: float
    amplitude: float
    freq_hz: float
    phase_rad: float = 0.0
    fade_s: float = 2.0


@dataclass
class Profile:
    """A scalar signal of time: ``base`` plus smooth steps plus faded waves. C2-smooth everywhere."""

    base: float = 0.0
    steps: list[Step] = field(default_factory=list)
    waves: list[Wave] = field(default_factory=list)

    def __call__(self, t_s: np.ndarray) -> np.ndarray:
        """Value at sorted times ``t_s`` (s). Cost is O(N + samples inside steps and waves)."""
        out = np.full(len(t_s), self.base, dtype=np.float64)
        settled = np.zeros(len(t_s) + 1)
        for step in self.steps:
            i0, i1 = np.searchsorted(t_s, [step.t0_s, step.t0_s + step.duration_s])
            out[i0:i1] += step.delta * min_jerk((t_s[i0:i1] - step.t0_s) / step.duration_s)
            settled[i1] += step.delta
        out += np.cumsum(settled)[:-1]
        for wave in self.waves:
            i0, i1 = np.searchsorted(t_s, [wave.t0_s, wave.t1_s])
            t = t_s[i0:i1]
            fade = min_jerk((t - wave.t0_s) / wave.fade_s) * min_jerk((wave.t1_s - t) / wave.fade_s)
            out[i0:i1] += fade * wave.amplitude * np.sin(2 * np.pi * wave.freq_hz * (t - wave.t0_s) + wave.phase_rad)
        return out

    def integral(self, t_s: np.ndarray) -> np.ndarray:
        """∫₀ᵗ of the base and steps (waves excluded), at sorted times ``t_s`` ≥ 0."""
        out = self.base * np.asarray(t_s, dtype=np.float64)
        for step in self.steps:
            out += step.delta * step.duration_s * _min_jerk_integral((t_s - step.t0_s) / step.duration_s)
        return out


@dataclass
class ImuErrorModel:
    """MEMS sensor errors. Defaults are typical of a consumer 6-axis IMU (e.g. Bosch BMI270 datasheet: gyro noise
    0.008 °/s/√Hz, acc noise 160 µg/√Hz; turn-on gyro offsets of tenths of a °/s).

    Biases are drawn per axis, uniformly in ±max, from the simulator's random generator.

    Warm-up: a sensor strapped to the chest warms by several kelvin over its first minutes, and its zero-rate level
    follows (MEMS datasheets put the change of the order of 0.01 °/s per K). Modelled as a bias that moves by
    ``gyr_warmup_max_deg_s`` at most per axis (drawn uniformly in ±max) along ``1 − exp(−t / gyr_warmup_tau_s)``.
    It is drawn from a generator of its own, so turning it on leaves every other draw of a seed unchanged.
    """

    gyr_noise_deg_s_rthz: float = 0.007
    gyr_bias_max_deg_s: float = 0.3
    gyr_bias_walk_deg_s_rts: float = 2e-4
    gyr_warmup_max_deg_s: float = 0.0
    gyr_warmup_tau_s: float = 300.0
    gyr_scale_max: float = 0.005
    gyr_cross_axis_max: float = 0.005
    acc_noise_ug_rthz: float = 150.0
    acc_bias_max_m_s2: float = 0.15
    acc_scale_max: float = 0.01
    acc_cross_axis_max: float = 0.005
    mag_noise_uT: float = 0.3
    mag_hard_iron_max_uT: float = 0.0

    @classmethod
    def ideal(cls) -> ImuErrorModel:
        """No noise, no bias, no scale or cross-axis error."""
        return cls(*(0.0 for _ in fields(cls)))


@dataclass
class SimulatorConfig:
    """One simulated session. Angles in degrees, times in seconds. Random choices come from ``seed``.

    The session: ``neutral_s`` sitting still and upright, then ``reps_per_side`` repetitions alternating sides, each
    a turn (``turn_s``), a hold (``hold_s`` ± ``hold_jitter_s``, at most ±10 %) that creeps, sways and trembles, a return
    (``return_s``) and a rest facing forward (``rest_s``); ``end_rest_s`` still at the end.

    ``seat_shift_deg``: early in each rest the person may shift on the seat, turning the whole body (pelvis and
    trunk together) about vertical by up to this much (uniform, either way); the twist is the trunk's rotation
    relative to the pelvis, so the truth twist is unaffected while the sensor's heading moves. 0 (the default) draws
    nothing, so sessions without shifts are unchanged.

    ``settle_deg``: a return stops short of facing forward, or beyond it, by up to this much (uniform, either way),
    and the person settles back to face forward slowly over the rest that follows (a minimum-jerk drift over 60–95 %
    of it: 0.1–0.3 °/s for a degree or two, as people do). The truth twist includes it; each rest ends facing forward.
    0 (the default) draws nothing.

    ``hold_s`` of 0 makes quick turns: out and straight back, with no hold (no creep, sway, bouncing or slouching).

    ``follow_prompts``: a person who does what a guide asks (:func:`follow`) rather than keeping a schedule: per rep,
    when they were asked to turn (s), to which side, to come back, and to stop bouncing (s; inf: not yet). Each turn
    starts ``reaction_s`` after its prompt (or once the return before is over), each hold lasts until ``reaction_s``
    after the prompt to come back, a forced hold's bouncing stops as soon after being told, and between reps the
    person rests facing forward until asked again; the session lasts ``duration_s``. A hold's creep, sway, shifts
    and slouching are as planned for a hold of ``hold_s`` (the person cannot know when it will end), and its deep
    breathing ends with it. The draws do not depend on the prompts, so a prompt changes nothing before the person
    reacts to it.

    ``pelvis_share``: the pelvis turns on the seat by this share of each rep's turn (± ``pelvis_share_jitter``, per
    rep; people do 14-22 %, up to 60 %), starting ``pelvis_lag_s`` after the chest (negative: before it), and comes
    back with the return; the chest's own rotation against the room is what it was, so the spine twists by the rest.
    With ``hip_slip_probability`` a hold's pelvis turns on by up to ``hip_slip_deg`` more part-way through (the
    spine gives that back: the chest stays where it is). ``pelvis_sensor`` adds a second sensor on the sacrum
    (``SimulatedSession.pelvis``). All of it is drawn from a generator of its own: the chest's samples of a seed are
    the same with or without it.
    """

    sample_rate_hz: float = 100.0
    seed: int = 0
    reps_per_side: int = 3
    first_side: str = "left"
    neutral_s: float = 12.0
    hold_s: float = 60.0
    hold_jitter_s: float = 4.0
    turn_s: float = 3.0
    return_s: float = 2.5
    rest_s: float = 15.0
    end_rest_s: float = 8.0
    peak_twist_left_deg: float = 50.0
    peak_twist_right_deg: float = 44.0
    peak_jitter_deg: float = 3.0
    creep_deg: float = 4.0
    creep_jitter_deg: float = 1.5
    sway_deg: float = 0.6
    tremor_deg: float = 0.04
    forced_probability: float = 0.15
    bounce_deg: float = 2.5
    slouch_probability: float = 0.35
    slouch_deg: float = 18.0
    posture_shift_deg: float = 3.0
    seat_shift_deg: float = 0.0
    settle_deg: float = 0.0
    lean_deg: float = 2.5
    breath_rest_bpm: float = 14.0
    breath_hold_bpm: float = 7.0
    breath_rest_pitch_deg: float = 0.3
    breath_hold_pitch_deg: float = 1.0
    breath_rest_chest_mm: float = 2.0
    breath_hold_chest_mm: float = 6.0
    heading_deg: float = 30.0
    mount_tilt_deg: float = 10.0
    mount_spin_deg: float = 0.0
    mount_yaw_deg: float = 0.0
    chest_normal_axis: str = "+z"
    lever_forward_m: float = 0.12
    lever_up_m: float = 0.40
    with_mag: bool = False
    mag_field_uT: float = 48.0
    mag_dip_deg: float = 65.0
    imu: ImuErrorModel = field(default_factory=ImuErrorModel)
    start_time: str = ""
    pelvis_share: float = 0.0
    pelvis_share_jitter: float = 0.05
    pelvis_lag_s: float = 0.0
    hip_slip_probability: float = 0.0
    hip_slip_deg: float = 4.0
    pelvis_sensor: bool = False
    pelvis_tilt_deg: float = 25.0  # the sacrum's incline from vertical
    follow_prompts: tuple[tuple[float, str, float, float], ...] | None = None
    reaction_s: float = 0.8
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.sample_rate_hz <= 10_000.0:
            raise ImutrackError(f"simulator sample rate must be between 1 and 10000 Hz, got {self.sample_rate_hz}")
        if self.first_side not in ("left", "right"):
            raise ImutrackError(f"first_side must be 'left' or 'right', got {self.first_side!r}")
        axis_vector(self.chest_normal_axis)
        if self.reps_per_side < 0:
            raise ImutrackError(f"reps_per_side must be ≥ 0, got {self.reps_per_side}")
        if self.hold_s != 0.0 and self.hold_s < 10.0:
            raise ImutrackError(f"a simulated hold must last at least 10 s (or 0: quick turns), got {self.hold_s:g} s")
        if self.follow_prompts is not None and (self.hold_s <= 0.0 or self.duration_s <= self.neutral_s):
            raise ImutrackError("a person who follows prompts holds (hold_s > 0) for a session of a known duration_s")

    def to_dict(self) -> dict:
        return asdict(self)


_HOLD_FADE_S = 4.0
# Where a minimum-jerk step's speed 30u²(1−u)² equals MOVEMENT_ONSET_FRACTION of its peak (1.875), u < 0.5.
_ONSET_U = 0.5 * (1.0 - np.sqrt(1.0 - 4.0 * np.sqrt(MOVEMENT_ONSET_FRACTION / 16.0)))


@dataclass(frozen=True)
class TruthRep:
    """One repetition as simulated (times in s, angles in degrees; twist + = left)."""

    side: str
    turn_start_s: float
    hold_start_s: float
    hold_end_s: float
    return_end_s: float
    forced: bool
    mean_twist_deg: float
    peak_twist_deg: float
    creep_deg: float
    breath_rate_bpm: float
    pelvis_mean_twist_deg: float = 0.0  # the pelvis's own turn on the seat, mean over the hold
    hip_slip_deg: float = 0.0  # how far the pelvis turned on during the hold

    @property
    def hold_duration_s(self) -> float:
        return self.hold_end_s - self.hold_start_s

    @property
    def spine_mean_twist_deg(self) -> float:
        """The spine's own twist (chest against pelvis), mean over the hold."""
        return self.mean_twist_deg - self.pelvis_mean_twist_deg


@dataclass(frozen=True)
class TruthSlouch:
    """A slouch episode: flexion rises by ``peak_flexion_deg`` from ``start_s`` and is back to upright at ``end_s``."""

    start_s: float
    end_s: float
    peak_flexion_deg: float


@dataclass
class SimulationTruth:
    """Ground truth of a simulated session.

    Attributes:
        t_s: sample times, s (N,).
        twist_deg, flexion_deg, lean_deg: trunk angles relative to neutral, degrees (N,).
        breath_rate_bpm: instantaneous breathing rate, breaths/min (N,).
        quat_sensor_wxyz: true sensor orientation, sensor → earth, (N, 4).
        quat_trunk_wxyz: true trunk orientation (no breathing, no mounting), (N, 4).
        neutral_end_s: the still, upright neutral period is ``[0, neutral_end_s)``.
        reps: each repetition with its hold interval and per-hold truth.
        slouches: slouch episodes.
        seat_deg: heading of the whole body (pelvis) relative to the start, degrees (N,): moved by seat shifts.
        gyr_bias_rad_s: turn-on gyro bias, sensor frame (3,).
        mount_wxyz: sensor → trunk rotation of the mounting.
        gyr_matrix: the gyro's scale and cross-axis errors: it reads ``gyr_matrix @ true rate`` (3, 3).
    """

    t_s: np.ndarray
    twist_deg: np.ndarray
    flexion_deg: np.ndarray
    lean_deg: np.ndarray
    breath_rate_bpm: np.ndarray
    quat_sensor_wxyz: np.ndarray
    quat_trunk_wxyz: np.ndarray
    neutral_end_s: float
    reps: list[TruthRep]
    slouches: list[TruthSlouch]
    gyr_bias_rad_s: np.ndarray
    mount_wxyz: np.ndarray
    seat_deg: np.ndarray | None = None
    gyr_matrix: np.ndarray | None = None
    pelvis_twist_deg: np.ndarray | None = None  # the pelvis's turn on the seat within reps, degrees (N,)

    @property
    def spine_twist_deg(self) -> np.ndarray:
        """The spine's own twist: the chest's against the pelvis, degrees (N,)."""
        return self.twist_deg - (self.pelvis_twist_deg if self.pelvis_twist_deg is not None else 0.0)


@dataclass
class SimulatedSession:
    """What :func:`simulate` returns: the samples a sensor would deliver and the truth behind them; with
    ``pelvis_sensor``, a second sensor's samples on the sacrum, on the same clock."""

    config: SimulatorConfig
    samples: ImuSamples
    truth: SimulationTruth
    pelvis: ImuSamples | None = None

    def recording_meta(self) -> RecordingMeta:
        """The header a recording of this session carries: each seed is another simulated sensor (its bias, scale
        errors and mounting), so the seed names the device."""
        cfg = self.config
        return RecordingMeta(
            device=f"simulator {cfg.seed}",
            profile="simulator",
            sensor_frame=f"simulated sternum sensor; {cfg.chest_normal_axis} out of the chest, "
            f"mount tilted {cfg.mount_tilt_deg:g} deg",
            chest_normal_axis=cfg.chest_normal_axis,
            sample_rate_hz=cfg.sample_rate_hz,
            start_time=cfg.start_time,
            assisted="assisted",
            notes="simulated session",
            extra={"simulator_seed": str(cfg.seed)} | (
                {"session_id": f"simulator-{cfg.seed}", "sensor_role": "chest"} if self.pelvis is not None else {}),
        )

    def pelvis_meta(self) -> RecordingMeta:
        """The header of the pelvis sensor's recording (its face outward on the sacrum: −z points forward)."""
        chest = self.recording_meta()
        return RecordingMeta(
            device=f"simulator {self.config.seed} pelvis", profile="simulator",
            sensor_frame=f"simulated sacrum sensor, face outward, tilted {self.config.pelvis_tilt_deg:g} deg",
            chest_normal_axis="-z", sample_rate_hz=chest.sample_rate_hz, start_time=chest.start_time,
            assisted=chest.assisted, notes=chest.notes,
            extra={"simulator_seed": str(self.config.seed), "session_id": f"simulator-{self.config.seed}",
                   "sensor_role": "pelvis"})

    def truth_summary(self) -> dict:
        """The ground truth's events as plain data (JSON-ready): config, neutral, reps, slouches, the body's heading
        on the seat at each rep's start (degrees from the start), gyro bias (rad/s, sensor frame), mounting (wxyz)."""
        truth = self.truth
        return {
            "config": self.config.to_dict(),
            "neutral_end_s": truth.neutral_end_s,
            "reps": [asdict(rep) | {"hold_duration_s": rep.hold_duration_s} for rep in truth.reps],
            "slouches": [asdict(s) for s in truth.slouches],
            "seat_deg_at_turns": [float(truth.seat_deg[np.searchsorted(truth.t_s, rep.turn_start_s)])
                                  for rep in truth.reps] if truth.seat_deg is not None else [],
            "gyr_bias_rad_s": truth.gyr_bias_rad_s.tolist(),
            "mount_wxyz": truth.mount_wxyz.tolist(),
        }


class SimulatedSource:
    """The simulated person as a live :class:`~imutrack.sources.Source`: the session's samples in batches of
    ``batch_s``, paced at ``speed`` × real time (0: as fast as they are taken). With a simulated pelvis sensor,
    ``pelvis_out`` is where its recording is written, as its batches are handed over."""

    writes_recording = False

    def __init__(self, session: SimulatedSession, speed: float = 1.0, batch_s: float = 0.1,
                 pelvis_out: Path | None = None):
        self.session = session
        # a person who follows the guide (``follow_prompts``): simulated again whenever it asks something
        self._asked = _Asked() if session.config.follow_prompts is not None else None
        self.meta = session.recording_meta()
        self.speed = speed
        self.batch_s = batch_s
        self._sent = 0
        self._closed = False
        self._pelvis: list[ImuSamples] = []
        self._pelvis_out = pelvis_out
        self._pelvis_writer = None

    def hear(self, asks: list[tuple[str, float, str | None]]) -> None:
        """What the guide asked (:meth:`imutrack.live.Guide.asks`): a person who follows it does it, from
        ``reaction_s`` on (the batches already given stay as they were)."""
        if self._asked is not None and self._asked.add(asks):
            self.session = self._asked.session(self.session.config)

    def batches(self):
        import time

        t_s = self.session.samples.t_s  # (the same times however often the session is simulated again)
        started = time.monotonic()
        edges = _batch_edges(t_s, self.batch_s)
        for a, b in zip(edges[:-1], edges[1:]):
            if self._closed:
                return
            if b <= a:
                continue
            batch = self.session.samples.slice(int(a), int(b))
            if self.speed > 0:
                delay = started + batch.t_s[-1] / self.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self._sent = int(b)
            if self.session.pelvis is not None:  # the pelvis sensor's samples of the same moments
                self._pelvis.append(self.session.pelvis.slice(int(a), int(b)))
            yield batch, float(batch.t_s[-1])

    def pelvis_batches(self) -> list[ImuSamples]:
        """With a simulated pelvis sensor: its batches since the last call (on the same clock)."""
        taken, self._pelvis = self._pelvis, []
        if self._pelvis_out is not None:
            from imutrack.recording import RecordingWriter

            for batch in taken:
                if self._pelvis_writer is None:
                    self._pelvis_writer = RecordingWriter(self._pelvis_out, self.session.pelvis_meta())
                self._pelvis_writer.append(batch)
        return taken

    def status(self) -> str:
        samples = self.session.samples
        return f"simulated: {self._sent:,} of {len(samples):,} samples, {samples.rate_hz:.0f} Hz"

    def close(self) -> None:
        self._closed = True
        self.pelvis_batches()
        if self._pelvis_writer is not None:
            self._pelvis_writer.close()
            self._pelvis_writer = None


@dataclass
class _Script:
    """The session's motion as smooth profiles, plus the events the truth reports."""

    twist: Profile
    flexion: Profile
    lean: Profile
    seat: Profile  # heading of the whole body (pelvis) relative to the start, degrees
    pelvis: Profile  # the pelvis's own turn within reps (its share of the turn, hip slips), degrees
    breath_rate_hz: Profile
    breath_depth: Profile  # 0 = resting breaths, 1 = deep breaths
    reps: list[dict]
    slouches: list[TruthSlouch]
    neutral_end_s: float
    duration_s: float


def _script(cfg: SimulatorConfig, rng: np.random.Generator) -> _Script:
    twist, flexion, lean, seat, pelvis = Profile(), Profile(), Profile(), Profile(), Profile()
    hips = np.random.default_rng([cfg.seed, 2])  # the pelvis's draws: the chest's stay as they were
    rest_hz = cfg.breath_rest_bpm / 60.0
    breath_rate, breath_depth = Profile(base=rest_hz), Profile()
    reps: list[dict] = []
    slouches: list[TruthSlouch] = []
    t = cfg.neutral_s
    other = "right" if cfg.first_side == "left" else "left"
    follow = cfg.follow_prompts
    # (following prompts: a few more reps than planned may be asked for, and every one draws as many numbers)
    slots = cfg.reps_per_side + (2 if follow is not None else 0)
    for k, side in enumerate(side for _ in range(slots) for side in (cfg.first_side, other)):
        prompt = None if follow is None else (follow[k] if k < len(follow) else (np.inf, side, np.inf, np.inf))
        side = side if prompt is None else prompt[1]
        sign = 1.0 if side == "left" else -1.0
        turn_s = cfg.turn_s * rng.uniform(0.8, 1.25)
        return_s = cfg.return_s * rng.uniform(0.8, 1.25)
        jitter = min(cfg.hold_jitter_s, 0.1 * cfg.hold_s)
        hold_s = cfg.hold_s + rng.uniform(-jitter, jitter)
        base_peak = cfg.peak_twist_left_deg if side == "left" else cfg.peak_twist_right_deg
        peak = max(5.0, base_peak + rng.normal(0.0, cfg.peak_jitter_deg))
        held = cfg.hold_s > 0.0
        forced = held and bool(rng.random() < cfg.forced_probability)
        creep = 0.0 if forced or not held else max(0.0, cfg.creep_deg + rng.normal(0.0, cfg.creep_jitter_deg))
        turn_start, hold_start = t, t + turn_s
        hold_end = hold_start + hold_s
        if prompt is not None:  # not asked yet: after the session's end
            later = cfg.duration_s + 1000.0 * (k + 1)
            turn_start = max(t, prompt[0] + cfg.reaction_s) if np.isfinite(prompt[0]) else later
            hold_start = turn_start + turn_s
            hold_end = max(hold_start + 0.5, prompt[2] + cfg.reaction_s) if np.isfinite(prompt[2]) else later
        return_end = hold_end + return_s
        # Reported times follow the onset/offset convention (speed at MOVEMENT_ONSET_FRACTION of its peak).
        truth_times = dict(
            turn_start_s=turn_start + _ONSET_U * turn_s,
            hold_start_s=turn_start + (1 - _ONSET_U) * turn_s,
            hold_end_s=hold_end + _ONSET_U * return_s,
            return_end_s=hold_end + (1 - _ONSET_U) * return_s,
        )

        twist.steps.append(Step(turn_start, turn_s, sign * peak))
        slip = 0.0
        if cfg.pelvis_share > 0 or cfg.hip_slip_probability > 0:
            share = max(0.0, cfg.pelvis_share + hips.uniform(-1.0, 1.0) * cfg.pelvis_share_jitter)
            lag = cfg.pelvis_lag_s
            if held and hips.random() < cfg.hip_slip_probability:
                slip = sign * hips.uniform(0.5, 1.0) * cfg.hip_slip_deg
                pelvis.steps.append(Step(hold_start + hips.uniform(0.3, 0.6) * hold_s, 2.0, slip))
            pelvis.steps += [Step(turn_start + lag, turn_s, sign * share * peak),
                             Step(hold_end + lag, return_s, -sign * share * peak - slip)]
        if creep > 0:
            creep_s = hold_s * rng.uniform(0.5, 0.9)
            twist.steps.append(Step(hold_start, creep_s, sign * creep))
        miss = rng.uniform(-1.0, 1.0) * cfg.settle_deg if cfg.settle_deg > 0 else 0.0
        twist.steps.append(Step(hold_end, return_s, -sign * (peak + creep) + miss))
        if not held:
            reps.append(dict(side=side, **truth_times, forced=False, creep_deg=0.0, breath_rate_bpm=rest_hz * 60,
                             hip_slip_deg=0.0))
            rest_s = cfg.rest_s * rng.uniform(0.8, 1.25)
            if miss:
                twist.steps.append(Step(return_end + 0.5, (rest_s - 0.5) * rng.uniform(0.6, 0.95), -miss))
            t = return_end + rest_s
            continue
        sway_hz = rng.uniform(0.05, 0.2)
        # (following prompts, the waves fade out over the return: nothing before it knows when it comes)
        until = hold_end if follow is None else hold_end + _HOLD_FADE_S
        twist.waves.append(
            Wave(hold_start, until, cfg.sway_deg * rng.uniform(0.5, 1.5), sway_hz, rng.uniform(0, 2 * np.pi),
                 _HOLD_FADE_S)
        )
        twist.waves.append(
            Wave(hold_start, until, cfg.tremor_deg, rng.uniform(8.0, 12.0), 0.0, _HOLD_FADE_S)
        )
        if forced:  # (following prompts: until told to relax, or the return)
            twist.waves.append(
                Wave(hold_start, hold_end if follow is None else min(hold_end, prompt[3] + cfg.reaction_s) + 1.0,
                     cfg.bounce_deg * rng.uniform(0.8, 1.2), rng.uniform(0.7, 1.5), 0.0, 1.0)
            )
        lean_deg = sign * cfg.lean_deg * rng.uniform(0.3, 1.0)
        lean.steps += [Step(turn_start, turn_s, lean_deg), Step(hold_end, return_s, -lean_deg)]

        # Deep, slow breathing through the hold; resting breaths otherwise.
        hold_hz = cfg.breath_hold_bpm / 60.0 * rng.uniform(0.85, 1.15)
        calm = hold_end - 5.0 if follow is None else hold_end  # back to resting breaths
        breath_rate.steps += [Step(hold_start, 5.0, hold_hz - rest_hz), Step(calm, 5.0, rest_hz - hold_hz)]
        breath_depth.steps += [Step(hold_start, 5.0, 1.0), Step(calm, 5.0, -1.0)]

        if rng.random() < cfg.slouch_probability:
            ramp_s = rng.uniform(2.0, 4.0)
            start = hold_start + rng.uniform(8.0, max(8.5, hold_s - 30.0))
            stay = rng.uniform(6.0, 15.0)
            depth = cfg.slouch_deg * rng.uniform(0.8, 1.3)
            end = start + 2 * ramp_s + stay
            flexion.steps += [Step(start, ramp_s, depth), Step(end - ramp_s, ramp_s, -depth)]
            slouches.append(TruthSlouch(start, end, depth))
        # Small, normal shifts of position that are not slouching.
        shift_at = hold_start + rng.uniform(0.2, 0.7) * hold_s
        if not any(s.start_s - 6.0 < shift_at < s.end_s + 2.0 for s in slouches):
            shift = rng.uniform(-1.0, 1.0) * cfg.posture_shift_deg
            flexion.steps += [Step(shift_at, 1.5, shift), Step(shift_at + 4.0, 1.5, -shift)]

        reps.append(dict(side=side, **truth_times, forced=forced, creep_deg=creep, breath_rate_bpm=hold_hz * 60.0,
                         hip_slip_deg=abs(slip)))
        rest_s = cfg.rest_s * rng.uniform(0.8, 1.25)
        if cfg.seat_shift_deg > 0:
            seat.steps.append(Step(return_end + 1.0, 1.5, rng.uniform(-1.0, 1.0) * cfg.seat_shift_deg))
        if miss:
            twist.steps.append(Step(return_end + 0.5, (rest_s - 0.5) * rng.uniform(0.6, 0.95), -miss))
        t = return_end + rest_s if follow is None else return_end + 0.5
    duration = t + cfg.end_rest_s if reps else cfg.neutral_s + cfg.end_rest_s
    if follow is not None:
        duration = cfg.duration_s
        reps = [rep for rep in reps if rep["turn_start_s"] < duration]
        slouches = [slouch for slouch in slouches if slouch.start_s < duration]
    return _Script(twist, flexion, lean, seat, pelvis, breath_rate, breath_depth, reps, slouches, cfg.neutral_s,
                   duration)


def _axis_rotation(axis: int, angle_rad: np.ndarray) -> np.ndarray:
    """wxyz quaternions (N, 4) of rotations by ``angle_rad`` about one coordinate axis."""
    angle_rad = np.asarray(angle_rad, dtype=np.float64)
    q = np.zeros((angle_rad.size, 4))
    q[:, 0] = np.cos(0.5 * angle_rad)
    q[:, 1 + axis] = np.sin(0.5 * angle_rad)
    return q


def _mount(cfg: SimulatorConfig, rng: np.random.Generator) -> np.ndarray:
    """Sensor → trunk rotation: the chosen sensor axis points forward, the sensor is spun about it by
    ``mount_spin_deg``, pitched by ``mount_tilt_deg`` (the sternum's incline; sign drawn at random) and turned
    sideways by ``mount_yaw_deg``."""
    forward, left, up = np.eye(3)
    align, _ = Rotation.align_vectors(forward[None, :], axis_vector(cfg.chest_normal_axis)[None, :])
    spin = Rotation.from_rotvec(np.radians(cfg.mount_spin_deg) * forward)
    tilt = Rotation.from_rotvec(np.radians(cfg.mount_tilt_deg) * rng.choice([-1.0, 1.0]) * left)
    yaw = Rotation.from_rotvec(np.radians(cfg.mount_yaw_deg) * up)
    return (yaw * tilt * spin * align).as_quat(scalar_first=True)


class _Kinematics:
    """Trunk and sensor orientation and sensor position as functions of time."""

    def __init__(self, cfg: SimulatorConfig, script: _Script, mount: np.ndarray):
        self.cfg, self.script, self.mount = cfg, script, mount

    def angles_rad(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.script
        return np.radians(s.twist(t_s)), np.radians(s.flexion(t_s)), np.radians(s.lean(t_s))

    def breath(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Breathing waveform in [0, 1] (0 = exhaled) and depth mix in [0, 1] (0 = rest, 1 = deep)."""
        phase = 2 * np.pi * self.script.breath_rate_hz.integral(t_s)
        return 0.5 * (1.0 - np.cos(phase)), self.script.breath_depth(t_s)

    def trunk(self, t_s: np.ndarray) -> np.ndarray:
        """Trunk orientation, wxyz (N, 4)."""
        twist, flexion, lean = self.angles_rad(t_s)
        heading = np.radians(self.cfg.heading_deg + self.script.seat(t_s))
        # Swing about the neutral trunk axes: flexion about left (+y), lean + to the left = about −forward (−x).
        swing = quaternion.from_rotation_vector(np.column_stack([-lean, flexion, np.zeros_like(lean)]))
        return quaternion.multiply(_axis_rotation(2, heading + twist), swing)

    def sensor(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sensor orientation (sensor → earth) and sensor position in the earth frame, m (N, 3)."""
        cfg = self.cfg
        trunk = self.trunk(t_s)
        wave, depth = self.breath(t_s)
        pitch_deg = cfg.breath_rest_pitch_deg + depth * (cfg.breath_hold_pitch_deg - cfg.breath_rest_pitch_deg)
        chest_m = 1e-3 * (cfg.breath_rest_chest_mm + depth * (cfg.breath_hold_chest_mm - cfg.breath_rest_chest_mm))
        # Breathing in lifts the sternum and tips its surface upward: a negative pitch about the trunk's left axis.
        breath_rot = _axis_rotation(1, -np.radians(pitch_deg) * wave)
        lever = np.column_stack(
            [cfg.lever_forward_m + chest_m * wave, np.zeros_like(wave), np.full_like(wave, cfg.lever_up_m)]
        )
        sensor = quaternion.multiply(quaternion.multiply(trunk, breath_rot), self.mount)
        return sensor, quaternion.rotate(trunk, lever)


def simulate(cfg: SimulatorConfig | None = None) -> SimulatedSession:
    """Simulate a session; returns the sensor samples and the ground truth."""
    cfg = cfg or SimulatorConfig()
    rng = np.random.default_rng(cfg.seed)
    script = _script(cfg, rng)
    return _synthesise(cfg, rng, script, _mount(cfg, rng))


def _batch_edges(t_s: np.ndarray, batch_s: float) -> np.ndarray:
    """Sample indices where batches of ``batch_s`` (s) of a session begin, from the session's start (t = 0), and its
    length: batch k holds the samples from edge k to edge k + 1 (none, when no sample falls in its time)."""
    return np.append(np.searchsorted(t_s, np.arange(0.0, t_s[-1] + batch_s, batch_s)), len(t_s))


class _Asked:
    """What a person who follows a guide has been asked so far, as :attr:`SimulatorConfig.follow_prompts`."""

    def __init__(self) -> None:
        self.prompts: list[list] = []

    def add(self, asks: list[tuple[str, float, str | None]]) -> bool:
        """Take ("turn", s, side), ("return", s, None) and ("relax", s, None); whether anything was asked."""
        for kind, at, side in asks:
            if kind == "relax":
                if self.prompts and not np.isfinite(self.prompts[-1][3]):
                    self.prompts[-1][3] = at
                continue
            if self.prompts and not np.isfinite(self.prompts[-1][2]):  # asked to turn again: first, come back
                self.prompts[-1][2] = at
            if kind == "turn":
                self.prompts.append([at, side, np.inf, np.inf])
        return bool(asks)

    def session(self, cfg: SimulatorConfig) -> SimulatedSession:
        return simulate(replace(cfg, follow_prompts=tuple(tuple(p) for p in self.prompts)))


def follow(cfg: SimulatorConfig, respond, batch_s: float = 0.1) -> SimulatedSession:
    """A session of a person who does what they are asked (``cfg.follow_prompts`` filled in as it goes), of
    ``cfg.duration_s``. Its samples go to ``respond`` in batches of ``batch_s`` as they happen; ``respond(batch)``
    returns what was asked meanwhile, each ("turn", time s, side), ("return", time s, None) — come back to face
    forward — or ("relax", time s, None) — stop bouncing. After each, the session is simulated again with it:
    nothing changes before the person reacts, so the batches already given stay as they were. Returns the session
    as it happened."""
    if not cfg.reaction_s > batch_s:
        raise ImutrackError(f"the reaction time ({cfg.reaction_s:g} s) must be longer than a batch ({batch_s:g} s)")
    asked = _Asked()
    session = asked.session(cfg)
    edges = _batch_edges(session.samples.t_s, batch_s)
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a and asked.add(respond(session.samples.slice(int(a), int(b)))):
            session = asked.session(cfg)
    return session


def simulate_calibration(sensor: SimulationTruth, turns: int = 3, turn_s: float = 6.0, still_s: float = 5.0,
                         cfg: SimulatorConfig | None = None) -> SimulatedSession:
    """The calibration of ``imutrack calibrate`` as a person does it with the sensor of a simulated session (the same
    mounting, gyro bias and scale/cross-axis errors, from its ``truth``): still for ``still_s``, ``turns`` whole turns
    on a swivel chair (+ = to the left; each a minimum-jerk turn of ``turn_s``), still again, breathing throughout."""
    cfg = cfg or SimulatorConfig()
    script = _Script(Profile(), Profile(), Profile(), Profile(steps=[Step(still_s, abs(turns) * turn_s, 360.0 * turns)]),
                     Profile(), Profile(base=cfg.breath_rest_bpm / 60.0), Profile(), [], [], still_s,
                     2 * still_s + abs(turns) * turn_s)
    rng = np.random.default_rng([cfg.seed, 3])
    return _synthesise(cfg, rng, script, sensor.mount_wxyz, sensor.gyr_matrix, sensor.gyr_bias_rad_s)


def _synthesise(cfg: SimulatorConfig, rng: np.random.Generator, script: _Script, mount: np.ndarray,
                gyr_matrix: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None) -> SimulatedSession:
    """The samples a sensor mounted by ``mount`` delivers along ``script``, and the truth; the gyro's errors are
    drawn from ``rng`` unless given."""
    kin = _Kinematics(cfg, script, mount)
    n = int(np.floor(script.duration_s * cfg.sample_rate_hz)) + 1
    t_s = np.arange(n) * (1.0 / cfg.sample_rate_hz)
    samples, orientation, gyr_bias, gyr_matrix = _sensor_samples(cfg, rng, kin, t_s, gyr_matrix, gyr_bias_rad_s)
    truth = _truth(cfg, script, kin, t_s, orientation, gyr_bias, gyr_matrix)
    pelvis = None
    if cfg.pelvis_sensor:
        pelvis, *_ = _sensor_samples(cfg, np.random.default_rng([cfg.seed, 4]), _PelvisKinematics(cfg, script), t_s,
                                     warmup_key=5)
    return SimulatedSession(cfg, samples, truth, pelvis)


class _PelvisKinematics:
    """A sensor on the sacrum, face outward (−z forward), tilted back with it: it turns with the seat and the
    pelvis's own share of each turn, and does not breathe."""

    def __init__(self, cfg: SimulatorConfig, script: _Script):
        self.cfg, self.script = cfg, script
        forward, left, _ = np.eye(3)
        align, _ = Rotation.align_vectors(forward[None, :], axis_vector("-z")[None, :])
        tilt = Rotation.from_rotvec(-np.radians(cfg.pelvis_tilt_deg) * left)
        self.mount = (tilt * align).as_quat(scalar_first=True)

    def sensor(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        heading = np.radians(self.cfg.heading_deg + self.script.seat(t_s) + self.script.pelvis(t_s))
        body = _axis_rotation(2, heading)
        lever = np.broadcast_to([-0.10, 0.0, 0.05], (len(t_s), 3))  # behind and above the axis it turns about
        return quaternion.multiply(body, self.mount), quaternion.rotate(body, lever)


def _sensor_samples(cfg: SimulatorConfig, rng: np.random.Generator, kin, t_s: np.ndarray,
                    gyr_matrix: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None,
                    warmup_key: int = 1) -> tuple[ImuSamples, np.ndarray, np.ndarray, np.ndarray]:
    """What a sensor moving as ``kin.sensor(t)`` (orientation sensor → earth, position) delivers at ``t_s``, with
    the errors of ``cfg.imu`` drawn from ``rng`` (the gyro's unless given): (samples, true orientation, gyro bias,
    gyro error matrix)."""
    n = len(t_s)
    dt = 1.0 / cfg.sample_rate_hz
    orientation, _ = kin.sensor(np.append(t_s, t_s[-1] + dt))
    step = quaternion.multiply(quaternion.conjugate(orientation[:-1]), orientation[1:])
    gyr_true = quaternion.rotation_vector(step) / dt
    orientation = orientation[:-1]

    h = _DIFF_STEP_S
    _, pos_minus = kin.sensor(t_s - h)
    _, pos_plus = kin.sensor(t_s + h)
    _, pos = kin.sensor(t_s)
    acc_earth = (pos_plus - 2.0 * pos + pos_minus) / (h * h)
    acc_earth[:, 2] += GRAVITY_M_S2  # specific force: a − g with g = (0, 0, −9.81)
    to_sensor = quaternion.conjugate(orientation)
    acc_true = quaternion.rotate(to_sensor, acc_earth)

    imu = cfg.imu
    gyr_bias = np.radians(rng.uniform(-1.0, 1.0, 3) * imu.gyr_bias_max_deg_s)
    drawn = _error_matrix(rng, imu.gyr_scale_max, imu.gyr_cross_axis_max)
    gyr_bias = gyr_bias if gyr_bias_rad_s is None else np.asarray(gyr_bias_rad_s, dtype=np.float64)
    gyr_matrix = drawn if gyr_matrix is None else np.asarray(gyr_matrix, dtype=np.float64)
    acc_matrix = _error_matrix(rng, imu.acc_scale_max, imu.acc_cross_axis_max)
    acc_bias = rng.uniform(-1.0, 1.0, 3) * imu.acc_bias_max_m_s2
    noise_scale = np.sqrt(cfg.sample_rate_hz / 2.0)
    bias_walk = np.cumsum(rng.normal(0.0, 1.0, (n, 3)), axis=0) * np.radians(imu.gyr_bias_walk_deg_s_rts) * np.sqrt(dt)
    warmup = np.zeros(3)
    if imu.gyr_warmup_max_deg_s > 0.0:
        warmup = np.radians(np.random.default_rng([cfg.seed, warmup_key]).uniform(-1.0, 1.0, 3)
                            * imu.gyr_warmup_max_deg_s)
    warming = -np.expm1(-t_s / imu.gyr_warmup_tau_s)[:, None] * warmup if imu.gyr_warmup_tau_s > 0 else 0.0
    gyr = (
        gyr_true @ gyr_matrix.T
        + gyr_bias
        + bias_walk
        + warming
        + rng.normal(0.0, 1.0, (n, 3)) * np.radians(imu.gyr_noise_deg_s_rthz) * noise_scale
    )
    acc = (
        acc_true @ acc_matrix.T
        + acc_bias
        + rng.normal(0.0, 1.0, (n, 3)) * imu.acc_noise_ug_rthz * 1e-6 * GRAVITY_M_S2 * noise_scale
    )
    mag = None
    if cfg.with_mag:
        dip = np.radians(cfg.mag_dip_deg)
        field_earth = cfg.mag_field_uT * np.array([0.0, np.cos(dip), -np.sin(dip)])  # north = earth +y
        hard_iron = rng.uniform(-1.0, 1.0, 3) * imu.mag_hard_iron_max_uT
        mag = quaternion.rotate(to_sensor, np.broadcast_to(field_earth, acc_earth.shape)) + hard_iron + rng.normal(0.0, imu.mag_noise_uT, (n, 3))

    return ImuSamples(t_s, gyr, acc, mag), orientation, gyr_bias, gyr_matrix


def _error_matrix(rng: np.random.Generator, scale_max: float, cross_max: float) -> np.ndarray:
    matrix = np.eye(3) + np.diag(rng.uniform(-1.0, 1.0, 3) * scale_max)
    off = rng.uniform(-1.0, 1.0, (3, 3)) * cross_max
    np.fill_diagonal(off, 0.0)
    return matrix + off


def _truth(cfg, script: _Script, kin: _Kinematics, t_s, orientation: np.ndarray, gyr_bias,
           gyr_matrix) -> SimulationTruth:
    twist = script.twist(t_s)
    pelvis = script.pelvis(t_s)
    breath_bpm = script.breath_rate_hz(t_s) * 60.0
    reps = []
    for rep in script.reps:
        i0, i1 = np.searchsorted(t_s, [rep["hold_start_s"], rep["hold_end_s"]])
        held = twist[i0:i1]
        sign = 1.0 if rep["side"] == "left" else -1.0
        reps.append(
            TruthRep(
                **rep,
                mean_twist_deg=float(held.mean()) if len(held) else float("nan"),
                peak_twist_deg=float(sign * np.max(sign * held)) if len(held) else float("nan"),
                pelvis_mean_twist_deg=float(pelvis[i0:i1].mean()) if len(held) else float("nan"),
            )
        )
    return SimulationTruth(
        t_s=t_s,
        twist_deg=twist,
        flexion_deg=script.flexion(t_s),
        lean_deg=script.lean(t_s),
        breath_rate_bpm=breath_bpm,
        quat_sensor_wxyz=orientation,
        quat_trunk_wxyz=kin.trunk(t_s),
        neutral_end_s=script.neutral_end_s,
        reps=reps,
        slouches=script.slouches,
        gyr_bias_rad_s=gyr_bias,
        mount_wxyz=kin.mount,
        gyr_matrix=gyr_matrix,
        seat_deg=script.seat(t_s),
        pelvis_twist_deg=pelvis,
    )


@dataclass(frozen=True)
class HistorySession:
    """One simulated session of a practice history: when, with or without hands, and its simulator config."""

    start_time: str
    assisted: str
    config: SimulatorConfig


def practice_history(days: int = 21, end: datetime | None = None, seed: int = 0,
                     sample_rate_hz: float = 25.0) -> list[HistorySession]:
    """Three sessions a day (about 08:00, 13:30, 19:00 local) for ``days`` days up to ``end``, some missed; the range
    grows by about 0.6°/day on the left and 0.4°/day on the stiffer right side, with day-to-day noise; the last week
    is done without hands on alternate sessions."""
    rng = np.random.default_rng(seed)
    end = (end or datetime.now().astimezone()).replace(second=0, microsecond=0)
    sessions = []
    for day in range(days):
        when = end.date().toordinal() - (days - 1 - day)
        for hour, minute in ((8, 0), (13, 30), (19, 0)):
            if rng.random() < 0.15:
                continue
            start = datetime.fromordinal(when).replace(hour=hour, minute=minute + int(rng.integers(0, 20)),
                                                       tzinfo=end.tzinfo)
            if start > end:
                continue
            unassisted = day >= days - 7 and len(sessions) % 2 == 0
            cfg = SimulatorConfig(
                sample_rate_hz=sample_rate_hz,
                seed=int(rng.integers(1 << 31)),
                reps_per_side=2,
                peak_twist_left_deg=38.0 + 0.6 * day + rng.normal(0, 1.5),
                peak_twist_right_deg=32.0 + 0.4 * day + rng.normal(0, 1.5),
                forced_probability=max(0.05, 0.3 - 0.015 * day),
                slouch_probability=max(0.1, 0.5 - 0.02 * day),
                start_time=start.isoformat(timespec="seconds"),
            )
            sessions.append(HistorySession(cfg.start_time, "unassisted" if unassisted else "assisted", cfg))
    return sessions
