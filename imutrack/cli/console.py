"""What every command shares to talk to the person: the two consoles (stdout carries only what was asked for;
progress, notes and errors go to stderr), user text made safe for the terminal, number formatting, and where the
user's files live."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from platformdirs import user_data_dir
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from imutrack.text import printable

console = Console()
status = Console(stderr=True)  # progress, errors and notes: stdout carries only what was asked for


def plain(text: str) -> Text:
    """User text (a file name, a header field) for the terminal: as it is, never read as rich markup ("[link=…]"),
    with control characters (a terminal's escape sequences: a window title, a cleared screen) shown as "?"."""
    return Text(printable(text))


def num(value: float | None, spec: str) -> str:
    """``value`` formatted by ``spec``; "-" when there is none (None or NaN)."""
    return "-" if value is None or math.isnan(value) else format(value, spec)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), console=status, transient=False
    )


def data_dir() -> Path:
    """The user's imutrack data folder (recordings, database)."""
    return Path(user_data_dir("imutrack", appauthor=False))


def unique(path: Path) -> Path:
    """``path``, or ``name-2``, ``name-3``… beside it: never a file that exists."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def new_recording_path(kind: str) -> Path:
    """A new file in the user's recordings folder, named by the time and the kind of source."""
    return unique(data_dir() / "recordings" / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{kind}.csv")
