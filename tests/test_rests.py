"""The rest stage (imutrack/rests.py): still stretches, rests, the bias fit and what each rep is measured from,
against hand-built signals and simulator truth; and the analysis on starts that real recordings have."""

import json
import warnings

import numpy as np
import pytest

from imutrack.analysis import analyze
from imutrack.errors import ImutrackWarning
from imutrack.orientation import BiasModel
from imutrack.recording import RecordingMeta, read_recording
from imutrack.rests import BiasFit, RestObservation, RestParams, still_stretches, stretch_bias
from imutrack.samples import ImuSamples
from imutrack.sources.simulator import ImuErrorModel, SimulatorConfig, simulate
from tests.conftest import SHARED
from tests.handling import samples_along

# The scale and cross-axis errors of a gyro bend a 50° twist by up to ~0.5° whatever the bias (docs/accuracy.md);
# these tests judge the rest stage, so their sensor has none.
NO_SCALE = ImuErrorModel(gyr_bias_max_deg_s=0.6, gyr_scale_max=0.0, gyr_cross_axis_max=0.0)


def breathing_still(duration_s: float, pitch_pp_deg: float, per_min: float, bias_rad_s, rate_hz: float = 100.0):
    """Sitting still and breathing: the sensor (z forward, tilted 20° about its x axis) pitches about the trunk's
    left axis, nothing else moves."""
    t = np.arange(int(duration_s * rate_hz) + 1) / rate_hz
    pitch = np.radians(pitch_pp_deg) * 0.5 * (1 - np.cos(2 * np.pi * per_min / 60.0 * t))
    from scipy.spatial.transform import Rotation

    upright = Rotation.from_euler("x", -90, degrees=True)  # sensor z forward, y up
    mount = Rotation.from_euler("x", 20, degrees=True)
    orientation = (Rotation.from_rotvec(np.outer(pitch, [0.0, 1.0, 0.0])) * upright * mount)
    return samples_along(orientation.as_quat(scalar_first=True), rate_hz, 0.0, bias_rad_s)


def test_a_still_start_with_deep_breathing_is_still_and_its_bias_has_the_breath_taken_out():
    bias = np.radians([0.3, -0.4, 0.5])
    samples = breathing_still(3.0, 2.5, 18.0, bias)  # less than a whole breath in the still part
    stretches = still_stretches(samples)
    assert len(stretches) == 1 and samples.t_s[stretches[0][1] - 1] - samples.t_s[stretches[0][0]] > 2.0
    estimate, up = stretch_bias(samples, stretches[0])
    plain = samples.gyr_rad_s[stretches[0][0]:stretches[0][1]].mean(axis=0)
    assert np.degrees(np.abs(plain - bias)).max() > 0.2  # the net pitch of a part-breath reads as bias ...
    np.testing.assert_allclose(np.degrees(estimate), np.degrees(bias), atol=0.03)  # ... and is taken out
    assert up @ np.array([0.0, 0.0, 1.0]) < 0.5  # the sensor's z points forward, not up


def observations(levels_deg, rates_deg_s, times_s, steps_deg=None):
    """Rests 10 s long ending at ``times_s``, upright (up = sensor z), no horizontal bias."""
    up = np.array([0.0, 0.0, 1.0])
    steps_deg = steps_deg or [0.0] * len(levels_deg)
    out = []
    for k, (level, rate, end) in enumerate(zip(levels_deg, rates_deg_s, times_s)):
        swept = up * (end - times_s[k - 1]) if k else np.zeros(3)
        out.append(RestObservation(end - 10.0, end, end - 5.0, end, level, rate, np.zeros(3), up,
                                   steps_before_deg=steps_deg[k], up_integral_s=swept,
                                   faces_forward=k < len(levels_deg) - 1))
    return out


def test_the_bias_fit_takes_settling_rests_from_their_levels():
    # Bias 0.1 °/s; people came back to face forward each time (levels = the bias's integral), but settled in every
    # rest, so each rest's mean rate is off by up to 0.2 °/s.
    times = np.array([10.0, 90.0, 170.0, 250.0, 330.0])
    settle = [0.0, 0.2, -0.15, 0.12, -0.2]
    fit = BiasFit().fit(observations(list(0.1 * (times - 7.5)), list(0.1 + np.array(settle)), list(times)))
    np.testing.assert_allclose(fit.vertical_deg_s_[:-1], 0.1, atol=0.01)
    # the last rest has no turn after it (its level need not face forward): its settled rate counts for more there
    np.testing.assert_allclose(fit.vertical_deg_s_[-1], 0.1, atol=0.02)
    assert isinstance(fit.model_, BiasModel)
    np.testing.assert_allclose(np.degrees(fit.model_.at(np.array([50.0]))[0, 2]), 0.1, atol=0.01)


def test_the_bias_fit_takes_a_shift_on_the_seat_out_of_the_levels_and_distrusts_one_it_did_not_see():
    times = np.array([10.0, 90.0, 170.0, 250.0, 330.0])
    levels = 0.1 * (times - 7.5) + np.array([0.0, 0.0, 6.0, 6.0, 6.0])  # the person turned 6° on the seat
    seen = BiasFit().fit(observations(list(levels), [0.1] * 5, list(times), [0.0, 0.0, 6.0, 0.0, 0.0]))
    np.testing.assert_allclose(seen.vertical_deg_s_, 0.1, atol=0.005)
    unseen = BiasFit().fit(observations(list(levels), [0.1] * 5, list(times)))
    assert unseen.weights_[1] < 0.5 < min(unseen.weights_[[0, 2]])  # that link is down-weighted ...
    np.testing.assert_allclose(unseen.vertical_deg_s_, 0.1, atol=0.03)  # ... and the bias stays near the truth


