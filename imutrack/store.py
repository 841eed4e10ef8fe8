"""The progress store: every analysed session and its holds, in one local SQLite file.

* One file in the user data folder (``imutrack.sqlite3``), or wherever ``--db`` says. Nothing leaves the computer.
* Versioned schema (``PRAGMA user_version``) with forward migrations; a file made by a newer imutrack is refused.
* Marked as ours with ``PRAGMA application_id``: a foreign or damaged file gives a clear error and is never written.
* Idempotent: a session is keyed by the SHA-256 of its recording's content, so storing the same recording twice
  changes nothing.
* WAL journal and a busy timeout: several processes may write at once without losing anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from imutrack.analysis import SessionAnalysis, json_safe
from imutrack.errors import ImutrackError
from imutrack.metrics import HoldMetrics

APPLICATION_ID = 0x494D5554  # "IMUT"
BUSY_TIMEOUT_MS = 30_000

_HOLD_COLUMNS = [f.name for f in fields(HoldMetrics)]
_HOLD_TYPES = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT"}
# The holds table as schema 1 created it. Frozen: a migration never changes once released; new hold fields come in
# new migrations (a database made by an older imutrack is brought up to date when opened).
_HOLD_COLUMNS_V1 = [
    "rep", "side", "turn_start_s", "hold_start_s", "hold_end_s", "duration_s", "time_to_end_s", "mean_twist_deg",
    "peak_twist_deg", "rom_deg", "creep_deg", "twist_sd_deg", "twist_rate_rms_deg_s", "tremor_rms_deg_s",
    "bounce_deg", "forced", "slouch_fraction", "max_flexion_deg", "mean_lean_deg", "max_abs_lean_deg",
    "breath_rate_bpm", "breath_depth_deg",
]

MIGRATIONS: list[str] = [
    # 1: sessions and holds
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        start_time TEXT NOT NULL,
        start_utc TEXT NOT NULL,
        local_date TEXT NOT NULL,
        time_slot TEXT NOT NULL,
        device TEXT NOT NULL,
        profile TEXT NOT NULL,
        assisted TEXT NOT NULL,
        notes TEXT NOT NULL,
        recording_path TEXT NOT NULL,
        duration_s REAL NOT NULL,
        reps_left INTEGER NOT NULL,
        reps_right INTEGER NOT NULL,
        best_rom_left_deg REAL,
        best_rom_right_deg REAL,
        asymmetry_deg REAL,
        imutrack_version TEXT NOT NULL,
        stored_at TEXT NOT NULL
    );
    CREATE INDEX sessions_by_date ON sessions (local_date);
    CREATE TABLE holds (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        """
    + ",\n        ".join(f"{name} {'TEXT' if name == 'side' else 'REAL'}" for name in _HOLD_COLUMNS_V1)
    + """
    );
    CREATE INDEX holds_by_session ON holds (session_id);
    """,
    # 2: each rep is measured from the rest before it; how far that rest faced from the session's neutral
    """
    ALTER TABLE holds ADD COLUMN neutral_shift_deg REAL NOT NULL DEFAULT 0
    """,
    # 3: that shift may be unknown (NULL): across a long gap in the recording (SQLite cannot drop a NOT NULL, so the
    # table is rebuilt)
    """
    CREATE TABLE holds_v3 (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        """
    + ",\n        ".join(f"{name} {'TEXT' if name == 'side' else 'REAL'}" for name in _HOLD_COLUMNS_V1)
    + """,
        neutral_shift_deg REAL
    );
    INSERT INTO holds_v3 SELECT * FROM holds;
    DROP TABLE holds;
    ALTER TABLE holds_v3 RENAME TO holds;
    CREATE INDEX holds_by_session ON holds (session_id)
    """,
    # 4: the gyro scale applied to the session (imutrack calibrate); NULL: its sensor was not calibrated
    """
    ALTER TABLE sessions ADD COLUMN gyro_scale REAL
    """,
    # 5: repair `forced`: before, a numpy bool was stored as a one-byte BLOB, which reads back as True whatever it
    # held; recomputed from the stored bounce with the threshold every version so far used (1°). And each session
    # keeps the analysis parameters it was computed with (JSON; NULL for sessions stored before).
    """
    UPDATE holds SET forced = CASE WHEN bounce_deg > 1.0 THEN 1 ELSE 0 END;
    ALTER TABLE sessions ADD COLUMN analysis_params TEXT
    """,
    # 6: which analysis computed the numbers (imutrack.analysis.ANALYSIS_VERSION); NULL: one before versions were kept
    """
    ALTER TABLE sessions ADD COLUMN analysis_version INTEGER
    """,
    # 7: the evening lasts until the morning (late sessions were "night", counted in no part of the day)
    """
    UPDATE sessions SET time_slot = 'evening' WHERE time_slot = 'night'
    """,
    # 8: how the back felt before and after a guided session, 0 (no pain) to 10 (worst imaginable); NULL: not rated
    """
    ALTER TABLE sessions ADD COLUMN pain_before INTEGER;
    ALTER TABLE sessions ADD COLUMN pain_after INTEGER
    """,
    # 9: the prescription (imutrack.plan.Plan as JSON) from each start date on, and who the person is (optional)
    """
    CREATE TABLE plans (
        start_date TEXT PRIMARY KEY,
        plan TEXT NOT NULL,
        stored_at TEXT NOT NULL
    );
    CREATE TABLE profile (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # 10: a second sensor on the pelvis: the spine's and the pelvis's part of each hold (NULL with one sensor), and
    # which sensors a session was measured with
    """
    ALTER TABLE holds ADD COLUMN spine_mean_twist_deg REAL;
    ALTER TABLE holds ADD COLUMN pelvis_mean_twist_deg REAL;
    ALTER TABLE holds ADD COLUMN pelvis_share REAL;
    ALTER TABLE holds ADD COLUMN hips_moved_deg REAL;
    ALTER TABLE sessions ADD COLUMN sensors TEXT NOT NULL DEFAULT 'chest'
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(ImutrackError):
    """The database file cannot be used (foreign, damaged, or from a newer imutrack)."""


