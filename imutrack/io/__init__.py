"""Readers for other programs' files. Each returns ``ImuSamples`` and a ``RecordingMeta``, so every later stage is
blind to where the data came from.

:func:`load` opens an imutrack recording or any supported foreign file (zip, folder or CSV), detecting the format.
"""

from __future__ import annotations

import lzma
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from imutrack.errors import ImutrackError, ImutrackWarning, RecordingFormatError
from imutrack.io.generic import read_generic
from imutrack.io.phyphox import read_phyphox
from imutrack.io.polar_logger import looks_like_polar_logger, read_polar_logger
from imutrack.io.sensor_logger import looks_like_sensor_logger, read_sensor_logger
from imutrack.recording import MAGIC, Recording, read_recording
from imutrack.samples import ImuSamples

FORMATS = ("auto", "imutrack", "phyphox", "sensor-logger", "polar-logger", "generic")
READERS = {"phyphox": read_phyphox, "sensor-logger": read_sensor_logger, "polar-logger": read_polar_logger}
# The largest table read (a phone's export unpacked, or a file): two hours at 500 Hz are ~220 MB of CSV. A zip member
# that would unpack to more (a "zip bomb": 2.5 MB that unpack to 1 GiB) is refused before it is read.
MAX_TABLE_BYTES = 512 * 1024 * 1024


def _too_big(where: str, size: int) -> RecordingFormatError:
    return RecordingFormatError(f"{where} is {size / 2**20:,.0f} MB, more than the {MAX_TABLE_BYTES / 2**20:.0f} MB "
                                "one session's table can be: is it a whole day's log? Export the session alone")


def _texts(path: Path) -> dict[str, str]:
    """name → text of the CSV tables in a zip, a folder, or one file (each at most ``MAX_TABLE_BYTES``)."""
    def decode(raw: bytes, name: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def read(p: Path) -> str:
        if p.stat().st_size > MAX_TABLE_BYTES:
            raise _too_big(str(p), p.stat().st_size)
        return decode(p.read_bytes(), p.name)

    if path.is_dir():
        return {str(p.relative_to(path)): read(p) for p in sorted(path.rglob("*"))
                if p.suffix.lower() in (".csv", ".txt")}
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                tables = [info for info in archive.infolist() if info.filename.lower().endswith((".csv", ".txt"))]
                for info in tables:
                    if info.file_size > MAX_TABLE_BYTES:
                        raise _too_big(f"{path}: {info.filename}", info.file_size)
                    if info.compress_size > path.stat().st_size:
                        raise zipfile.BadZipFile(f"{info.filename} says it is larger than the whole file")
                texts = {}
                for info in tables:
                    try:
                        texts[info.filename] = decode(archive.read(info), info.filename)
                    except (RuntimeError, NotImplementedError) as exc:  # a password, an unknown compression
                        raise RecordingFormatError(
                            f"{path}: {info.filename} cannot be read ({exc}); export it again as an ordinary zip "
                            "without a password") from None
                    except (zlib.error, lzma.LZMAError, ValueError) as exc:  # compressed data that is damaged
                        raise RecordingFormatError(f"{path}: {info.filename} is damaged ({exc})") from None
                return texts
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError, zlib.error) as exc:
            raise RecordingFormatError(f"{path}: damaged zip file, or one of a kind imutrack cannot open ({exc})") \
                from None
    return {path.name: read(path)}


def detect(path: Path) -> str:
    """The format of a file or folder: "imutrack", "phyphox", "sensor-logger", "polar-logger" or "generic"."""
    if path.is_file() and not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            if f.read(len(MAGIC)).decode("utf-8", "replace") == MAGIC:
                return "imutrack"
    texts = _texts(path)
    if looks_like_sensor_logger(texts):
        return "sensor-logger"
    if looks_like_polar_logger(texts):
        return "polar-logger"
    headers = " ".join(text.split("\n", 1)[0] for text in texts.values()).lower()
    if "time (s)" in headers and ("(rad/s)" in headers or "(m/s^2)" in headers):
        return "phyphox"
    return "generic"


