"""Any CSV with time, gyroscope and accelerometer columns, given a column map and units.

``--columns t=Time,gx=GyroX,gy=GyroY,gz=GyroZ,ax=AccX,ay=AccY,az=AccZ`` (names, or 1-based column numbers; optional
``mx,my,mz``) and ``--units t=ms,gyr=deg/s,acc=g`` (time s|ms|us|ns, gyro rad/s|deg/s, accelerometer m/s2|g|mg,
magnetometer uT|nT|gauss). An accelerometer unit not given is chosen by the magnitude of gravity; one given that does
not fit gravity is refused with the reason.
"""

from __future__ import annotations

import numpy as np

from imutrack.errors import RecordingFormatError
from imutrack.io.merge import acc_unit_from_gravity, clean_times
from imutrack.io.tables import read_table
from imutrack.recording import RecordingMeta
from imutrack.samples import ImuSamples

KEYS = ("t", "gx", "gy", "gz", "ax", "ay", "az", "mx", "my", "mz")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
GYRO_UNITS = {"rad/s": 1.0, "deg/s": np.pi / 180.0}
MAG_UNITS = {"uT": 1.0, "nT": 1e-3, "gauss": 100.0}


def parse_mapping(text: str, what: str) -> dict[str, str]:
    """``a=b,c=d`` → {"a": "b", "c": "d"}; a clear error otherwise."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RecordingFormatError(f"{what}: expected key=value pairs separated by commas, got {part!r}")
        mapping[key.strip()] = value.strip()
    return mapping


MAX_GYRO_RAD_S = np.radians(1000.0)  # beyond a trunk's turns, and the usual full scale of a MEMS gyro
MAX_QUIET_GYRO_SD_RAD_S = 0.05  # a still sensor's gyro varies by far less (0.001-0.01 rad/s over a second)


def check_plausible(samples: ImuSamples, where: str, units: dict[str, str]) -> None:
    """Refuse numbers that no chest IMU gives, with the ``--units`` that would fix them: a rate outside 5–5000 Hz or
    a session of more than 12 h (time in another unit), a gyro beyond 1000 °/s, or one whose quietest second varies
    by more than 0.05 rad/s (degrees per second read as radians per second)."""
    rate, hours = samples.rate_hz, samples.duration_s / 3600.0
    said = units.get("t", "s")
    if not 5.0 <= rate <= 5000.0 or hours > 12.0:
        shorter = {"s": "ms", "ms": "us", "us": "ns"}.get(said)
        longer = {"ns": "us", "us": "ms", "ms": "s"}.get(said)
        guess = shorter if rate < 5.0 or hours > 12.0 else longer
        fix = f"; if the time column is in {guess}, say --units t={guess}" if guess else ""
        raise RecordingFormatError(
            f"{where}: read with time in {said}, the samples are {1.0 / rate:.3g} s apart ({rate:.3g} Hz) over "
            f"{hours:.3g} h: no chest sensor records like that{fix}")
    gyr = samples.gyr_rad_s
    width = max(2, int(round(rate)))
    seconds = len(gyr) // width
    with np.errstate(over="ignore", invalid="ignore"):  # rates like 1e305 overflow: not a number, refused below
        fast = float(np.percentile(np.hypot(np.hypot(gyr[:, 0], gyr[:, 1]), gyr[:, 2]), 99.9))
        quiet = float(np.min(np.median(gyr[:seconds * width].reshape(seconds, width, 3).std(axis=1), axis=1))) \
            if seconds else 0.0
    fast, quiet = (value if np.isfinite(value) else np.inf for value in (fast, quiet))
    if units.get("gyr", "rad/s") == "rad/s" and (fast > MAX_GYRO_RAD_S or quiet > MAX_QUIET_GYRO_SD_RAD_S):
        what = (f"reaches {fast:.3g} rad/s" if fast > MAX_GYRO_RAD_S else
                f"varies by {quiet:.3g} rad/s even in its quietest second")
        raise RecordingFormatError(
            f"{where}: read as rad/s, the gyroscope {what}, as no chest sensor does; if it is in degrees per second, "
            "say --units gyr=deg/s")


def read_generic(text: str, where: str, columns: dict[str, str], units: dict[str, str],
                 chest_axis: str = "+z") -> tuple[ImuSamples, RecordingMeta, list[str]]:
    table = read_table(text, where)
    missing = [k for k in KEYS[:7] if k not in columns]
    if missing:
        raise RecordingFormatError(f"{where}: --columns must name {', '.join(missing)} (have {', '.join(columns)})")
    unknown = [k for k in columns if k not in KEYS]
    if unknown:
        raise RecordingFormatError(f"{where}: unknown --columns keys {', '.join(unknown)} (use {', '.join(KEYS)})")

    def index(key: str) -> int:
        name = columns[key]
        if name.isdigit() and 1 <= int(name) <= len(table.header):
            return int(name) - 1
        if name in table.header:
            return table.header.index(name)
        raise RecordingFormatError(f"{where}:1: no column {name!r} for {key} (columns: {', '.join(table.header)})")

    def unit(kind: str, choices: dict[str, float], default: str | None) -> float | None:
        chosen = units.get(kind, default)
        if chosen is None:
            return None
        if chosen not in choices:
            raise RecordingFormatError(f"{where}: unknown {kind} unit {chosen!r} (use {', '.join(choices)})")
        return choices[chosen]

    v = table.values
    t = v[:, index("t")] * unit("t", TIME_UNITS, "s")
    gyr = v[:, [index(k) for k in ("gx", "gy", "gz")]] * unit("gyr", GYRO_UNITS, "rad/s")
    acc = v[:, [index(k) for k in ("ax", "ay", "az")]]
    acc = acc * acc_unit_from_gravity(acc, where, units.get("acc"))
    has_mag = all(k in columns for k in ("mx", "my", "mz"))
    mag = v[:, [index(k) for k in ("mx", "my", "mz")]] * unit("mag", MAG_UNITS, "uT") if has_mag else None
    both = np.hstack([gyr, acc] + ([mag] if has_mag else []))
    t, both, dropped = clean_times(t, both)
    notes = [f"{where} {s}" for s in table.skipped]
    if dropped:
        notes.append(f"{dropped} rows with a time that does not increase were left out")
    if len(t) < 2:
        raise RecordingFormatError(f"{where}: fewer than two usable rows")
    samples = ImuSamples(t - t[0], both[:, 0:3], both[:, 3:6], both[:, 6:9] if has_mag else None)
    check_plausible(samples, where, units)
    meta = RecordingMeta(device="generic CSV", profile="generic", chest_normal_axis=chest_axis,
                         sample_rate_hz=round(samples.rate_hz, 3))
    return samples, meta, notes
