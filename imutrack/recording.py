"""The imutrack recording: a crash-safe, spreadsheet-friendly CSV of raw IMU samples.

Format (version 1, specified in ``docs/recording-format.md``)::

    # imutrack recording v1
    # device: simulator
    # profile: simulator
    # ...more "# key: value" metadata lines...
    t_s,seq,gyr_x_rad_s,gyr_y_rad_s,gyr_z_rad_s,acc_x_m_s2,acc_y_m_s2,acc_z_m_s2
    0.000000,0,0.00123,...
    # event,12.340000,gap,link lost; reconnected after 2.1 s
    ...

``pandas.read_csv(path, comment="#")`` and spreadsheets open it as is. The writer appends and flushes to disk at
least once per second, so a crash or ``kill -9`` loses at most about one second; the reader ignores a torn last line
with a warning and rejects anything else malformed with one line naming the file and line.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from imutrack.errors import ImutrackWarning, RecordingFormatError
from imutrack.samples import ImuSamples

FORMAT_VERSION = 1
MAGIC = f"# imutrack recording v{FORMAT_VERSION}"
_MAGIC_PREFIX = "# imutrack recording v"

REQUIRED_COLUMNS = (
    "t_s",
    "seq",
    "gyr_x_rad_s",
    "gyr_y_rad_s",
    "gyr_z_rad_s",
    "acc_x_m_s2",
    "acc_y_m_s2",
    "acc_z_m_s2",
)
MAG_COLUMNS = ("mag_x_uT", "mag_y_uT", "mag_z_uT")
HOST_TIME_COLUMN = "host_t_s"

_EVENT_PREFIX = "# event,"


@dataclass
class RecordingMeta:
    """What a recording says about itself, written as ``# key: value`` lines.

    Attributes:
        device: device name or address ("simulator" for simulated data).
        profile: decoder profile that produced the samples (e.g. "diy", "witmotion", "simulator").
        sensor_frame: how the sensor axes sit on the body when worn as documented (free text).
        chest_normal_axis: the sensor axis that points forward, out of the chest, when worn as documented:
            one of "+x", "-x", "+y", "-y", "+z", "-z".
        sample_rate_hz: nominal sample rate, Hz (the times in ``t_s`` are authoritative).
        start_time: ISO 8601 start time *with the local UTC offset*, e.g. ``2026-11-24T08:15:03+01:00``; gives
            both the UTC instant and the local time of day (morning / afternoon / evening).
        assisted: "assisted" (hands used), "unassisted" or "unknown", as the user declared it.
        notes: free text, one line.
        extra: any further keys (kept and written back unchanged).
    """

    device: str = "unknown"
    profile: str = "unknown"
    sensor_frame: str = ""
    chest_normal_axis: str = "+z"
    sample_rate_hz: float = float("nan")
    start_time: str = ""
    assisted: str = "unknown"
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def header_lines(self) -> list[str]:
        lines = [MAGIC]
        for f in fields(self):
            if f.name == "extra":
                continue
            lines.append(f"# {f.name}: {_one_line(str(getattr(self, f.name)))}")
        for key, value in self.extra.items():
            lines.append(f"# {_one_line(key)}: {_one_line(str(value))}")
        return lines

    @classmethod
    def from_pairs(cls, pairs: dict[str, str], where: str) -> RecordingMeta:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict = {k: v for k, v in pairs.items() if k in known}
        if "sample_rate_hz" in values:
            try:
                values["sample_rate_hz"] = float(values["sample_rate_hz"])
            except ValueError:
                raise RecordingFormatError(
                    f"{where}: sample_rate_hz is not a number: {values['sample_rate_hz']!r}"
                ) from None
        values["extra"] = {k: v for k, v in pairs.items() if k not in known}
        start = values.get("start_time", "")
        if start and not _is_time(start):
            warnings.warn(f"{where}: start_time {start[:40]!r} is not an ISO 8601 time (like "
                          "2026-11-24T08:15:03+01:00): the session's date and time of day are taken as unknown",
                          ImutrackWarning, stacklevel=2)
            values["extra"]["start_time_as_written"] = start
            values["start_time"] = ""
        return cls(**values)


def _is_time(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 time a clock can show (years 1–9999)."""
    from datetime import datetime

    try:
        datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return False
    return True


def local_now_iso() -> str:
    """Now, local time with its UTC offset, ISO 8601 to the second (the ``start_time`` form)."""
    from datetime import datetime

    return datetime.now().astimezone().isoformat(timespec="seconds")


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