def load(path: str | os.PathLike, fmt: str = "auto", columns: dict[str, str] | None = None,
         units: dict[str, str] | None = None, chest_axis: str | None = None) -> Recording:
    """Any supported file as a :class:`Recording` (``seq`` numbers the samples). Notes about what was skipped are
    issued as :class:`ImutrackWarning`."""
    path = Path(path)
    if not path.exists():
        raise RecordingFormatError(f"{path}: no such file or folder")
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt == "imutrack":
        return read_recording(path)
    if fmt in READERS:
        samples, meta, notes = READERS[fmt](_texts(path), str(path), chest_axis or "+z")
    elif fmt == "generic":
        texts = _texts(path)
        if len(texts) != 1:
            raise RecordingFormatError(f"{path}: a generic import takes one CSV file, found {len(texts)}")
        if not columns:
            raise RecordingFormatError(
                f"{path}: not a format imutrack recognises; convert it with 'imutrack import {path} --columns "
                "t=…,gx=…,gy=…,gz=…,ax=…,ay=…,az=… --units t=s,gyr=rad/s' (the names of its columns, and their units)"
            )
        samples, meta, notes = read_generic(next(iter(texts.values())), str(path), columns, units or {},
                                            chest_axis or "+z")
    else:
        raise RecordingFormatError(f"{path}: unknown format {fmt!r} (use {', '.join(FORMATS)})")
    samples, notes = _within_range(samples, str(path), notes)
    for note in notes[:20]:
        warnings.warn(f"{path}: {note}", ImutrackWarning, stacklevel=2)
    if len(notes) > 20:
        warnings.warn(f"{path}: … and {len(notes) - 20} more skipped rows", ImutrackWarning, stacklevel=2)
    return Recording(meta, samples, np.arange(len(samples), dtype=np.int64), None, [], path)


MAX_ABS_GYR_RAD_S = np.radians(6000.0)  # beyond the full scale of any MEMS gyro (±4000 °/s at most)
MAX_ABS_ACC_M_S2 = 100.0 * 9.80665  # and of any body-worn accelerometer (±16-64 g)
MAX_OUT_OF_RANGE_SHARE = 0.01


def _within_range(samples: ImuSamples, where: str, notes: list[str]) -> tuple[ImuSamples, list[str]]:
    """Leave out the odd row with numbers no sensor measures (a garbled line that still parsed), saying so; refuse
    a file with many (its units are not what they say)."""
    ok = (np.abs(samples.gyr_rad_s) <= MAX_ABS_GYR_RAD_S).all(axis=1) & \
        (np.abs(samples.acc_m_s2) <= MAX_ABS_ACC_M_S2).all(axis=1)
    bad = int((~ok).sum())
    if not bad:
        return samples, notes
    if bad > MAX_OUT_OF_RANGE_SHARE * len(samples):
        raise RecordingFormatError(
            f"{where}: {bad} of {len(samples)} samples have a rate beyond 6000 °/s or an acceleration beyond 100 g, "
            "which no sensor measures: are the units right?")
    mag = None if samples.mag_uT is None else samples.mag_uT[ok]
    kept = ImuSamples(samples.t_s[ok], samples.gyr_rad_s[ok], samples.acc_m_s2[ok], mag)
    return kept, [*notes, f"{bad} samples with numbers no sensor measures (beyond 6000 °/s or 100 g) were left out"]


PELVIS_SUFFIX = ".pelvis.csv"


def pelvis_path(chest_path: str | os.PathLike) -> Path:
    """Where the pelvis sensor's recording of a two-sensor session sits: ``NAME.pelvis.csv`` beside ``NAME.csv``."""
    chest_path = Path(chest_path)
    return chest_path.with_name(chest_path.stem + PELVIS_SUFFIX)


def find_pelvis(chest: Recording) -> Recording | None:
    """The pelvis recording of a two-sensor session (``docs/recording-format.md``), or None for a one-sensor one.
    A file beside it that names another session is refused: pairing the wrong two would give wrong numbers."""
    if chest.path is None or chest.path.name.lower().endswith(PELVIS_SUFFIX):
        return None
    path = pelvis_path(chest.path)
    if not path.is_file():
        return None
    pelvis = read_recording(path)
    ours, theirs = chest.meta.extra.get("session_id"), pelvis.meta.extra.get("session_id")
    if pelvis.meta.extra.get("sensor_role", "pelvis") != "pelvis" or ours != theirs:
        raise RecordingFormatError(
            f"{path}: not the pelvis recording of {chest.path.name} (session {theirs or 'unnamed'}, sensor "
            f"{pelvis.meta.extra.get('sensor_role', '?')}; this one is session {ours or 'unnamed'}): rename it, or "
            "move it away to analyse the chest alone")
    return pelvis


def find_sessions(paths: list[Path]) -> list[Path]:
    """Sessions to analyse: files as given; a folder that is itself a phone-app export as one session; any other
    folder expanded to the imutrack recordings and recognised phone-app zips directly inside it."""
    found = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
        elif detect(path) != "generic":
            found.append(path)
        else:
            for candidate in sorted(path.iterdir(), key=natural_key):
                if candidate.name.lower().endswith(PELVIS_SUFFIX):
                    continue  # the second sensor of the session beside it
                if candidate.suffix.lower() == ".csv":
                    with open(candidate, encoding="utf-8", errors="replace") as f:
                        if f.readline().startswith(MAGIC):
                            found.append(candidate)
                elif candidate.suffix.lower() == ".zip" and detect(candidate) != "generic":
                    found.append(candidate)
    if not found:
        raise ImutrackError(f"no recordings or phone-app exports in {', '.join(str(p) for p in paths)}")
    return found


def natural_key(path: Path) -> list:
    """Sort key: numbers in a name by their value ("s2" before "s10"), the rest without regard to case."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]