@dataclass(frozen=True)
class StoredSession:
    """A session row (times: ``start_time`` ISO 8601 with the local offset, ``local_date`` YYYY-MM-DD)."""

    id: int
    content_hash: str
    start_time: str
    local_date: str
    time_slot: str
    device: str
    assisted: str
    recording_path: str
    duration_s: float
    reps_left: int
    reps_right: int
    best_rom_left_deg: float | None
    best_rom_right_deg: float | None
    asymmetry_deg: float | None
    gyro_scale: float | None = None  # the gyro scale applied (imutrack calibrate); None: not calibrated
    analysis_version: int | None = None  # which analysis computed the numbers; None: one before versions were kept
    pain_before: int | None = None  # how the back felt before the session, 0 (no pain) – 10 (worst); None: not rated
    pain_after: int | None = None  # and after it
    notes: str = ""  # the person's words about the session (imutrack record --notes), as recorded
    sensors: str = "chest"  # "chest+pelvis": measured with a second sensor (the spine's own twist is known)


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (the identity of a recording)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    """The progress database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._db = self._open()
        self._checked = False  # quick_check passed (before the first write)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _open(self) -> sqlite3.Connection:
        existed = self.path.exists() and self.path.stat().st_size > 0
        if existed:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise StoreError(f"{self.path} is not an imutrack database (not SQLite); it was left untouched")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.text_factory = _text
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # One read transaction, so the three come from the same moment: read one by one, another process's
            # first migration could commit in between (no application id yet, but tables) — "another program's".
            db.execute("BEGIN")
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            db.execute("COMMIT")
            if existed and app_id != APPLICATION_ID and (tables or version):
                raise StoreError(f"{self.path} is another program's database, not imutrack's; it was left untouched")
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer imutrack (schema {version}, this one knows {SCHEMA_VERSION});"
                    " update imutrack"
                )
            _use_wal(db)
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db, version)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            db.close()
            raise StoreError(
                f"{self.path} is damaged or not a database ({_said(exc)}); it was left untouched") from None
        except StoreError:
            db.close()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection, version: int) -> None:
        for number in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                current = db.execute("PRAGMA user_version").fetchone()[0]
                if current == number:  # another process may have migrated meanwhile
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version = {number + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def add(self, result: SessionAnalysis, recording_path: str | os.PathLike | None,
            digest: str | None = None) -> tuple[int, bool]:
        """Store an analysed session; returns (session id, True if it was new). The same recording stored again
        returns the existing id and changes nothing. ``digest`` identifies a session whose recording is not kept
        (``recording_path`` None)."""
        if digest is None:
            if recording_path is None:
                raise ValueError("a session needs its recording or a digest")
            digest = content_hash(recording_path)
        row = self._row(result, digest, recording_path)
        db = self._db
        with self._writing():
            existing = db.execute("SELECT id FROM sessions WHERE content_hash = ?", (digest,)).fetchone()
            if existing:
                return int(existing[0]), False
            cursor = db.execute(
                f"INSERT INTO sessions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
            session_id = int(cursor.lastrowid)
            self._insert_holds(session_id, result)
        return session_id, True

    @contextlib.contextmanager
    def _writing(self):
        """One write transaction: all of it or, on any failure, none of it; a failure of the file itself (damage
        that the check before writing did not see) is one line saying nothing was written."""
        self._check_before_writing()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error, UnicodeDecodeError):
                self._db.execute("ROLLBACK")
            if isinstance(exc, (sqlite3.DatabaseError, UnicodeDecodeError)):
                raise StoreError(f"{self.path} could not be written ({_said(exc)}); nothing was written to it (if "
                                 "it is damaged, keep a copy and move it aside to start a new one)") from None
            raise

    def add_plan(self, plan) -> None:
        """Keep a prescription (:class:`imutrack.plan.Plan`) from its start date on (replacing one of that date)."""
        with self._writing():
            self._db.execute("INSERT OR REPLACE INTO plans (start_date, plan, stored_at) VALUES (?, ?, ?)",
                             (plan.start_date, plan.to_json(),
                              datetime.now(timezone.utc).isoformat(timespec="seconds")))

    def plans(self) -> list:
        """The prescriptions kept, oldest first (none: the default plan holds)."""
        from imutrack.plan import Plan

        return [Plan.from_json(text) for (text,) in self._read("SELECT plan FROM plans ORDER BY start_date", ())]

    PROFILE_KEYS = ("name", "patient_id")

    def set_profile(self, **values: str | None) -> None:
        """Who the person is, for the report's header: ``name``, ``patient_id`` (None or "" removes one)."""
        unknown = set(values) - set(self.PROFILE_KEYS)
        if unknown:
            raise StoreError(f"no profile field {', '.join(sorted(unknown))}")
        with self._writing():
            for key, value in values.items():
                if value:
                    self._db.execute("INSERT OR REPLACE INTO profile (key, value) VALUES (?, ?)", (key, value))
                else:
                    self._db.execute("DELETE FROM profile WHERE key = ?", (key,))

    def profile(self) -> dict[str, str]:
        """The profile's fields that are set."""
        return dict(self._read("SELECT key, value FROM profile", ()))

    def set_ratings(self, session_id: int, pain_before: int | None, pain_after: int | None) -> None:
        """How the back felt before and after a session (0 no pain – 10 worst imaginable; None: not rated)."""
        for value in (pain_before, pain_after):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10):
                raise StoreError(f"a back rating is a whole number from 0 to 10, got {value!r}")
        with self._writing():
            self._db.execute("UPDATE sessions SET pain_before = ?, pain_after = ? WHERE id = ?",
                             (pain_before, pain_after, session_id))

    def replace(self, session_id: int, result: SessionAnalysis) -> None:
        """Store a new analysis of a stored session in place of the old one (:func:`imutrack reanalyze`): its
        numbers, holds, parameters and analysis version; the recording, its identity and when it was stored stay."""
        old = self._db.execute("SELECT content_hash, recording_path, stored_at FROM sessions WHERE id = ?",
                               (session_id,)).fetchone()
        if old is None:
            raise StoreError(f"{self.path}: no session {session_id}")
        row = self._row(result, old[0], old[1] or None)
        row.update(recording_path=old[1], stored_at=old[2])
        db = self._db
        with self._writing():
            db.execute(f"UPDATE sessions SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                       [*row.values(), session_id])
            db.execute("DELETE FROM holds WHERE session_id = ?", (session_id,))
            self._insert_holds(session_id, result)

    def _check_before_writing(self) -> None:
        """SQLite's own check of the file, once before this store's first write: writing into a damaged database
        would bury the damage under new data (and say "stored")."""
        if self._checked:
            return
        try:
            found = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            found = [_said(exc)]
        if found != ["ok"]:
            raise StoreError(f"{self.path} is damaged ({_said(found[0])}); nothing was written to it (keep a copy, and "
                             "move it aside to start a new one)")
        self._checked = True

    def _insert_holds(self, session_id: int, result: SessionAnalysis) -> None:
        self._db.executemany(
            f"INSERT INTO holds (session_id, {', '.join(_HOLD_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(_HOLD_COLUMNS))})",
            [[session_id, *(_column_value(getattr(h, name)) for name in _HOLD_COLUMNS)] for h in result.holds],
        )

    @staticmethod
    def _row(result: SessionAnalysis, digest: str, recording_path) -> dict:
        """A session's row of the sessions table."""
        from imutrack import __version__
        from imutrack.analysis import ANALYSIS_VERSION

        meta, session = result.meta, result.session
        start = meta.start_time or datetime.now().astimezone().isoformat(timespec="seconds")
        start_dt = datetime.fromisoformat(start)
        if start_dt.tzinfo is None:
            start_dt = start_dt.astimezone()
        row = dict(
            content_hash=digest,
            start_time=start,
            start_utc=start_dt.astimezone(timezone.utc).isoformat(timespec="seconds"),
            local_date=start_dt.date().isoformat(),
            time_slot=session.time_slot,
            device=meta.device,
            profile=meta.profile,
            assisted=meta.assisted,
            notes=meta.notes,
            recording_path="" if recording_path is None else str(Path(recording_path).resolve()),
            duration_s=session.duration_s,
            reps_left=session.left.reps,
            reps_right=session.right.reps,
            best_rom_left_deg=_finite(session.left.best_rom_deg),
            best_rom_right_deg=_finite(session.right.best_rom_deg),
            asymmetry_deg=_finite(session.asymmetry_deg),
            gyro_scale=None if result.calibration is None else float(result.calibration.scale),
            analysis_params=json.dumps(json_safe(asdict(result.params)), sort_keys=True),
            analysis_version=ANALYSIS_VERSION,
            sensors=result.sensors,
            imutrack_version=__version__,
            stored_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        return row

    def _read(self, query: str, params) -> list[tuple]:
        """All rows of a query; a damaged file is one clear error, not a traceback."""
        try:
            return self._db.execute(query, params).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise StoreError(f"{self.path} is damaged ({_said(exc)}); it was left untouched (keep a copy, and move it "
                             "aside to start a new one)") from None

    def analysis_params(self, session_id: int) -> dict | None:
        """The analysis parameters a stored session was computed with (as JSON data), or None if not kept."""
        row = self._db.execute("SELECT analysis_params FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def sessions(self, date_from: str | None = None, date_to: str | None = None) -> list[StoredSession]:
        """Sessions in time order, optionally between local dates (inclusive, YYYY-MM-DD)."""
        names = [f.name for f in fields(StoredSession)]
        rows = self._read(
            f"SELECT {', '.join(names)} FROM sessions WHERE local_date >= ? AND local_date <= ? ORDER BY start_utc",
            (date_from or "0000-00-00", date_to or "9999-99-99"),
        )
        return [StoredSession(*row) for row in rows]

    def holds(self, session_ids: list[int] | None = None) -> Iterator[tuple[int, HoldMetrics]]:
        """(session id, hold) pairs in time order, for the given sessions or all."""
        query = f"SELECT session_id, {', '.join(_HOLD_COLUMNS)} FROM holds"
        params: list = []
        if session_ids is not None:
            query += f" WHERE session_id IN ({', '.join('?' * len(session_ids))})"
            params = list(session_ids)
        rep, forced = _HOLD_COLUMNS.index("rep") + 1, _HOLD_COLUMNS.index("forced") + 1
        nan = float("nan")
        for row in self._read(query + " ORDER BY session_id, rep", params):
            # positional, in the field order the columns were selected in (a report reads every hold: 3x faster)
            values = [nan if v is None else v for v in row]
            values[rep], values[forced] = int(values[rep]), bool(values[forced])
            yield int(row[0]), HoldMetrics(*values[1:])


def _said(problem: Exception | str) -> str:
    """What SQLite said of a damaged file, on one line and short (its reports can quote a whole schema)."""
    text = " ".join(str(problem).replace("*** in database main ***", "").split())
    return text if len(text) <= 120 else text[:119] + "…"


def _text(raw: bytes) -> str:
    """A stored text; bytes that are not UTF-8 are damage, reported as such by the callers' DatabaseError handling
    (damage can garble SQLite's own messages too: they are caught as UnicodeDecodeError)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise sqlite3.DatabaseError("a stored text is not UTF-8") from None


def _use_wal(db: sqlite3.Connection) -> None:
    """Write-ahead logging, so readers and one writer do not block each other. Switching needs the file to itself for
    a moment, and SQLite may answer "locked" at once rather than wait: retried until the busy timeout."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _column_value(value):
    """A hold field as SQLite keeps it with its type: bool as 0/1, int, str, float (NaN and infinities as NULL).
    numpy's scalars are not SQLite's: a numpy bool would be stored as a BLOB that reads back as True."""
    if isinstance(value, bool | np.bool_):
        return int(bool(value))
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _finite(float(value))
    return value


def _finite(value: float) -> float | None:
    return None if value is None or value != value or value in (float("inf"), float("-inf")) else float(value)


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("imutrack", appauthor=False)) / "imutrack.sqlite3"