@dataclass(frozen=True)
class RecordingEvent:
    """Something that happened during recording, e.g. a link drop: ``kind`` "gap", "note", "reconnect"."""

    t_s: float
    kind: str
    text: str


@dataclass
class Recording:
    """A recording read from disk.

    Attributes:
        meta: the metadata header.
        samples: the IMU samples (sensor frame, SI units).
        seq: sample sequence numbers, int64 (N,); a jump of more than one means samples were lost.
        host_t_s: host receive time of each sample, s since the recording start, or None.
        events: events written during recording, in file order.
        path: where it was read from.
    """

    meta: RecordingMeta
    samples: ImuSamples
    seq: np.ndarray
    host_t_s: np.ndarray | None = None
    events: list[RecordingEvent] = field(default_factory=list)
    path: Path | None = None

    @property
    def lost_samples(self) -> int:
        """Samples missing according to jumps in ``seq``."""
        if len(self.seq) < 2:
            return 0
        steps = np.diff(self.seq)
        return int(np.sum(steps[steps > 1] - 1))


def columns_for(has_mag: bool, has_host_time: bool) -> tuple[str, ...]:
    columns = REQUIRED_COLUMNS + (MAG_COLUMNS if has_mag else ())
    return columns + ((HOST_TIME_COLUMN,) if has_host_time else ())


