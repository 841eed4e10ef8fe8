"""Shared fixtures. Tests never need a sensor, a screen or the internet."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("IMUTRACK_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the real user's data folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))


def flat(text: str) -> str:
    """Terminal output with its line wrapping undone (the console wraps long paths at its width, wherever that
    falls), so a phrase can be looked for whatever the temporary folder's name."""
    return " ".join(text.split())
