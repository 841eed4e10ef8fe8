"""User text on its way to a terminal: a file name or a header field may hold anything.

A terminal takes control characters (ESC sequences among them) as commands: they can set the window's title, clear
the screen or fake output. :func:`printable` shows each as "?"; rich markup is kept out by printing such text as
``rich.text.Text`` or with ``markup=False`` (the app layer's business).
"""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline shown as "?"."""
    return "".join("?" if unicodedata.category(ch) == "Cc" and ch not in "\t\n" else ch for ch in str(text))