class RecordingWriter:
    """Streams samples into a new recording file.

    Rows are appended as batches arrive and the file is flushed and fsynced whenever ``flush_interval_s`` has passed
    since the last flush (and on close), so a killed process loses at most about that long of data. An existing file
    is never overwritten.

    Use as a context manager::

        with RecordingWriter(path, meta, has_mag=False) as writer:
            writer.append(samples)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        meta: RecordingMeta,
        *,
        has_mag: bool = False,
        has_host_time: bool = False,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.has_mag = has_mag
        self.has_host_time = has_host_time
        self.flush_interval_s = flush_interval_s
        self._clock = clock
        self._next_seq = 0
        self._last_t_s = -np.inf
        self.samples_written = 0
        self.samples_flushed = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._file = open(self.path, "x", encoding="utf-8", newline="\n")
        except FileExistsError:
            raise RecordingFormatError(f"{self.path}: already exists; not overwriting a recording") from None
        n_values = len(columns_for(has_mag, has_host_time)) - 2
        self._row_format = "%.6f,%d" + ",%.9g" * n_values + "\n"
        header = meta.header_lines() + [",".join(columns_for(has_mag, has_host_time))]
        self._file.write("\n".join(header) + "\n")
        self.flush()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def append(self, samples: ImuSamples, seq: np.ndarray | None = None, host_t_s: np.ndarray | None = None) -> None:
        """Append a batch.

        Args:
            samples: the batch; times must continue after the last written sample.
            seq: device sequence number per sample (int, shape (N,)); by default numbered on from the last one.
            host_t_s: host receive time per sample, s, shape (N,); required when the file has that column.
        """
        n = len(samples)
        if n == 0:
            return
        if samples.has_mag != self.has_mag:
            raise RecordingFormatError(
                f"{self.path}: this recording was opened {'with' if self.has_mag else 'without'} magnetometer columns"
            )
        if samples.t_s[0] <= self._last_t_s:
            raise RecordingFormatError(
                f"{self.path}: batch starts at {samples.t_s[0]:.6f} s, not after the last sample "
                f"({self._last_t_s:.6f} s)"
            )
        if seq is None:
            seq = np.arange(self._next_seq, self._next_seq + n)
        seq = np.asarray(seq, dtype=np.float64)
        parts = [samples.t_s[:, None], seq[:, None], samples.gyr_rad_s, samples.acc_m_s2]
        if self.has_mag:
            parts.append(samples.mag_uT)
        if self.has_host_time:
            if host_t_s is None:
                raise RecordingFormatError(f"{self.path}: host_t_s is required for this recording")
            parts.append(np.asarray(host_t_s, dtype=np.float64)[:, None])
        table = np.hstack(parts)
        row_format = self._row_format
        self._file.write("".join([row_format % tuple(row) for row in table.tolist()]))
        self._next_seq = int(seq[-1]) + 1
        self._last_t_s = float(samples.t_s[-1])
        self.samples_written += n
        self.flush_if_due()

    @property
    def last_t_s(self) -> float:
        """Time of the last sample written, s (−inf before the first)."""
        return self._last_t_s

    def add_event(self, t_s: float, kind: str, text: str = "") -> None:
        """Write an event line (``kind`` one word, e.g. "gap") at time ``t_s``; flushed at once."""
        kind = _one_line(kind).replace(",", " ").strip() or "note"
        self._file.write(f"{_EVENT_PREFIX}{t_s:.6f},{kind},{_one_line(text)}\n")
        self.flush()

    def flush_if_due(self) -> None:
        if self._clock() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Push everything written so far to the disk."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_flush = self._clock()
        self.samples_flushed = self.samples_written

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()


def write_recording(
    path: str | os.PathLike,
    samples: ImuSamples,
    meta: RecordingMeta,
    seq: np.ndarray | None = None,
    host_t_s: np.ndarray | None = None,
    events: list[RecordingEvent] | None = None,
) -> Path:
    """Write a whole recording at once (events go at the end); returns the path."""
    with RecordingWriter(path, meta, has_mag=samples.has_mag, has_host_time=host_t_s is not None) as writer:
        writer.append(samples, seq=seq, host_t_s=host_t_s)
        for event in events or []:
            writer.add_event(event.t_s, event.kind, event.text)
    return Path(path)


def read_recording(path: str | os.PathLike) -> Recording:
    """Read a recording.

    A torn last line (no line end: the writer was killed mid-line) is dropped with an :class:`ImutrackWarning`.
    Anything else malformed raises :class:`RecordingFormatError` naming the file and line.
    """
    path = Path(path)
    try:
        fast = _read_fast(path)
    except (FileNotFoundError, IsADirectoryError):
        fast = None
    if fast is not None:
        return fast
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecordingFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RecordingFormatError(f"{path}: is a folder, not a recording") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RecordingFormatError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None
    return parse_recording(text, str(path), path)


_HEAD_BYTES = 1 << 16


def _read_fast(path: Path) -> Recording | None:
    """The common case without reading the file into memory twice: a complete file (last byte a line end) whose
    header fits the first 64 KiB, with well-formed rows. Returns None for anything else (the careful path then
    finds and names the problem)."""
    import mmap

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= _HEAD_BYTES:
            return None
        head = f.read(_HEAD_BYTES)
        f.seek(size - 1)
        if f.read(1) != b"\n":
            return None
        try:
            head_text = head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        try:
            meta, columns, header_line_no, body_pos = _parse_header(head_text, str(path))
        except RecordingFormatError:
            return None
        events = []
        # Events (gaps, notes) are rare, and pandas parses twice as fast told there are no comment lines: a large
        # file is first parsed so, which fails on any "#" (never part of a number); only then are events looked for.
        table = _numbers(path, header_line_no, size, comments=False) if _pandas_pays(size) else None
        if table is None:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                # (looking for "#" alone runs at memchr's speed, ~15x faster than for a line starting with it)
                has_comments = mapped.find(b"#", body_pos) >= 0
                if _pandas_pays(size) and not has_comments:
                    return None  # it failed for another reason: the careful path names it
                at = mapped.find(b"\n" + _EVENT_PREFIX.encode(), body_pos - 1) if has_comments else -1
                while at >= 0:
                    end = mapped.find(b"\n", at + 1)
                    event = _event(mapped[at + 1 + len(_EVENT_PREFIX):end].decode("utf-8", "replace"))
                    if event is None:
                        return None
                    events.append(event)
                    at = mapped.find(b"\n" + _EVENT_PREFIX.encode(), end)
            table = _numbers(path, header_line_no, size, has_comments)
    if table is None or table.shape[1] != len(columns) or not np.isfinite(table).all():
        return None
    try:
        return _assemble(table, columns, meta, events, path, lambda row: str(path))  # any problem: the careful path
    except RecordingFormatError:
        return None


# From this size on, pandas' C parser (4–5× faster than numpy's loadtxt here, the same numbers) pays for its import
# (~0.35 s, about what loadtxt spends on 25 MB); once pandas is imported, it reads every file.
PANDAS_FROM_BYTES = 24 * 2**20


def _pandas_pays(size: int) -> bool:
    """Whether pandas parses a file of ``size`` bytes: installed (a dependency, but a broken environment may lack
    it), and imported already or worth importing."""
    import importlib.util
    import sys

    return "pandas" in sys.modules or (size >= PANDAS_FROM_BYTES and importlib.util.find_spec("pandas") is not None)


def _numbers(path: Path, skip_lines: int, size: int, comments: bool = True) -> np.ndarray | None:
    """The numeric rows after the first ``skip_lines`` lines ("#" lines skipped; ``comments=False``: there are none)
    as an (N, columns) float array, or None when they do not parse as numbers (the careful path then names the
    line)."""
    if _pandas_pays(size):
        try:
            import pandas
        except ImportError:
            pandas = None
        if pandas is not None:
            try:
                # (na_filter off: no field is looked up as a missing-value word first; a "nan" or an empty field
                # then fails here, and the careful path names its line)
                return pandas.read_csv(path, comment="#" if comments else None, header=None, skiprows=skip_lines,
                                       dtype=np.float64, engine="c", encoding="utf-8", na_filter=False).to_numpy()
            except (ValueError, UnicodeDecodeError):  # pandas' parser and empty-data errors are ValueErrors
                return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.loadtxt(path, delimiter=",", comments="#", ndmin=2, dtype=np.float64, skiprows=skip_lines,
                              encoding="utf-8")
        except ValueError:
            return None


def _parse_header(text: str, where: str) -> tuple[RecordingMeta, tuple[str, ...], int, int]:
    """(metadata, column names, line number of the column line, offset of the first body character)."""
    if not text.startswith(_MAGIC_PREFIX):
        first = text.split("\n", 1)[0][:60]
        raise RecordingFormatError(f"{where}:1: not an imutrack recording (first line is {first!r})")
    magic_end = text.find("\n")
    if magic_end < 0:
        raise RecordingFormatError(f"{where}:1: the file ends inside its header")
    version = text[len(_MAGIC_PREFIX) : magic_end].strip()
    if version != str(FORMAT_VERSION):
        raise RecordingFormatError(
            f"{where}:1: recording format version {version!r} is not supported (this imutrack reads {FORMAT_VERSION})"
        )

    pairs: dict[str, str] = {}
    pos = magic_end + 1
    line_no = 1
    while True:
        end = text.find("\n", pos)
        if end < 0:
            raise RecordingFormatError(f"{where}:{line_no + 1}: the file ends inside its header")
        line_no += 1
        line = text[pos:end].rstrip("\r")
        pos = end + 1
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if not sep or not key.strip():
            raise RecordingFormatError(f"{where}:{line_no}: header line is not '# key: value': {line[:60]!r}")
        pairs[key.strip()] = value.strip()
    meta = RecordingMeta.from_pairs(pairs, where)

    columns = tuple(c.strip() for c in line.split(","))
    allowed = REQUIRED_COLUMNS + MAG_COLUMNS + (HOST_TIME_COLUMN,)
    for column in columns:
        if column not in allowed:
            raise RecordingFormatError(
                f"{where}:{line_no}: unknown column {column!r} (columns are {', '.join(allowed)})"
            )
    for needed in REQUIRED_COLUMNS:
        if needed not in columns:
            raise RecordingFormatError(f"{where}:{line_no}: column {needed!r} is missing")
    if len(set(columns)) != len(columns):
        raise RecordingFormatError(f"{where}:{line_no}: a column name appears twice")
    mag_present = [c in columns for c in MAG_COLUMNS]
    if any(mag_present) and not all(mag_present):
        raise RecordingFormatError(f"{where}:{line_no}: magnetometer needs all of {', '.join(MAG_COLUMNS)}")
    return meta, columns, line_no, pos


def parse_recording(text: str, where: str = "<recording>", path: Path | None = None) -> Recording:
    """Parse the text of a recording; ``where`` names it in messages."""
    meta, columns, header_line_no, pos = _parse_header(text, where)
    body = text[pos:]
    if body and not body.endswith("\n"):
        torn_at = body.rfind("\n") + 1
        torn_line_no = header_line_no + body.count("\n", 0, torn_at) + 1
        warnings.warn(
            f"{where}:{torn_line_no}: ignored a partial last line (the recording was probably interrupted)",
            ImutrackWarning,
            stacklevel=2,
        )
        body = body[:torn_at]

    events = _parse_events(body, where, header_line_no)
    # Parsing straight from the file saves a copy of the whole text; a trimmed body must be parsed from memory.
    source = path if path is not None and pos + len(body) == len(text) else None
    table = _parse_table(body, source, len(columns), where, header_line_no)
    return _assemble(table, columns, meta, events, path, lambda row: f"{where}:{_row_line(body, row, header_line_no)}")


def _assemble(table: np.ndarray, columns: tuple[str, ...], meta: RecordingMeta, events: list[RecordingEvent],
              path: Path | None, where_row) -> Recording:
    """Checks on the parsed rows (whole ``seq``, increasing time) and the :class:`Recording`. ``where_row(row)``
    names a row's file and line for messages."""
    index = {name: i for i, name in enumerate(columns)}

    def take(names: tuple[str, ...]) -> np.ndarray:
        at = [index[n] for n in names]
        if at == list(range(at[0], at[0] + len(at))):  # side by side (as written): one copy, not two
            return np.ascontiguousarray(table[:, at[0]:at[0] + len(at)])
        return table[:, at]

    seq_values = table[:, index["seq"]]
    whole = (seq_values == np.round(seq_values)) & (np.abs(seq_values) < 2.0**53)  # (inf is "round" too)
    if not whole.all():
        raise RecordingFormatError(f"{where_row(int(np.argmin(whole)))}: seq must be a whole number")
    t_s = table[:, index["t_s"]]
    steps_ok = np.diff(t_s) > 0
    if not steps_ok.all():
        bad = int(np.argmin(steps_ok)) + 1
        raise RecordingFormatError(f"{where_row(bad)}: time t_s={t_s[bad]:.6f} s does not increase")
    has_mag = all(c in index for c in MAG_COLUMNS)
    samples = ImuSamples(
        t_s,
        take(REQUIRED_COLUMNS[2:5]),
        take(REQUIRED_COLUMNS[5:8]),
        take(MAG_COLUMNS) if has_mag else None,
    )
    host_t_s = table[:, index[HOST_TIME_COLUMN]].copy() if HOST_TIME_COLUMN in index else None
    return Recording(meta, samples, seq_values.astype(np.int64), host_t_s, events, path)


