"""Code examples in the README and docs run as written (STYLE: examples never rot)."""

import re

import pytest

from imutrack.recording import RecordingMeta, write_recording
from imutrack.sources.simulator import SimulatorConfig, simulate
from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def python_blocks():
    for path in DOCS:
        for k, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)):
            yield pytest.param(block, id=f"{path.name}-{k}")


@pytest.mark.parametrize("code", list(python_blocks()))
def test_example_runs(code, tmp_path, monkeypatch, capsys):
    session = simulate(SimulatorConfig(seed=2, reps_per_side=1, hold_s=20.0, sample_rate_hz=50.0))
    write_recording(tmp_path / "session.csv", session.samples, RecordingMeta())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<example>", "exec"), {})
