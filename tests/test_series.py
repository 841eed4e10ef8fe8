"""The analysis's written-out numerics against the library routines (or the plain maths) they stand in for: the
same numbers to rounding on random input, edge cases included."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

from imutrack.intervals import runs
from imutrack.metrics import _band, _periodogram, _quadratic_trend, _savgol_slope
from imutrack.rests import block_mean, up_from_orientation
from imutrack.samples import ImuSamples
from imutrack.orientation import BiasModel
from imutrack.series import CHUNK_SAMPLES, column_mean, gradient, median
from imutrack.trunk import trunk_angles_deg, twist_only_deg

seeds = st.integers(0, 2**32 - 1)


@given(st.integers(2, 400), seeds)
def test_gradient_is_numpys_on_uneven_steps(n, seed):
    rng = np.random.default_rng(seed)
    t_s = np.cumsum(rng.uniform(0.001, 0.2, n)) + rng.uniform(0, 3600)
    values = np.cumsum(rng.normal(0.0, 1.0, n))
    assert np.allclose(gradient(values, t_s), np.gradient(values, t_s), rtol=1e-9, atol=1e-9)


@given(st.integers(0, 400), st.integers(0, 3), seeds)
def test_median_is_numpys_to_the_bit_nan_included(n, nans, seed):
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(0.0, 1.0, n), int(rng.integers(0, 4)))  # rounded: ties in the middle, too
    values[rng.integers(0, n, nans if n else 0)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (numpy warns about the median of nothing)
        want = float(np.median(values))
    got = median(values)
    assert got == want or (np.isnan(got) and np.isnan(want))


@given(st.lists(st.booleans(), max_size=60))
def test_runs_are_the_true_stretches_of_a_mask(mask):
    want, start = [], None
    for i, value in enumerate(mask + [False]):  # (a plain walk along the mask)
        if value and start is None:
            start = i
        elif not value and start is not None:
            want.append((start, i))
            start = None
    assert runs(np.array(mask, dtype=bool)) == want == runs(mask)


@given(st.integers(1, 5000), st.integers(1, 4), seeds)
def test_column_mean_is_numpys_mean_over_rows(n, k, seed):
    values = np.random.default_rng(seed).normal(9.8, 3.0, (n, 8))[:, 2:2 + k]  # (columns of a wider table)
    assert np.allclose(column_mean(values), values.mean(axis=0), rtol=1e-13, atol=1e-13)


@given(st.integers(1, 60), st.integers(0, 2000), st.booleans(), seeds)
def test_bias_at_times_is_numpys_interpolation_per_axis_to_the_bit(knots, n, on_samples, seed):
    rng = np.random.default_rng(seed)
    t_s = np.sort(rng.uniform(-5.0, 60.0, n))
    if on_samples and n >= knots:  # knots on sample times (ties at a segment's start) or between them
        at = np.unique(rng.choice(t_s, knots, replace=False))
    else:
        at = np.unique(rng.uniform(0.0, 55.0, knots))
    model = BiasModel(at, rng.normal(0.0, 0.01, (len(at), 3)))
    for times in (t_s, rng.permutation(t_s)):  # in order (written out) and not (numpy's own)
        want = np.column_stack([np.interp(times, model.t_s, model.bias_rad_s[:, k]) for k in range(3)])
        assert np.array_equal(model.at(times), want)


@given(st.integers(5, 300), st.sampled_from([5, 7, 9, 25]), seeds)
def test_savitzky_golay_slope_is_scipys_with_its_interp_edges(n, window, seed):
    values = np.cumsum(np.random.default_rng(seed).normal(0.0, 1.0, n))
    if window > n:
        window = 5
    assert np.allclose(_savgol_slope(values, window), savgol_filter(values, window, 2, deriv=1), atol=1e-10)


@given(st.integers(4, 8000), seeds)
def test_quadratic_trend_is_polyfits(n, seed):
    rng = np.random.default_rng(seed)
    t_s = 3000.0 + np.arange(n) * 0.01
    values = 40.0 + np.cumsum(rng.normal(0.0, 0.1, n))
    want = np.polyval(np.polyfit(t_s - t_s[0], values, 2), t_s - t_s[0])
    assert np.allclose(_quadratic_trend(t_s, values), want, atol=1e-8)


@settings(max_examples=30)
@given(st.lists(st.integers(8, 120), min_size=1, max_size=4), seeds)
def test_periodogram_is_the_share_a_least_squares_sinusoid_explains(lengths, seed):
    # the reference: per frequency, offsets per stretch plus a cosine and a sine fitted by lstsq
    rng = np.random.default_rng(seed)
    pieces_t, start = [], rng.uniform(0, 3000)
    for n in lengths:
        pieces_t.append(start + np.arange(n) * 0.4)
        start = pieces_t[-1][-1] + rng.uniform(1.0, 10.0)
    t = np.concatenate(pieces_t)
    y = np.sin(2 * np.pi * 0.23 * t) + rng.normal(0.0, 0.5, len(t))
    which = np.repeat(np.arange(len(lengths)), lengths)
    y -= (np.bincount(which, y) / np.array(lengths))[which]
    freqs = np.arange(0.08, 0.8, 0.01)
    want = []
    for f in freqs:
        design = np.column_stack([which == k for k in range(len(lengths))]
                                 + [np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)]).astype(float)
        fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
        want.append(float(fitted @ fitted) / float(y @ y))
    assert np.allclose(_periodogram(pieces_t, y, freqs), want, atol=1e-8)


@given(st.integers(100, 3000), st.sampled_from([100.0, 52.0, 200.0, 1000.0]), seeds)
def test_block_means_are_the_blocks_means(n, rate_hz, seed):
    rng = np.random.default_rng(seed)
    samples = ImuSamples(np.arange(n) / rate_hz, rng.normal(0, 1, (n, 3)), rng.normal(9.8, 1, (n, 3)))
    coarse = block_mean(samples, 12.5)
    k = {100.0: 8, 52.0: 4, 200.0: 16, 1000.0: 80}[rate_hz]  # whole blocks, however the rate rounds
    m = n // k * k
    assert len(coarse) == n // k
    for got, full in ((coarse.t_s, samples.t_s), (coarse.gyr_rad_s, samples.gyr_rad_s),
                      (coarse.acc_m_s2, samples.acc_m_s2)):
        want = full[:m].reshape(n // k, k, -1).mean(axis=1)
        assert np.allclose(got.reshape(len(got), -1), want, rtol=1e-13, atol=1e-13)


def _swing_twist_reference(quat_wxyz, neutral_wxyz, forward):
    """Twist, flexion, lean (deg) by scipy's rotations: rel = q q0⁻¹ = twist(z) swing, the twist's angle from the
    quaternion's z and w, the swing's rotation vector split along left and forward."""
    rel = Rotation.from_quat(quat_wxyz, scalar_first=True) * Rotation.from_quat(neutral_wxyz, scalar_first=True).inv()
    q = rel.as_quat(scalar_first=True)
    heading = 2.0 * np.arctan2(q[:, 3], q[:, 0])
    swing = Rotation.from_euler("z", heading[:, None]).inv() * rel
    vec = np.degrees(swing.as_rotvec())
    left = np.cross([0.0, 0.0, 1.0], forward)
    return np.degrees((heading + np.pi) % (2 * np.pi) - np.pi), vec @ left, -(vec @ forward)


def test_trunk_angles_are_the_swing_twist_split_of_scipys_rotations():
    rng = np.random.default_rng(7)
    neutral = Rotation.random(random_state=rng).as_quat(scalar_first=True)
    # realistic poses (twist within ±90°, swings within 40°) about a random mounting, and exact edge cases
    n = 2 * CHUNK_SAMPLES + 123  # (whole recordings are done a chunk at a time: three of them)
    heading = Rotation.from_euler("z", rng.uniform(-90, 90, (n, 1)), degrees=True)
    swing = Rotation.from_rotvec(np.column_stack([rng.normal(0, 0.3, (n, 2)), np.zeros(n)]))
    poses = heading * swing * Rotation.from_quat(neutral, scalar_first=True)
    quat = np.vstack([poses.as_quat(scalar_first=True), neutral, -neutral])
    forward = np.array([0.6, 0.8, 0.0])
    got = trunk_angles_deg(quat, neutral, forward)
    want = _swing_twist_reference(quat, neutral, forward)
    for g, w in zip(got, want):
        assert np.allclose(g, w, atol=1e-9)
    assert np.allclose(twist_only_deg(quat, neutral), got[0], atol=1e-12)
    assert np.allclose(got[1][-2:], 0.0) and np.allclose(got[0][-2:], 0.0)  # q and -q: the same pose


def test_up_in_the_sensor_frame_is_the_inverse_rotation_of_up():
    rotations = Rotation.random(500, random_state=3)
    up = up_from_orientation(rotations.as_quat(scalar_first=True))
    assert np.allclose(up, rotations.inv().apply([0.0, 0.0, 1.0]), atol=1e-12)


@pytest.mark.parametrize("rel", [[1, 0, 0, 0], [0.6, 0, 0, 0.8], [0, 0.6, 0.8, 0], [1e-13, 0.6, 0.8, 1e-13],
                                 [0.8, 0.6, 0, 0]])
def test_trunk_angles_at_the_edges_a_still_trunk_a_pure_twist_a_half_turn_swing(rel):
    rel = np.array(rel, dtype=float)
    twist, flexion, lean = (a[0] for a in trunk_angles_deg(rel[None, :], np.array([1.0, 0, 0, 0]),
                                                             np.array([1.0, 0.0, 0.0])))
    assert twist_only_deg(rel[None, :], np.array([1.0, 0, 0, 0]))[0] == pytest.approx(twist, abs=1e-9)
    if rel[0] ** 2 + rel[3] ** 2 < 1e-12:  # a swing of 180°: no twist, the swing is rel itself
        assert twist == 0.0 and np.hypot(flexion, lean) == pytest.approx(180.0)
    else:
        assert twist == pytest.approx(np.degrees(2 * np.arctan2(rel[3], rel[0])))
        swing = Rotation.from_euler("z", twist, degrees=True).inv() * Rotation.from_quat(rel, scalar_first=True)
        assert np.hypot(flexion, lean) == pytest.approx(np.degrees(np.linalg.norm(swing.as_rotvec())), abs=1e-9)


@given(st.integers(31, 3000), st.sampled_from([(0.5, 3.0), (4.0, 12.0)]), seeds)
def test_zero_phase_band_pass_is_scipys_sosfiltfilt_for_one_series_and_for_channels(n, band, seed):
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    channels = np.cumsum(rng.normal(0.0, 1.0, (n, 3)), axis=0)
    sos = butter(2, band, btype="bandpass", fs=100.0, output="sos")
    want = sosfiltfilt(sos, channels, axis=0)
    assert np.allclose(_band(np.ascontiguousarray(channels.T), 100.0, band), want.T, atol=1e-9)
    assert np.allclose(_band(channels[:, 1], 100.0, band), want[:, 1], atol=1e-9)
