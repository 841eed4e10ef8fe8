"""Reading other programs' CSV files: separator and decimal-comma sniffing, quoted headers, per-line errors.

Every problem is reported as ``file:line: what``; rows that cannot be read are skipped (and counted) when the rest of
the file is good, so a partly damaged export still imports what is valid.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np

from imutrack.errors import RecordingFormatError


@dataclass
class Table:
    """A numeric table read from text. ``values`` (rows, columns) float64; ``skipped`` lists "line N: why"."""

    where: str
    header: list[str]
    values: np.ndarray
    skipped: list[str]

    def column(self, pattern: str) -> int | None:
        """Index of the first column whose header matches the regular expression (case-insensitive), or None."""
        for k, name in enumerate(self.header):
            if re.search(pattern, name, re.IGNORECASE):
                return k
        return None


def sniff(first_lines: str) -> tuple[str, bool]:
    """(separator, decimal comma) of a CSV-like text from its first lines. The separator is read off the header line
    (numbers with decimal commas would outvote it in the data lines)."""
    header = first_lines.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    separator = max(counts, key=counts.get)
    decimal_comma = separator != "," and re.search(r"\d,\d", first_lines) is not None
    return separator, decimal_comma


def read_table(text: str, where: str, max_skipped_fraction: float = 0.2, allow_empty: bool = False) -> Table:
    """Parse a header line and numeric rows. Blank lines are ignored; a torn last line is skipped. With
    ``allow_empty``, empty cells (tables of unequal columns) become NaN instead of spoiling the row."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RecordingFormatError(f"{where}:1: empty file (no header line)")
    separator, decimal_comma = sniff("\n".join(lines[:5]))
    header = next(csv.reader([lines[0]], delimiter=separator))
    header = [h.strip() for h in header]
    n = len(header)
    body = "\n".join(lines[1:])
    if decimal_comma:
        body = body.replace(",", ".")
    values = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # loadtxt warns on an empty body; handled below
        try:
            values = np.loadtxt(io.StringIO(body), delimiter=separator, ndmin=2, dtype=np.float64, quotechar='"')
            if values.size and (values.shape[1] != n or not np.isfinite(values).all()):
                values = None
        except ValueError:
            values = None
    skipped: list[str] = []
    if values is None:  # the slow path: row by row, keeping what is readable
        rows = []
        for offset, line in enumerate(body.split("\n"), start=2):
            if not line.strip():
                continue
            fields = [f.strip().strip('"') for f in line.split(separator)]
            try:
                row = [float("nan") if allow_empty and not f else float(f) for f in fields]
            except ValueError:
                skipped.append(f"line {offset}: not all numbers")
                continue
            if len(row) != n:
                skipped.append(f"line {offset}: {len(row)} values for {n} columns")
                continue
            if not all(np.isfinite(v) or (allow_empty and not f) for v, f in zip(row, fields)):
                skipped.append(f"line {offset}: a value is not finite")
                continue
            rows.append(row)
        values = np.array(rows, dtype=np.float64).reshape(-1, n)
        total = len(rows) + len(skipped)
        if total and len(skipped) > max_skipped_fraction * total:
            raise RecordingFormatError(f"{where}:{skipped[0].split(':')[0].split()[-1]}: "
                                       f"{len(skipped)} of {total} rows unreadable ({skipped[0].split(': ', 1)[1]})")
    if values.size == 0:
        raise RecordingFormatError(f"{where}:2: no data rows")
    return Table(where, header, values, skipped)
