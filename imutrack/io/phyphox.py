"""phyphox exports (https://phyphox.org): a zip (or its unpacked folder, or one CSV) of tables.

Built-in experiments record one sensor ("Raw Data.csv"); recording the gyroscope and the accelerometer *with g*
together needs a user-made experiment, which exports one table per sensor, or one table with a ``Time (s)`` column
before each sensor's columns. Headers name the quantity and unit: Android ``"Gyroscope x (rad/s)"``,
``"Acceleration x (m/s^2)"``, ``"Linear Acceleration x (m/s^2)"`` (gravity removed: not usable), ``"Magnetic field x
(µT)"``; iOS writes ``"X (rad/s)"``, ``"X (m/s^2)"``. Any of five separator/decimal choices, quoted headers, a
missing final newline. Each sensor has its own clock (seconds since the experiment started); ``meta/time.csv`` gives
the start in system time.

Sensor frame: the phone's (x right, y up along the screen, z out of the screen). Strapped on the chest upright with
the screen facing outward, +z points forward (chest axis "+z"); screen inward: "-z".
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np

from imutrack.errors import RecordingFormatError
from imutrack.io.merge import acc_unit_from_gravity, clock_at_zero, local_time, merge_streams, zone_named
from imutrack.io.tables import Table, read_table
from imutrack.recording import RecordingMeta
from imutrack.samples import ImuSamples

_TIME = re.compile(r"^\s*(time|t)\s*\(s\)", re.IGNORECASE)


def _groups(table: Table) -> list[tuple[int, list[int]]]:
    """(time column, following value columns) groups."""
    groups: list[tuple[int, list[int]]] = []
    for k, name in enumerate(table.header):
        if _TIME.match(name):
            groups.append((k, []))
        elif groups:
            groups[-1][1].append(k)
    return groups


def _kind(names: list[str], file_name: str) -> str | None:
    text = " ".join(names).lower()
    if "rad/s" in text or "deg/s" in text or "°/s" in text:
        return "gyr"
    if "µt" in text or "ut)" in text or "magnetic" in text:
        return "mag"
    if "m/s^2" in text or "m/s²" in text or "m/s2" in text:
        if "linear" in text or "linear" in file_name.lower():
            return "linear"
        return "acc"
    return None


def read_phyphox(tables: dict[str, str], where: str, chest_axis: str = "+z") -> tuple[ImuSamples, RecordingMeta,
                                                                                         list[str]]:
    """Samples, metadata and notes from phyphox tables (member name → text)."""
    streams: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    notes: list[str] = []
    start_time, start_unix_s = "", None
    for name, text in sorted(tables.items()):
        if name.replace("\\", "/").split("/")[-2:-1] == ["meta"]:
            if name.endswith("time.csv"):
                start_time, start_unix_s = _start_time(text)
            continue
        table = read_table(text, f"{where}:{name}", allow_empty=True)
        notes += [f"{name} {s}" for s in table.skipped]
        for time_col, value_cols in _groups(table):
            if len(value_cols) < 3:
                continue
            cols = value_cols[:3]
            kind = _kind([table.header[c] for c in cols], name)
            if kind == "linear":
                notes.append(f"{name}: acceleration without gravity ignored (orientation needs gravity)")
                continue
            if kind is None or kind in streams:
                continue
            unit = "deg/s" if kind == "gyr" and "rad/s" not in table.header[cols[0]].lower() else ""
            values = table.values[:, cols]
            if unit == "deg/s":
                values = np.radians(values)
            streams[kind] = (table.values[:, time_col], values, name)
    if "gyr" not in streams:
        found = ", ".join(sorted(streams)) or "no sensor tables"
        raise RecordingFormatError(
            f"{where}: no gyroscope table (found {found}); the twist needs the gyroscope — record a phyphox "
            "experiment with both the gyroscope and the accelerometer (with g)"
        )
    if "acc" not in streams:
        raise RecordingFormatError(
            f"{where}: no accelerometer (with g) table; record it together with the gyroscope"
        )
    t_acc, acc, acc_name = streams["acc"]
    ok = np.isfinite(acc).all(axis=1)
    scale = acc_unit_from_gravity(acc[ok], f"{where}:{acc_name}", declared="m/s2")
    mag = (streams["mag"][0], streams["mag"][1]) if "mag" in streams else None
    samples, dropped = merge_streams(streams["gyr"][:2], (t_acc, acc * scale), mag)
    if dropped:
        notes.append(f"{dropped} gyroscope samples in gaps of the accelerometer stream were left out")
    if len(samples) < 2:
        raise RecordingFormatError(f"{where}: the gyroscope and accelerometer tables do not overlap in time")
    origin = samples.t_s[0]
    samples = ImuSamples(samples.t_s - origin, samples.gyr_rad_s, samples.acc_m_s2, samples.mag_uT)
    meta = RecordingMeta(device="phone (phyphox)", profile="phyphox", sensor_frame="phone: x right, y up, z out of "
                         "the screen", chest_normal_axis=chest_axis, sample_rate_hz=round(samples.rate_hz, 3),
                         start_time=start_time, extra=clock_at_zero("unix", start_unix_s, origin))
    return samples, meta, notes


def _start_time(text: str) -> tuple[str, float | None]:
    """Local ISO start time from meta/time.csv (the START event's system time, Unix seconds), or "", and those
    seconds (less the event's experiment time: the Unix time at experiment time 0), or None."""
    import csv

    from imutrack.io.tables import sniff

    separator, decimal_comma = sniff(text[:500])
    rows = list(csv.reader(text.splitlines(), delimiter=separator))
    if not rows:
        return "", None
    header = [h.strip().lower() for h in rows[0]]
    if "system time" not in header or "event" not in header:
        return "", None
    for row in rows[1:]:
        if len(row) == len(header) and row[header.index("event")].strip().upper() == "START":
            value = row[header.index("system time")].strip()
            # the phone's zone, as "2025-11-24 08:15:00.000 UTC+01:00" says it (the time of day is the phone's)
            text_column = header.index("system time text") if "system time text" in header else None
            zone = zone_named(row[text_column].rsplit(" ", 1)[-1]) if text_column is not None else None
            try:
                seconds = float(value.replace(",", ".") if decimal_comma else value)
                at = row[header.index("experiment time")].strip() if "experiment time" in header else "0"
                experiment_s = float(at.replace(",", ".") if decimal_comma else at)
            except ValueError:
                return "", None
            return local_time(datetime(1970, 1, 1, tzinfo=timezone.utc), seconds, zone), seconds - experiment_s
    return "", None
