"""Sensor Logger exports (Android and iOS app by Kelvin Choi): a zip or folder with one CSV per sensor.

Each table has ``time`` (Unix epoch, ns), ``seconds_elapsed`` and the axes **in the order z, y, x**. All streams share
the epoch clock, so they are aligned on ``time``. Gyroscope in rad/s. The accelerometer that includes gravity differs
by platform: Android writes ``TotalAcceleration`` (with gravity, specific-force convention); iOS has no such table,
and its ``Accelerometer`` (user acceleration) and ``Gravity`` follow Core Motion's opposite sign, so the specific force
is −(Accelerometer + Gravity). Units are checked against gravity either way. ``Metadata.csv``, when present, names the
platform.

Sensor frame: the phone's (x right, y up along the screen, z out of the screen), as for phyphox.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from imutrack.errors import RecordingFormatError
from imutrack.io.merge import (
    acc_unit_from_gravity,
    clock_at_zero,
    interpolate_columns,
    local_time,
    merge_streams,
    zone_named,
)
from imutrack.io.tables import Table, read_table
from imutrack.recording import RecordingMeta
from imutrack.samples import ImuSamples


def _stream(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """(time in s since the epoch, values x, y, z) of a Sensor Logger table."""
    index = {name.strip().lower(): k for k, name in enumerate(table.header)}
    missing = [c for c in ("time", "x", "y", "z") if c not in index]
    if missing:
        raise RecordingFormatError(f"{table.where}:1: missing column(s) {', '.join(missing)}")
    v = table.values
    return v[:, index["time"]] * 1e-9, v[:, [index["x"], index["y"], index["z"]]]


def _metadata(tables: dict[str, str], key: str) -> str | None:
    """A field of ``Metadata.csv`` (a header row and a row of values), or None."""
    import csv

    for name, text in tables.items():
        if name.split("/")[-1].lower() == "metadata.csv":
            rows = list(csv.reader(text.splitlines()))
            if len(rows) >= 2:
                header = [h.strip().lower() for h in rows[0]]
                if key in header and len(rows[1]) == len(header):
                    return rows[1][header.index(key)].strip()
    return None


def _platform(tables: dict[str, str]) -> str | None:
    platform = _metadata(tables, "platform")
    return platform.lower() if platform else None


def looks_like_sensor_logger(tables: dict[str, str]) -> bool:
    return any(name.split("/")[-1] == "Gyroscope.csv" and text.split("\n", 1)[0].replace('"', "").lower()
               .startswith("time,seconds_elapsed") for name, text in tables.items())


def read_sensor_logger(tables: dict[str, str], where: str, chest_axis: str = "+z"
                       ) -> tuple[ImuSamples, RecordingMeta, list[str]]:
    by_name = {name.split("/")[-1]: (name, text) for name, text in tables.items()}
    notes: list[str] = []

    def stream(file_name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if file_name not in by_name:
            return None
        name, text = by_name[file_name]
        table = read_table(text, f"{where}:{name}")
        notes.extend(f"{name} {s}" for s in table.skipped)
        return _stream(table)

    gyr = stream("Gyroscope.csv")
    if gyr is None:
        raise RecordingFormatError(f"{where}: no Gyroscope.csv; turn on the gyroscope in Sensor Logger")
    platform = _platform(tables)
    total = stream("TotalAcceleration.csv")
    if total is not None and platform != "ios":
        acc, source = total, "TotalAcceleration.csv"
    else:
        user, gravity = stream("Accelerometer.csv"), stream("Gravity.csv")
        if user is None or gravity is None:
            raise RecordingFormatError(
                f"{where}: no accelerometer with gravity (TotalAcceleration.csv, or Accelerometer.csv with "
                "Gravity.csv); turn them on in Sensor Logger"
            )
        on_user_clock = interpolate_columns(user[0], gravity[0], gravity[1])
        sign = 1.0 if platform == "android" else -1.0  # iOS / Core Motion: gravity points down
        acc, source = (user[0], sign * (user[1] + on_user_clock)), "Accelerometer.csv + Gravity.csv"
    scale = acc_unit_from_gravity(acc[1], f"{where}:{source}")
    mag = stream("Magnetometer.csv")
    samples, dropped = merge_streams(gyr, (acc[0], acc[1] * scale), mag)
    if dropped:
        notes.append(f"{dropped} gyroscope samples in gaps of the accelerometer stream were left out")
    if len(samples) < 2:
        raise RecordingFormatError(f"{where}: the gyroscope and accelerometer streams do not overlap in time")
    # epoch nanoseconds, read as s; the time of day is the phone's: in the zone the export states, when it does
    start = local_time(datetime(1970, 1, 1, tzinfo=timezone.utc), samples.t_s[0],
                       zone_named(_metadata(tables, "recording timezone") or ""))
    if not start:
        notes.append(f"its clock reads {samples.t_s[0]:.6g} s since 1970, no time a clock can show: the start time is "
                     "left out")
    clock = clock_at_zero("unix", float(samples.t_s[0]))
    samples = ImuSamples(samples.t_s - samples.t_s[0], samples.gyr_rad_s, samples.acc_m_s2, samples.mag_uT)
    meta = RecordingMeta(device=f"phone (Sensor Logger{', ' + platform if platform else ''})",
                         profile="sensor-logger", sensor_frame="phone: x right, y up, z out of the screen",
                         chest_normal_axis=chest_axis, sample_rate_hz=round(samples.rate_hz, 3), start_time=start,
                         extra=clock)
    return samples, meta, notes
