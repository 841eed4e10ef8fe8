"""Tables for spreadsheets: CSV files whose every cell opens as data.

A spreadsheet takes a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) for a formula:
a note or a file name like ``=HYPERLINK(…)`` would become a live link. Such text is written with a leading ``'``,
which spreadsheets show as text; numbers stay numbers, and a value not measured (NaN, None) is an empty cell.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """A value as a CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``."""
    if type(value) is float:  # most cells: numbers (checked first, as this runs for every cell)
        return value if math.isfinite(value) else ""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a header and rows (UTF-8, ``,``-separated), every cell through :func:`cell`."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)
    return path
