"""Putting separately clocked sensor streams on one timeline, and checking units by gravity."""

from __future__ import annotations

import numpy as np

from imutrack.errors import RecordingFormatError
from imutrack.frames import GRAVITY_M_S2
from imutrack.samples import ImuSamples

GAP_FACTOR = 3.0  # a step longer than this many median steps is a gap: nothing is interpolated across it


def clean_times(t_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop samples whose time is not finite or does not increase; returns (t, values, dropped)."""
    ok = np.isfinite(t_s) & np.isfinite(values).all(axis=1)
    t_s, values = t_s[ok], values[ok]
    keep = np.ones(len(t_s), dtype=bool)
    if len(t_s):
        running = np.maximum.accumulate(t_s)
        keep[1:] = t_s[1:] > running[:-1]
    return t_s[keep], values[keep], int((~ok).sum() + (~keep).sum())


def interpolate_columns(t_target: np.ndarray, t_s: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each column of ``values`` (sampled at ``t_s``) linearly interpolated at ``t_target``."""
    return np.column_stack([np.interp(t_target, t_s, values[:, k]) for k in range(values.shape[1])])


def interpolate_onto(t_target: np.ndarray, t_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values at ``t_target`` and a mask of where that is an interpolation (inside the stream, not across a gap)."""
    if len(t_s) < 2:
        return np.zeros((len(t_target), values.shape[1])), np.zeros(len(t_target), dtype=bool)
    step = float(np.median(np.diff(t_s)))
    right = np.searchsorted(t_s, t_target)
    inside = (right > 0) & (right < len(t_s))
    exact = np.zeros(len(t_target), dtype=bool)
    exact[right < len(t_s)] = t_s[right[right < len(t_s)]] == t_target[right < len(t_s)]
    r = np.clip(right, 1, len(t_s) - 1)
    no_gap = (t_s[r] - t_s[r - 1]) <= GAP_FACTOR * step
    valid = (inside & no_gap) | exact
    out = interpolate_columns(t_target, t_s, values)
    return out, valid


def merge_streams(
    gyr: tuple[np.ndarray, np.ndarray],
    acc: tuple[np.ndarray, np.ndarray],
    mag: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[ImuSamples, int]:
    """One timeline (the gyroscope's) for (t_s, values) streams: accelerometer and magnetometer are interpolated
    linearly onto it, never extrapolated and never across a gap. Returns the samples and how many gyro samples inside
    the recording (not at its ends, where the streams simply start at different moments) had to be dropped for want of
    accelerometer (or magnetometer) data around them."""
    t, g, _ = clean_times(*gyr)
    ta, a, _ = clean_times(*acc)
    acc_on_t, ok = interpolate_onto(t, ta, a)
    mag_on_t = None
    if mag is not None:
        tm, m, _ = clean_times(*mag)
        mag_on_t, ok_mag = interpolate_onto(t, tm, m)
        ok &= ok_mag
    samples = ImuSamples(t[ok], g[ok], acc_on_t[ok], None if mag_on_t is None else mag_on_t[ok])
    kept = np.flatnonzero(ok)
    inside = int((~ok[kept[0]:kept[-1] + 1]).sum()) if len(kept) else 0
    return samples, inside


def clock_at_zero(clock: str, seconds: float | None, offset_s: float = 0.0) -> dict[str, str]:
    """Header keys saying what an export's own clock read at ``t_s`` = 0 (``seconds`` + ``offset_s``), so two exports
    of one session can be put on one time base (``imutrack import --pelvis``): ``clock`` ("unix": the phone's
    Unix time; "polar": a Polar sensor's clock, set by the phone) and ``clock_at_zero_s``. None: no keys."""
    if seconds is None or not np.isfinite(seconds + offset_s):
        return {}
    return {"clock": clock, "clock_at_zero_s": f"{seconds + offset_s:.6f}"}


def local_time(epoch, seconds: float, zone=None) -> str:
    """``epoch`` plus ``seconds``, as ISO 8601 with its UTC offset: in ``zone`` (a ``tzinfo``: the one the export
    states) or, without one, this computer's; a naive ``epoch`` counts wall-clock time in that zone. "" when that is
    no time a clock can show (a garbled timestamp: the year −314918, say)."""
    from datetime import timedelta

    try:
        when = epoch + timedelta(seconds=float(seconds))
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone) if zone is not None else when.astimezone()
        return when.astimezone(zone).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return ""


def zone_named(text: str):
    """The ``tzinfo`` an export's text names — "UTC+01:00", "+0100", or an IANA name like "Europe/Berlin" — or None."""
    import re
    from datetime import timedelta, timezone

    text = (text or "").strip()
    match = re.search(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?\s*$", text)
    if match and (text.upper().startswith(("UTC", "GMT")) or text[:1] in "+-"):
        sign = 1 if match.group(1) == "+" else -1
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes >= 60:  # no zone on Earth is further than 14 h from UTC: garbled, not a zone
            return None
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if "/" in text:
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(text)
        except (ValueError, OSError, ImportError, KeyError):
            return None
    return None


ACC_UNITS = {"m/s2": 1.0, "g": GRAVITY_M_S2, "mg": GRAVITY_M_S2 / 1000.0}


def acc_unit_from_gravity(acc: np.ndarray, where: str, declared: str | None = None) -> float:
    """Scale (to m/s²) of an accelerometer stream, checked against gravity.

    The median magnitude over a session of sitting is close to 1 g. If ``declared`` is given it must agree; if not,
    the unit is chosen among m/s², g and mG by that magnitude. A stream with gravity removed, or magnitudes that fit
    no unit, is refused with the reason.
    """
    with np.errstate(over="ignore"):  # a garbled number like 1e300 squares to inf: it then fits no unit, as it should
        norm = float(np.median(np.linalg.norm(acc, axis=1))) if len(acc) else float("nan")
    fits = {unit: abs(norm * scale / GRAVITY_M_S2 - 1.0) < 0.2 for unit, scale in ACC_UNITS.items()}
    if declared is not None:
        if declared not in ACC_UNITS:
            raise RecordingFormatError(f"{where}: unknown accelerometer unit {declared!r} ({', '.join(ACC_UNITS)})")
        if fits[declared]:
            return ACC_UNITS[declared]
        guess = next((u for u, ok in fits.items() if ok), None)
        hint = f"; it looks like {guess}" if guess else ""
        raise RecordingFormatError(
            f"{where}: the accelerometer's typical magnitude is {norm:.3g} {declared}, not about 1 g{hint}"
        )
    for unit, ok in fits.items():
        if ok:
            return ACC_UNITS[unit]
    if norm < 0.3 * GRAVITY_M_S2 and norm > 0:
        raise RecordingFormatError(
            f"{where}: the accelerometer stream has gravity removed (typical magnitude {norm:.3g}); use the one that "
            "includes gravity"
        )
    raise RecordingFormatError(f"{where}: accelerometer magnitudes ({norm:.3g}) fit neither m/s², g nor mG")
