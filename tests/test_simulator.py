"""The simulator's physics: its sensor signals must be exactly what its motion implies."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imutrack.errors import ImutrackError
from imutrack.frames import GRAVITY_M_S2
from imutrack.sources.simulator import ImuErrorModel, SimulatorConfig, follow, simulate
from imutrack.trunk import forward_at_neutral, trunk_angles_deg

SHORT = dict(reps_per_side=1, hold_s=20.0, rest_s=6.0, neutral_s=6.0, end_rest_s=3.0)
STILL_CHEST = dict(breath_rest_pitch_deg=0.0, breath_hold_pitch_deg=0.0, breath_rest_chest_mm=0.0,
                   breath_hold_chest_mm=0.0)


def rot(quat_wxyz):
    return Rotation.from_quat(quat_wxyz, scalar_first=True)


def angle_deg(a, b):
    return np.degrees((a.inv() * b).magnitude())


@pytest.mark.parametrize("rate_hz", [25.0, 100.0, 400.0, 1000.0])
def test_integrating_the_noiseless_gyro_reproduces_the_orientation(rate_hz):
    session = simulate(SimulatorConfig(sample_rate_hz=rate_hz, imu=ImuErrorModel.ideal(), seed=1, **SHORT))
    truth = session.truth
    q = rot(truth.quat_sensor_wxyz[0])
    dt = 1.0 / rate_hz
    steps = Rotation.from_rotvec(session.samples.gyr_rad_s[:-1] * dt)
    # Strapdown integration, one sample at a time (composition is associative: accumulate in blocks of one).
    integrated = [q]
    for step in steps:
        q = q * step
        integrated.append(q)
    integrated = Rotation.concatenate(integrated)
    error = angle_deg(integrated, rot(truth.quat_sensor_wxyz))
    assert error.max() < 0.01
    assert np.abs(truth.twist_deg).max() > 30  # the session really turned


def test_the_gyro_is_the_angular_velocity_of_the_twist():
    cfg = SimulatorConfig(imu=ImuErrorModel.ideal(), seed=2, lean_deg=0.0, slouch_probability=0.0,
                          posture_shift_deg=0.0, **STILL_CHEST, **SHORT)
    session = simulate(cfg)
    truth = session.truth
    gyr_earth = rot(truth.quat_sensor_wxyz).apply(session.samples.gyr_rad_s)
    dt = 1.0 / cfg.sample_rate_hz
    twist_rate = np.radians(np.diff(truth.twist_deg)) / dt  # mean rate over each sample interval
    np.testing.assert_allclose(gyr_earth[:-1, 2], twist_rate, atol=1e-9)
    np.testing.assert_allclose(gyr_earth[:, :2], 0.0, atol=1e-9)
    assert np.abs(twist_rate).max() > np.radians(20)


def test_the_noiseless_accelerometer_is_gravity_in_the_sensor_frame_at_rest():
    session = simulate(SimulatorConfig(imu=ImuErrorModel.ideal(), seed=3, mount_tilt_deg=25.0, **STILL_CHEST,
                                       **SHORT))
    truth = session.truth
    still = session.samples.t_s < truth.neutral_end_s
    expected = rot(truth.quat_sensor_wxyz[still]).inv().apply([0.0, 0.0, GRAVITY_M_S2])
    np.testing.assert_allclose(session.samples.acc_m_s2[still], expected, atol=1e-6)
    # tilted 25° on the chest: gravity is not along one sensor axis
    assert np.abs(session.samples.acc_m_s2[0]).max() < GRAVITY_M_S2 * 0.99


def test_the_accelerometer_integrates_to_the_sensor_velocity():
    cfg = SimulatorConfig(imu=ImuErrorModel.ideal(), seed=4, sample_rate_hz=400.0, **SHORT)
    session = simulate(cfg)
    acc_earth = rot(session.truth.quat_sensor_wxyz).apply(session.samples.acc_m_s2)
    linear = acc_earth - [0.0, 0.0, GRAVITY_M_S2]
    velocity = np.cumsum(linear, axis=0) / cfg.sample_rate_hz
    assert np.abs(linear).max() > 0.1  # the sternum really accelerates on its lever arm
    assert np.abs(velocity).max() < 0.5
    assert np.abs(velocity[-1]).max() < 2e-3  # back at rest at the end


def test_same_seed_same_motion_at_any_rate():
    slow = simulate(SimulatorConfig(sample_rate_hz=50.0, seed=5, **SHORT))
    fast = simulate(SimulatorConfig(sample_rate_hz=200.0, seed=5, **SHORT))
    np.testing.assert_allclose(fast.truth.twist_deg[::4], slow.truth.twist_deg[: len(fast.truth.t_s[::4])],
                               atol=1e-9)
    assert [r.hold_start_s for r in fast.truth.reps] == [r.hold_start_s for r in slow.truth.reps]


def test_session_structure_matches_the_exercise():
    cfg = SimulatorConfig(seed=6, reps_per_side=3, first_side="right")
    truth = simulate(cfg).truth
    assert [r.side for r in truth.reps] == ["right", "left"] * 3
    for rep in truth.reps:
        assert rep.turn_start_s < rep.hold_start_s < rep.hold_end_s < rep.return_end_s
        # the 5 %-of-peak-speed convention adds 6 % of the turn and of the return to the hold
        assert abs(rep.hold_duration_s - cfg.hold_s) <= cfg.hold_jitter_s + 0.06 * 1.25 * (cfg.turn_s + cfg.return_s)
        in_hold = (truth.t_s >= rep.hold_start_s) & (truth.t_s < rep.hold_end_s)
        assert rep.mean_twist_deg == pytest.approx(truth.twist_deg[in_hold].mean())
        assert np.sign(rep.mean_twist_deg) == (1 if rep.side == "left" else -1)
        assert abs(rep.mean_twist_deg) > 30
    assert np.all(truth.twist_deg[truth.t_s < truth.neutral_end_s] == 0.0)
    for earlier, later in zip(truth.reps, truth.reps[1:]):
        assert later.turn_start_s > earlier.return_end_s  # a rest between reps


def test_creep_makes_the_angle_grow_through_a_relaxed_hold():
    cfg = SimulatorConfig(seed=8, forced_probability=0.0, creep_deg=5.0, creep_jitter_deg=0.0, sway_deg=0.0)
    truth = simulate(cfg).truth
    for rep in truth.reps:
        sign = 1 if rep.side == "left" else -1
        at_start = truth.twist_deg[np.searchsorted(truth.t_s, rep.hold_start_s)]
        at_end = truth.twist_deg[np.searchsorted(truth.t_s, rep.hold_end_s) - 1]
        assert sign * (at_end - at_start) == pytest.approx(5.0, abs=0.1)


def test_noise_and_bias_follow_the_error_model():
    imu = ImuErrorModel(gyr_bias_walk_deg_s_rts=0.0)
    cfg = SimulatorConfig(seed=9, imu=imu, neutral_s=60.0, reps_per_side=0, **STILL_CHEST)
    session = simulate(cfg)
    gyr = session.samples.gyr_rad_s
    expected_sd = np.radians(imu.gyr_noise_deg_s_rthz) * np.sqrt(cfg.sample_rate_hz / 2)
    np.testing.assert_allclose(gyr.std(axis=0), expected_sd, rtol=0.1)
    np.testing.assert_allclose(gyr.mean(axis=0), session.truth.gyr_bias_rad_s, atol=3 * expected_sd / 60)
    assert np.abs(np.degrees(session.truth.gyr_bias_rad_s)).max() <= imu.gyr_bias_max_deg_s
    acc_norm = np.linalg.norm(session.samples.acc_m_s2, axis=1).mean()
    assert acc_norm == pytest.approx(GRAVITY_M_S2, rel=0.03)


@pytest.mark.parametrize(("axis", "spin_deg", "tilt_deg"), [("+z", 0.0, 0.0), ("-y", 120.0, 30.0), ("+x", 270.0, 15.0)])
def test_trunk_angles_from_the_sensor_do_not_depend_on_the_mounting(axis, spin_deg, tilt_deg):
    cfg = SimulatorConfig(seed=10, chest_normal_axis=axis, mount_spin_deg=spin_deg, mount_tilt_deg=tilt_deg, **SHORT)
    truth = simulate(cfg).truth
    forward = forward_at_neutral(truth.quat_sensor_wxyz[0], axis)
    twist, flexion, lean = trunk_angles_deg(truth.quat_sensor_wxyz, truth.quat_sensor_wxyz[0], forward)
    # What remains is the sternum's own breathing pitch (≤ 1°), which a sternum sensor really feels.
    assert np.abs(twist - truth.twist_deg).max() < 0.05
    assert np.abs(flexion - truth.flexion_deg).max() < cfg.breath_hold_pitch_deg + 0.01
    assert np.abs(lean - truth.lean_deg).max() < 0.05


def test_magnetometer_sees_the_earth_field():
    cfg = SimulatorConfig(seed=11, with_mag=True, imu=ImuErrorModel.ideal(), **SHORT)
    session = simulate(cfg)
    np.testing.assert_allclose(np.linalg.norm(session.samples.mag_uT, axis=1), cfg.mag_field_uT, rtol=1e-9)


def test_bad_configuration_is_refused_clearly():
    with pytest.raises(ImutrackError, match="sample rate"):
        SimulatorConfig(sample_rate_hz=0.0)
    with pytest.raises(ImutrackError, match="a sensor axis must be one of"):
        SimulatorConfig(chest_normal_axis="z")


def test_short_holds_are_refused():
    with pytest.raises(ImutrackError, match="at least 10 s"):
        SimulatorConfig(hold_s=5.0)


def test_a_warming_sensor_adds_only_its_exponential_bias_and_leaves_every_other_draw_alone():
    cold = simulate(SimulatorConfig(seed=5, sample_rate_hz=50.0, **SHORT))
    warm_imu = ImuErrorModel(gyr_warmup_max_deg_s=0.2, gyr_warmup_tau_s=120.0)
    warm = simulate(SimulatorConfig(seed=5, sample_rate_hz=50.0, imu=warm_imu, **SHORT))
    t = warm.samples.t_s
    extra_deg_s = np.degrees(warm.samples.gyr_rad_s - cold.samples.gyr_rad_s)
    final_deg_s = extra_deg_s[-1] / -np.expm1(-t[-1] / 120.0)  # the full warm-up change per axis
    np.testing.assert_allclose(extra_deg_s, -np.expm1(-t / 120.0)[:, None] * final_deg_s, atol=1e-12)
    assert 0.0 < np.abs(final_deg_s).max() <= 0.2
    np.testing.assert_array_equal(warm.samples.acc_m_s2, cold.samples.acc_m_s2)
    np.testing.assert_array_equal(warm.truth.gyr_bias_rad_s, cold.truth.gyr_bias_rad_s)


def test_a_person_who_follows_prompts_turns_and_comes_back_when_asked_and_nothing_before_changes():
    # A made-up guide: turn left at 20 s, come back at 60 s, turn right at 80 s, come back at 120 s. The person reacts
    # after reaction_s; each prompt is told only once its batch has gone, and what was given before stays the same.
    cfg = SimulatorConfig(seed=5, reps_per_side=1, hold_s=30.0, sample_rate_hz=50.0, neutral_s=5.0, duration_s=150.0,
                          reaction_s=0.7)
    asks = [(20.0, ("turn", 20.0, "left")), (60.0, ("return", 60.0, None)), (80.0, ("turn", 80.0, "right")),
            (120.0, ("return", 120.0, None))]
    given = []

    def respond(batch):
        given.append(batch)
        return [said for at, said in asks if batch.t_s[0] <= at <= batch.t_s[-1]]

    session = follow(cfg, respond)
    t = np.concatenate([b.t_s for b in given])
    np.testing.assert_array_equal(t, session.samples.t_s)
    np.testing.assert_array_equal(np.vstack([b.gyr_rad_s for b in given]), session.samples.gyr_rad_s)
    np.testing.assert_array_equal(np.vstack([b.acc_m_s2 for b in given]), session.samples.acc_m_s2)
    reps = session.truth.reps
    assert [r.side for r in reps] == ["left", "right"]
    # turns begin reaction_s after the prompt (the truth reports the onset a little into the movement), and the hold
    # lasts until the person is asked back, not the 30 s planned
    for rep, (turn_at, back_at) in zip(reps, [(20.0, 60.0), (80.0, 120.0)]):
        assert turn_at + 0.7 < rep.turn_start_s < turn_at + 1.2
        assert back_at + 0.7 < rep.hold_end_s < back_at + 1.2
    twist = session.truth.twist_deg
    quiet = (session.truth.t_s > 8.0) & (session.truth.t_s < 20.5)
    assert np.abs(twist[quiet]).max() < 1.0  # until asked, the person sits facing forward
    assert session.samples.duration_s == pytest.approx(150.0, abs=0.05)


def test_following_prompts_needs_a_reaction_longer_than_a_batch_and_a_known_duration():
    with pytest.raises(ImutrackError, match="reaction"):
        follow(SimulatorConfig(duration_s=100.0, reaction_s=0.05), lambda batch: [])
    with pytest.raises(ImutrackError, match="duration_s"):
        SimulatorConfig(follow_prompts=())