def hold_errors(result, session):
    assert [h.side for h in result.holds] == [r.side for r in session.truth.reps]
    return np.array([h.mean_twist_deg - r.mean_twist_deg for h, r in zip(result.holds, session.truth.reps)])


@pytest.mark.parametrize("seed", [21, 22])
def test_a_short_still_start_with_deep_breathing_and_settling_rests(seed):
    cfg = SimulatorConfig(seed=seed, reps_per_side=2, neutral_s=2.5, breath_rest_pitch_deg=2.5,
                          breath_rest_bpm=16.0, settle_deg=3.0, mount_tilt_deg=35.0, imu=NO_SCALE)
    session = simulate(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImutrackWarning)
        result = analyze(session.samples)
    assert result.neutral.start_s < 1.0
    assert np.abs(hold_errors(result, session)).max() < 0.5


def test_a_recording_that_starts_mid_movement_is_measured_from_the_first_rest_and_says_so():
    session = simulate(SimulatorConfig(seed=23, reps_per_side=2, settle_deg=2.0, imu=NO_SCALE))
    first = session.truth.reps[0]
    start = first.hold_start_s + 10.0  # the recording starts in the first hold
    cut = session.samples.slice(int(np.searchsorted(session.samples.t_s, start)), len(session.samples))
    with pytest.warns(ImutrackWarning, match=r"comes before the first rest facing forward"):
        result = analyze(cut)
    assert result.neutral.start_s > first.hold_end_s  # the first hold is not taken for facing forward
    assert [h.side for h in result.holds] == [r.side for r in session.truth.reps]
    for hold, rep in zip(result.holds[1:], session.truth.reps[1:]):
        assert hold.mean_twist_deg == pytest.approx(rep.mean_twist_deg, abs=0.5)


def test_quick_alternating_turns_without_a_hold_are_reps_with_their_peaks():
    cfg = SimulatorConfig(seed=24, reps_per_side=3, hold_s=0.0, rest_s=6.0, neutral_s=3.0, settle_deg=1.5,
                          peak_twist_left_deg=50.0, peak_twist_right_deg=50.0, imu=NO_SCALE)
    session = simulate(cfg)
    result = analyze(session.samples)
    assert [r.side for r in result.reps] == [r.side for r in session.truth.reps] == ["left", "right"] * 3
    assert not any(r.has_hold for r in result.reps) and not result.holds
    for rep, truth in zip(result.reps, session.truth.reps):
        assert rep.peak_twist_deg == pytest.approx(truth.peak_twist_deg, abs=1.0)
    assert all(a.return_end_s <= b.turn_start_s for a, b in zip(result.reps, result.reps[1:]))


def test_a_start_that_no_rest_confirms_is_pointed_out():
    # A still start, one turn, and the recording ends in the hold: nothing shows where forward is but the start.
    session = simulate(SimulatorConfig(seed=25, reps_per_side=1, imu=NO_SCALE))
    rep = session.truth.reps[0]
    cut = session.samples.slice(0, int(np.searchsorted(session.samples.t_s, rep.hold_end_s - 5.0)))
    with pytest.warns(ImutrackWarning, match="no rest after a turn confirms it"):
        result = analyze(cut)
    assert "no rest after a turn confirms it" in " ".join(result.warnings)


INDEPENDENT = SHARED / "data" / "independent-sessions"


@pytest.mark.skipif(not INDEPENDENT.is_dir(), reason="../shared/data/independent-sessions is not here (CI has it)")
def test_sessions_from_an_independent_generator():
    errors = []
    for path in sorted(INDEPENDENT.glob("session-*[0-9].csv")):
        truth = json.loads(path.with_name(path.stem + ".truth.json").read_text(encoding="utf-8"))
        result = analyze(read_recording(path))
        assert [h.side for h in result.holds] == [h["side"] for h in truth["holds"]], path.name
        for hold, true in zip(result.holds, truth["holds"]):
            assert true["start_s"] - 1.0 < hold.hold_start_s < true["end_s"]
            errors.append(hold.mean_twist_deg - true["mean_twist_from_rest_deg"])
        assert result.holds[0].breath_rate_bpm == pytest.approx(truth["breath_rate_bpm"], abs=1.0)
    errors = np.abs(errors)
    assert len(errors) == 24 and errors.max() <= 0.5 and np.median(errors) <= 0.25, errors


def test_a_sensor_at_rest_is_one_still_stretch_less_its_margins():
    still = ImuSamples(np.arange(300) / 100.0, np.zeros((300, 3)), np.tile([0.0, 9.81, 0.0], (300, 1)))
    (a, b), = still_stretches(still, RestParams(still_margin_s=0.3))
    # (the stillness test runs on 25 Hz block means: the margins are exact to a block, 40 ms)
    assert still.t_s[a] == pytest.approx(0.3, abs=0.04) and still.t_s[b - 1] == pytest.approx(2.7, abs=0.04)
