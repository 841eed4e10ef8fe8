import numpy as np
import pytest

from imutrack.errors import ImutrackError, InvalidSamplesError
from imutrack.samples import ImuSamples


def make(n=5, mag=False):
    t = np.arange(n) * 0.01
    v = np.ones((n, 3))
    return ImuSamples(t, v, v * 9.81 / np.sqrt(3), v if mag else None)


def test_valid_block_is_float64_contiguous_and_reports_rate():
    s = make(100)
    assert s.gyr_rad_s.dtype == np.float64 and s.gyr_rad_s.flags.c_contiguous
    assert s.rate_hz == pytest.approx(100.0)
    assert s.duration_s == pytest.approx(0.99)
    assert not s.has_mag and make(3, mag=True).has_mag


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(gyr_rad_s=np.ones((4, 3))), "gyr_rad_s must have shape (5, 3)"),
        (dict(acc_m_s2=np.ones((5, 2))), "acc_m_s2 must have shape (5, 3)"),
        (dict(t_s=np.array([0, 0.1, 0.1, 0.2, 0.3])), "sample 2"),
        (dict(t_s=np.array([0, 0.1, np.nan, 0.2, 0.3])), "t_s has a non-finite value at sample 2"),
        (dict(mag_uT=np.full((5, 3), np.inf)), "mag_uT has a non-finite value at sample 0"),
    ],
)
def test_invalid_blocks_are_rejected_with_a_message_naming_the_problem(change, message):
    base = dict(t_s=np.arange(5) * 0.1, gyr_rad_s=np.zeros((5, 3)), acc_m_s2=np.zeros((5, 3)), mag_uT=None)
    base.update(change)
    with pytest.raises(InvalidSamplesError) as info:
        ImuSamples(**base)
    assert message in str(info.value)
    assert isinstance(info.value, ImutrackError)


def test_slice_is_half_open_and_concatenate_restores_the_block():
    s = make(10, mag=True)
    parts = [s.slice(0, 4), s.slice(4, 10)]
    assert len(parts[0]) == 4
    joined = ImuSamples.concatenate(parts)
    np.testing.assert_array_equal(joined.t_s, s.t_s)
    np.testing.assert_array_equal(joined.mag_uT, s.mag_uT)
    with pytest.raises(InvalidSamplesError):
        ImuSamples.concatenate([make(3), make(3, mag=True)])


def test_the_median_step_is_kept_and_the_rate_is_its_inverse():
    samples = ImuSamples(np.array([0.0, 0.01, 0.02, 0.05, 0.06]), np.zeros((5, 3)), np.zeros((5, 3)))
    assert samples.step_s == pytest.approx(0.01) and samples.rate_hz == pytest.approx(100.0)
    single = ImuSamples(np.array([0.0]), np.zeros((1, 3)), np.zeros((1, 3)))
    assert np.isnan(single.step_s) and np.isnan(single.rate_hz)
