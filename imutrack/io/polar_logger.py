"""Polar Sensor Logger exports (Android app for Polar sensors): one ``;``-separated ``.txt`` per stream.

``…_ACC.txt``: ``Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]``; ``…_GYRO.txt`` the same with
``X [dps]`` …; ``…_MAGN.txt`` in gauss when present. Sensor timestamps are ns since 2000-01-01 on the sensor's clock
and are what the streams are aligned on (the phone timestamps of two streams can disagree by ~0.4 s). The nominal
"52 Hz" is really about 51.7 Hz; the times say so. An H10 records ACC only: no gyroscope, so no twist.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from imutrack.errors import RecordingFormatError
from imutrack.frames import GRAVITY_M_S2
from imutrack.io.merge import clock_at_zero, local_time, merge_streams
from imutrack.io.tables import read_table
from imutrack.recording import RecordingMeta
from imutrack.samples import ImuSamples

# The sensor's clock counts from 2000-01-01 in the phone's local time (the app sets it so): a wall clock, not UTC.
POLAR_EPOCH = datetime(2000, 1, 1)


def looks_like_polar_logger(tables: dict[str, str]) -> bool:
    return any(re.search(r"_(ACC|GYRO)\.txt$", name) and "sensor timestamp [ns]" in text.split("\n", 1)[0]
               for name, text in tables.items())


def _stream(name: str, text: str, where: str, unit_pattern: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    # The phone timestamp is text (a date); the numeric reader needs it gone first.
    lines = text.splitlines()
    trimmed = "\n".join(line.split(";", 1)[1] if ";" in line else line for line in lines)
    table = read_table(trimmed, f"{where}:{name}")
    t_col = table.column(r"sensor timestamp \[ns\]")
    axes = [table.column(rf"^{axis} \[{unit_pattern}\]") for axis in "XYZ"]
    if t_col is None or None in axes:
        raise RecordingFormatError(f"{where}:{name}:1: expected 'sensor timestamp [ns]' and X/Y/Z [{unit_pattern}]")
    return table.values[:, t_col] * 1e-9, table.values[:, axes], [f"{name} {s}" for s in table.skipped]


def _pair(tables: dict[str, str], where: str) -> tuple[str | None, str | None, list[str]]:
    """The ACC and GYRO files of one sensor's session, and what the choice leaves out. The app names each stream
    ``<model>_<device id>_<date>_<time>_<STREAM>.txt``: the two streams of a session share all but the stream, and a
    folder may hold other sensors' files too (an H10's ACC beside a Verity Sense's pair)."""
    def stem(name: str, stream: str) -> str:
        return name[: -len(f"_{stream}.txt")]

    accs = sorted(n for n in tables if n.endswith("_ACC.txt"))
    gyrs = sorted(n for n in tables if n.endswith("_GYRO.txt"))
    gyr_by_stem = {stem(n, "GYRO"): n for n in gyrs}
    pairs = [(a, gyr_by_stem[stem(a, "ACC")]) for a in accs if stem(a, "ACC") in gyr_by_stem]
    if pairs:
        acc_name, gyr_name = pairs[0]
        left = [n for n in accs + gyrs if n not in (acc_name, gyr_name)]
        notes = [f"{where}: took {acc_name} with {gyr_name}; also here, not taken: {', '.join(left)}"] if left else []
        return acc_name, gyr_name, notes
    if accs and gyrs:
        raise RecordingFormatError(
            f"{where}: the ACC and GYRO files are of different sensors or sessions ({', '.join(accs + gyrs)}): "
            "the two streams of one recording share their name up to _ACC/_GYRO")
    return (accs[0] if accs else None), (gyrs[0] if gyrs else None), []


def read_polar_logger(tables: dict[str, str], where: str, chest_axis: str = "+z"
                      ) -> tuple[ImuSamples, RecordingMeta, list[str]]:
    acc_name, gyr_name, pairing = _pair(tables, where)
    if acc_name is None:
        raise RecordingFormatError(f"{where}: no …_ACC.txt stream")
    if gyr_name is None:
        raise RecordingFormatError(
            f"{where}: only an accelerometer was recorded (e.g. a Polar H10): the twist cannot be measured without a "
            "gyroscope; such a sensor can still show posture (slouch, lean) and breathing"
        )
    t_acc, acc_mg, notes = _stream(acc_name, tables[acc_name], where, "mg")
    notes = pairing + notes
    t_gyr, gyr_dps, more = _stream(gyr_name, tables[gyr_name], where, "dps")
    notes += more
    samples, dropped = merge_streams((t_gyr, np.radians(gyr_dps)), (t_acc, acc_mg * 1e-3 * GRAVITY_M_S2))
    if dropped:
        notes.append(f"{dropped} gyroscope samples in gaps of the accelerometer stream were left out")
    if len(samples) < 2:
        raise RecordingFormatError(f"{where}: the ACC and GYRO streams do not overlap in sensor time")
    start = local_time(POLAR_EPOCH, samples.t_s[0])
    if not start:
        notes.append(f"its clock reads {samples.t_s[0]:.6g} s since 2000, no time a clock can show: the start time is "
                     "left out")
    clock = clock_at_zero("polar", float(samples.t_s[0]))
    samples = ImuSamples(samples.t_s - samples.t_s[0], samples.gyr_rad_s, samples.acc_m_s2)
    meta = RecordingMeta(device="Polar sensor (Polar Sensor Logger)", profile="polar-logger",
                         sensor_frame="Polar sensor axes", chest_normal_axis=chest_axis,
                         sample_rate_hz=round(samples.rate_hz, 3), start_time=start, extra=clock)
    return samples, meta, notes
