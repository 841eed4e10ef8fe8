"""End to end on a shipped recording against a stored result: any change of a number must be deliberate
(note it under "Scientific changes" in CHANGELOG.md, then regenerate with IMUTRACK_UPDATE_SNAPSHOTS=1)."""

import json
import os

import pytest

from imutrack.analysis import analyze
from tests.conftest import REPO

RECORDING = REPO / "recordings" / "simulated-session.csv"
SNAPSHOT = REPO / "tests" / "snapshots" / "simulated-session.json"


def comparable(document: dict) -> dict:
    return {key: document[key] for key in ("neutral", "reps", "holds", "session", "gyro_bias_deg_s")}


def assert_same(got, want, where="result"):
    if isinstance(want, dict):
        assert set(got) == set(want), f"{where}: keys differ"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for k, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{k}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-6), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def test_shipped_recording_matches_its_snapshot():
    result = comparable(analyze(RECORDING).to_dict())
    if os.environ.get("IMUTRACK_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    assert_same(result, json.loads(SNAPSHOT.read_text(encoding="utf-8")))


def test_snapshot_agrees_with_the_simulator_truth():
    truth = json.loads((REPO / "recordings" / "simulated-session.truth.json").read_text(encoding="utf-8"))
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert [h["side"] for h in snapshot["holds"]] == [r["side"] for r in truth["reps"]]
    for hold, rep in zip(snapshot["holds"], truth["reps"]):
        assert hold["mean_twist_deg"] == pytest.approx(rep["mean_twist_deg"], abs=0.5)
        assert hold["forced"] == rep["forced"]
    assert snapshot["session"]["time_slot"] == "morning"
