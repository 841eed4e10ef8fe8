"""Every reader, importer, decoder and the store's open path, fuzzed in a process of bounded memory (tests/fuzz.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"imutrack-csv", "phyphox", "sensor-logger", "polar-logger", "generic-csv", "zip", "phyphox-live", "store",
           "ble-diy", "ble-witmotion", "ble-thingy52", "ble-movesense", "ble-polar-sense", "ble-polar-h10"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the memory cap reads /proc (Linux)")
def test_no_input_gives_a_traceback_or_takes_more_than_500_mb():
    run = subprocess.run([sys.executable, "-m", "tests.fuzz", "--examples", "150", "--memory-mb", "500"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    failures = [row for row in rows if "failure" in row]
    assert not failures, failures[0]["failure"]
    assert run.returncode == 0, run.stderr[-2000:]
    assert {row["target"] for row in rows} == TARGETS
    for row in rows:
        assert row["taken"] + row["refused"] >= 150, row
        assert row["peak_rss_mb"] < 500, row
    # the mutations reach both sides: some inputs are read, some refused, for every file format
    for row in rows:
        if not row["target"].startswith("ble-"):
            assert row["taken"] > 0 and row["refused"] > 0, row
