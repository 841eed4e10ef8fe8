"""The gyro's scale from whole turns on a swivel chair (imutrack/calibration.py), against the simulator's known
scale and cross-axis errors; kept per device and applied by the analysis."""

import json

import numpy as np
import pytest

from imutrack.analysis import analyze
from imutrack.calibration import estimate, save, saved
from imutrack.cli import main
from imutrack.errors import ImutrackError
from imutrack.recording import RecordingMeta, write_recording
from imutrack.sources.simulator import ImuErrorModel, SimulatorConfig, simulate, simulate_calibration

# A poor gyro: up to 2 % scale and 0.5 % cross-axis error, 0.5 °/s bias; worn tilted.
POOR = ImuErrorModel(gyr_scale_max=0.02, gyr_cross_axis_max=0.005, gyr_bias_max_deg_s=0.5)


@pytest.fixture(scope="module")
def session():
    return simulate(SimulatorConfig(seed=8, reps_per_side=2, sample_rate_hz=50.0, mount_tilt_deg=30.0, imu=POOR,
                                    forced_probability=0.0))


@pytest.mark.parametrize("turns", [3, -2, 1])
def test_whole_turns_give_the_scale_about_the_worn_vertical(session, turns):
    calibration = estimate(simulate_calibration(session.truth, turns).samples, device="s")
    axis = np.array(calibration.axis)
    true_scale = axis @ session.truth.gyr_matrix @ axis  # what the gyro reads per true rate about that axis
    assert abs(true_scale - 1.0) > 0.005  # there is something to find
    assert calibration.scale == pytest.approx(true_scale, abs=2e-4)
    assert calibration.turns == turns
    up_worn = session.samples.acc_m_s2[:100].mean(axis=0)
    assert axis @ (up_worn / np.linalg.norm(up_worn)) > 0.99  # the direction that is vertical when worn


def test_the_analysis_applies_the_kept_calibration_of_the_recordings_device(session, tmp_path):
    meta = RecordingMeta(device="chest-7", chest_normal_axis=session.config.chest_normal_axis)
    path = write_recording(tmp_path / "s.csv", session.samples, meta)
    truth = [r.mean_twist_deg for r in session.truth.reps]
    before = analyze(path)
    assert before.calibration is None
    calibration = estimate(simulate_calibration(session.truth, 3).samples, device="chest-7")
    save(calibration)
    assert saved("chest-7") == calibration and saved("another") is None
    after = analyze(path)
    assert after.calibration == calibration and after.to_dict()["gyro_calibration"]["scale"] == calibration.scale
    errors_before = np.abs([h.mean_twist_deg - t for h, t in zip(before.holds, truth)])
    errors_after = np.abs([h.mean_twist_deg - t for h, t in zip(after.holds, truth)])
    assert errors_before.max() > 0.5 and errors_after.max() < 0.35, (errors_before, errors_after)
    assert analyze(path, calibration=None).calibration is None


def test_turns_that_are_not_whole_or_a_sensor_turned_by_hand_are_refused(session):
    turns = simulate_calibration(session.truth, 3).samples
    with pytest.raises(ImutrackError, match="whole turns"):
        estimate(turns, turns=2)  # told two, turned three: 50 % off
    still = session.samples.slice(0, 300)
    with pytest.raises(ImutrackError, match="a still moment before the turns and another after them"):
        estimate(still)


def test_cli_calibrate_then_analyze(tmp_path, capsys):
    turns, recording = tmp_path / "turns.csv", tmp_path / "s.csv"
    assert main(["simulate", str(turns), "--seed", "9", "--calibration-turns", "3", "--rate", "50"]) == 0
    assert main(["simulate", str(recording), "--seed", "9", "--reps", "1", "--rate", "50"]) == 0
    assert main(["analyze", str(recording)]) == 0
    assert "gyro scale not calibrated" in " ".join(capsys.readouterr().out.split())
    assert main(["calibrate", str(turns)]) == 0
    assert "simulator 9: gyro scale" in " ".join(capsys.readouterr().out.split())
    assert main(["analyze", str(recording), "--json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert document["gyro_calibration"]["device"] == "simulator 9" and document["gyro_calibration"]["turns"] == 3
    config = tmp_path / "cal.json"
    config.write_text("{not json", encoding="utf-8")
    assert main(["calibrate", str(turns), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the saved calibrations" in err