def _event(fields: str) -> RecordingEvent | None:
    """The event in the text after ``# event,`` (``t_s,kind,text``), or None when it is malformed."""
    parts = fields.rstrip("\r").split(",", 2)
    try:
        return RecordingEvent(float(parts[0]), parts[1], parts[2] if len(parts) > 2 else "")
    except (ValueError, IndexError):
        return None


def _parse_events(body: str, where: str, header_line_no: int) -> list[RecordingEvent]:
    events = []
    pos = body.find(_EVENT_PREFIX)
    while pos >= 0:
        if pos == 0 or body[pos - 1] == "\n":
            end = body.find("\n", pos)
            event = _event(body[pos + len(_EVENT_PREFIX) : end])
            if event is None:
                line = header_line_no + body.count("\n", 0, pos) + 1
                raise RecordingFormatError(f"{where}:{line}: event line is not '# event,t_s,kind,text'")
            events.append(event)
        pos = body.find(_EVENT_PREFIX, pos + 1)
    return events


def _parse_table(body: str, source: Path | None, n_columns: int, where: str, header_line_no: int) -> np.ndarray:
    """Parse the numeric rows (from ``source``, the file, when given); on any problem, name the first bad line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # loadtxt warns on an empty body; handled below
        try:
            if source is None:
                table = np.loadtxt(io.StringIO(body), delimiter=",", comments="#", ndmin=2, dtype=np.float64)
            else:
                table = np.loadtxt(source, delimiter=",", comments="#", ndmin=2, dtype=np.float64,
                                   skiprows=header_line_no, encoding="utf-8")
        except ValueError:
            table = None
    if table is not None and table.size == 0:
        return np.empty((0, n_columns))
    if table is None or table.shape[1] != n_columns or not np.isfinite(table).all():
        _raise_first_bad_line(body, n_columns, where, header_line_no)
    return table


def _raise_first_bad_line(body: str, n_columns: int, where: str, header_line_no: int) -> None:
    for offset, line in enumerate(body.split("\n")):
        line_no = header_line_no + offset + 1
        if not line.strip() or line.startswith("#"):
            continue
        values = line.split(",")
        if len(values) != n_columns:
            raise RecordingFormatError(f"{where}:{line_no}: expected {n_columns} values, found {len(values)}")
        for column, value in enumerate(values, start=1):
            try:
                number = float(value)
            except ValueError:
                raise RecordingFormatError(
                    f"{where}:{line_no}: value {column} is not a number: {value[:30]!r}"
                ) from None
            if not np.isfinite(number):
                raise RecordingFormatError(f"{where}:{line_no}: value {column} is not finite: {value[:30]!r}")
    raise RecordingFormatError(f"{where}: could not parse the sample rows")


def _row_line(body: str, row: int, header_line_no: int) -> int:
    """File line number of data row ``row`` (0-based), skipping comment and blank lines."""
    seen = -1
    for offset, line in enumerate(body.split("\n")):
        if line.strip() and not line.startswith("#"):
            seen += 1
            if seen == row:
                return header_line_no + offset + 1
    return header_line_no + 1
