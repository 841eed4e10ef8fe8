"""The live view in a real pseudo-terminal: prompts, countdown and summary appear on the screen."""

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def run_in_pty(args, answer=None, timeout_s=120):
    """Run ``python -m imutrack ARGS`` in a pseudo-terminal; ``answer(screen_bytes)`` may return bytes to type.
    Returns (exit code, screen text without escape sequences)."""
    controller, terminal = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="30")
    process = subprocess.Popen([sys.executable, "-m", "imutrack", *args], stdin=terminal, stdout=terminal,
                               stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the program ended
                break
            if not chunk:
                break
            screen += chunk
            typed = answer(screen) if answer else None
            if typed:
                os.write(controller, typed)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(controller)
    return process.returncode, ANSI.sub("", screen.decode("utf-8", "replace"))


posix_only = pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pseudo-terminal")


def answers(*pairs: tuple[bytes, bytes]):
    """An ``answer`` for :func:`run_in_pty` that types each reply once, when its prompt first appears."""
    typed = []

    def answer(screen: bytes) -> bytes | None:
        for prompt, reply in pairs:
            if prompt not in typed and prompt in screen:
                typed.append(prompt)
                return reply
        return None

    answer.typed = typed
    return answer


@posix_only
def test_live_view_in_a_pseudo_terminal(tmp_path):
    import sqlite3

    db = tmp_path / "p.sqlite3"
    rate = answers((b"before the exercise?", b"7"), (b"after the exercise?", b"t"))
    # (at 8x the view, drawn 10 times a second, shows each phase: the simulated person turns 0.8 s after being asked)
    code, text = run_in_pty(["live", "--terminal", "--simulate", "--seed", "0", "--speed", "8", "--reps", "1",
                             "--hold", "12", "--rest", "3", "--quiet", "--db", str(db), "--out", str(tmp_path / "live.csv")],
                            answer=rate)
    assert code == 0, text[-2000:]
    assert "imutrack live" in text and "Sit upright" in text
    assert "Turn to the left as far as is comfortable" in text
    assert re.search(r"hold:\s+\d+ s left", text)
    assert "Today's session" in text and "seconds counted" in text and "recording:" in text
    assert "Your back: 7 before, 10 after" in text
    with sqlite3.connect(db) as store:
        assert store.execute("SELECT pain_before, pain_after FROM sessions").fetchall() == [(7, 10)]


@posix_only
def test_q_quits_and_keeps_the_recording(tmp_path):
    from imutrack.recording import read_recording

    out = tmp_path / "quit.csv"
    press_q = answers((b"before the exercise?", b"\n"), (b"Turn to the left", b"q"), (b"after the exercise?", b"\n"))
    code, text = run_in_pty(["live", "--terminal", "--simulate", "--seed", "0", "--speed", "10", "--quiet",
                             "--no-store", "--out", str(out)], answer=press_q)
    assert len(press_q.typed) == 3 and code == 0, text[-1500:]
    assert "Session stopped" in text and "recording:" in text
    assert "Your back" not in text  # both ratings skipped
    assert len(read_recording(out).samples) > 100


def test_the_gauge_marks_today_and_the_best_before():
    from rich.console import Console

    from imutrack.cli.guide import GAUGE_WIDTH, live_panel
    from imutrack.live import GuideState, Phase

    state = GuideState(phase=Phase.HOLD, side="left", rep=2, twist_deg=40.0, hold_remaining_s=29.2,
                       rep_twist_deg=38.4, best_twist_deg={"left": 44.0, "right": 0.0})
    console = Console(width=120, record=True, force_terminal=False)
    console.print(live_panel(state, {"left": 60.0}, reps_per_side=2))
    text = console.export_text()
    gauge = re.search(r"twist\s+\+40\.0°\s+(\S+)", text).group(1)
    assert gauge.index("▲") == int(44 * GAUGE_WIDTH / 90) and gauge.index("|") == int(60 * GAUGE_WIDTH / 90)
    assert gauge.count("█") == int(40 * GAUGE_WIDTH / 90)
    assert "this rep 38°, today's best 44°, best before 60° (|)" in text and "30 s left" in text
    assert "left side, rep 2 of 2: hold" in text


def test_the_panel_fits_80_columns_says_why_the_timer_stands_and_each_cue():
    from rich.console import Console

    from imutrack.cli.guide import live_panel
    from imutrack.live import GuideState, Phase

    state = GuideState(phase=Phase.HOLD, side="right", rep=1, twist_deg=-0.04, hold_remaining_s=42.0,
                       rep_twist_deg=51.0, timer_note="Timer paused: sit tall",
                       cues=["slouch", "breath"], cue_texts=["Sit tall: you are slouching", "Breathe deeply and slowly"],
                       best_twist_deg={"left": 55.0, "right": 51.0})
    console = Console(width=80, record=True, force_terminal=False)
    console.print(live_panel(state, {"right": 70.0}, reps_per_side=1, unassisted=True))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "twist   +0.0°" in text  # never "-0.0°"
    assert "Timer paused: sit tall" in text and "▸ Sit tall: you are slouching" in text
    assert "▸ Breathe deeply and slowly" in text and "(no hands)" in text
    # the gauge line is one line: it does not wrap
    assert sum("twist" in line for line in text.splitlines()) == 1
    calibrating = Console(width=80, record=True, force_terminal=False)
    calibrating.print(live_panel(GuideState(), None, reps_per_side=2))
    first = calibrating.export_text()
    assert "getting ready" in first and "rep 0" not in first and "rest:" not in first
