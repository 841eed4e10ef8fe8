"""Twist accuracy on real IMU data with optical truth (BROAD subset in ../shared; skipped when absent)."""

import sys

import numpy as np
import pytest

from tests.conftest import REPO, SHARED

BROAD = SHARED / "data" / "broad"
pytestmark = pytest.mark.skipif(not (BROAD / "BASELINE.md").exists(),
                                reason="BROAD reference data (../shared/data/broad) is not present")


@pytest.fixture(scope="module")
def results():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import accuracy

    return accuracy.broad_results(), accuracy.baseline_table()


def test_the_twist_metric_reproduces_the_published_baseline(results):
    measured, published = results
    for trial, row in published.items():
        assert measured[trial]["vqf6"][0] == pytest.approx(row[0], abs=0.01)


def test_median_of_all_60_s_windows_is_below_one_degree(results):
    measured, _ = results
    pooled = np.concatenate([r["ours6_windows"] for r in measured.values()])
    assert len(pooled) > 30
    assert np.median(pooled) < 1.0


def test_no_trial_worse_than_the_baseline_9d(results):
    measured, published = results
    for trial, row in published.items():
        assert measured[trial]["ours9"][0] <= row[1]


def test_6d_trials_are_at_most_a_tenth_of_a_degree_worse_than_the_baseline(results):
    # Known gap (docs/accuracy.md): two trials (24, 30) stay 0.1° above the baseline's whole-trial figure, the
    # others are better; a gyro bias off by 0.005 °/s (the drift between a trial's rests) moves these figures by
    # ±0.2°, so the gap is within what no bias estimate can settle in 6D.
    measured, published = results
    worse = {trial: measured[trial]["ours6"][0] - row[0] for trial, row in published.items()}
    assert max(worse.values()) <= 0.15, worse
    assert sum(v < 0 for v in worse.values()) >= 4, worse
