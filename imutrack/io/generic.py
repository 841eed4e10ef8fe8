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
    meta = RecordingMeta(device="generic CSV", profile="generic", chest_normal_axis=chest_axis,
                         sample_rate_hz=round(samples.rate_hz, 3))
    return samples, meta, notes
