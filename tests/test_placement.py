"""How the sensor is worn: facing into the chest is found from the turns (and measured right), a phone upside down
from gravity; neither is claimed without turns enough to tell."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imutrack.analysis import AnalysisParams, analyze
from imutrack.errors import ImutrackWarning
from imutrack.live import Guide, GuideConfig
from imutrack.placement import check_placement
from imutrack.sources.simulator import SimulatorConfig, simulate


def _turned(samples, signs):
    """The same motion seen by the sensor turned round: each axis multiplied by its sign (a proper rotation)."""
    signs = np.asarray(signs, dtype=float)
    return dataclasses.replace(samples, acc_m_s2=samples.acc_m_s2 * signs, gyr_rad_s=samples.gyr_rad_s * signs)


@pytest.fixture(scope="module")
def session():
    return simulate(SimulatorConfig(seed=3, sample_rate_hz=100.0, slouch_probability=1.0))


@pytest.fixture(scope="module")
def worn_right(session):
    return analyze(session.samples, meta=session.recording_meta())


def test_worn_as_declared_nothing_is_said(worn_right):
    assert not any("chest" in w or "upside" in w for w in worn_right.warnings)
    assert all(h.slouch_fraction > 0.05 for h in worn_right.holds)  # this person slouches in every hold


def test_a_sensor_facing_into_the_chest_is_found_and_measured_the_right_way_round(session, worn_right):
    inward = _turned(session.samples, [-1, 1, -1])  # turned half round about its vertical y axis: z into the chest
    with pytest.warns(ImutrackWarning, match="facing into the chest"):
        result = analyze(inward, meta=session.recording_meta())
    assert "measured with -z as the chest's front" in result.warnings[0]
    assert result.params.chest_normal_axis is None  # the parameters as asked, not as corrected
    for fixed, right in zip(result.holds, worn_right.holds, strict=True):
        assert fixed.mean_twist_deg == pytest.approx(right.mean_twist_deg, abs=0.05)
        assert fixed.slouch_fraction == pytest.approx(right.slouch_fraction, abs=0.01)
    np.testing.assert_allclose(result.flexion_deg, worn_right.flexion_deg, atol=0.05)


def test_an_axis_the_person_chose_is_kept_and_questioned(session):
    inward = _turned(session.samples, [-1, 1, -1])
    with pytest.warns(ImutrackWarning, match="behind the chest axis given"):
        result = analyze(inward, AnalysisParams(chest_normal_axis="+z"), meta=session.recording_meta())
    assert max(h.slouch_fraction for h in result.holds) == 0.0  # slouching reads as leaning back, as warned


def test_a_phone_upside_down_is_mentioned_and_measures_the_same(session, worn_right):
    meta = dataclasses.replace(session.recording_meta(), sensor_frame="phone: x right, y up, z out of the screen")
    # the simulated sensor has x down and z out of the chest; a phone upright has y up: x_phone = y, y_phone = −x
    s = session.samples
    upright_phone = dataclasses.replace(s, acc_m_s2=s.acc_m_s2[:, [1, 0, 2]] * [1, -1, 1],
                                        gyr_rad_s=s.gyr_rad_s[:, [1, 0, 2]] * [1, -1, 1])
    upright = analyze(upright_phone, meta=meta)
    assert not any("upside down" in w or "chest" in w for w in upright.warnings)
    upside_down = _turned(upright_phone, [-1, -1, 1])  # turned half round about its z axis: top down
    with pytest.warns(ImutrackWarning, match="upside down"):
        result = analyze(upside_down, meta=meta)
    for a, b in zip(result.holds, upright.holds, strict=True):
        assert a.mean_twist_deg == pytest.approx(b.mean_twist_deg, abs=0.05)


def test_without_turns_nothing_is_claimed():
    t = np.arange(3000) / 100.0
    still = check_placement(t, np.tile([0.0, 0.0, 9.81], (3000, 1)), np.zeros((3000, 3)),
                            np.tile([0.0, 0.0, 1.0], (3000, 1)), "+x")
    assert still.facing == "unknown"


def test_the_live_guide_turns_the_axis_round_after_the_first_rep(session):
    def run(samples):
        guide = Guide(GuideConfig(reps_per_side=2, hold_s=40.0, rest_s=8.0))
        flexion, events = [], []
        for start in range(0, len(samples.t_s), 10):
            state = guide.update(samples.slice(start, start + 10))
            flexion.append((float(samples.t_s[min(start + 9, len(samples.t_s) - 1)]), state.flexion_deg))
            events += guide.take_events()
        return guide, np.array(flexion), events

    right, right_flexion, _ = run(session.samples)
    inward, inward_flexion, events = run(_turned(session.samples, [-1, 1, -1]))
    assert not right.state.facing_inward and inward.state.facing_inward
    [note] = [e for e in events if e.kind == "note"]
    assert "face into your chest" in note.text
    after = inward_flexion[:, 0] > note.t_s + 1.0
    np.testing.assert_allclose(inward_flexion[after, 1], right_flexion[after, 1], atol=0.5)
    assert "slouch" in " ".join(e.kind + e.text for e in events).lower()  # and the slouch is cued
