"""The guided live session's command (``imutrack live``): the terminal view, the spoken and sounded cues, and the
keys. The session itself — phases, cues, the hold countdown — is the pure state machine in :mod:`imutrack.live`; its
samples come from any live :class:`~imutrack.sources.Source` (:mod:`imutrack.cli.sources`). This module only feeds
and shows it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from imutrack.analysis import analyze
from imutrack.cli.console import console, new_recording_path, num
from imutrack.cli.sources import open_source, recording_of
from imutrack.errors import ImutrackError


def live_command(args: argparse.Namespace, backends=None) -> int:
    """Guide a session from the source the options name; the recording is kept whatever ends it, then analysed and
    stored. ``backends``: bleak backends for a BLE sensor (the tests' virtual sensors)."""
    import sys

    from imutrack.live import Guide, GuideConfig, Phase

    if args.reps < 1:
        raise ImutrackError(f"--reps must be at least 1, got {args.reps}")
    out = args.out or new_recording_path("live")
    source = open_source(args, out, need_twist=True, backends=backends)
    guide = Guide(GuideConfig(reps_per_side=args.reps, hold_s=args.hold, rest_s=args.rest,
                              strict_form=not args.lenient, chest_normal_axis=source.meta.chest_normal_axis))
    best_before = _best_before(args.db)
    plain = args.plain or not sys.stdout.isatty()
    voice = _Voice() if not args.quiet and args.speed == 1.0 else None

    def say(event) -> None:
        console.print(f"[{int(event.t_s // 60):02d}:{event.t_s % 60:04.1f}] {event.text}", highlight=False)

    live_view = None
    if not plain:
        from rich.live import Live

        def panel(state):
            return live_panel(state, best_before, args.reps, args.unassisted)

        live_view = Live(panel(guide.state), console=console, refresh_per_second=10)
        live_view.start()
    now = 0.0
    keys = _Keys()
    if keys.active:
        console.print("keys: space pause/resume, s skip, q quit (the recording is kept)", style="dim")
    try:
        with recording_of(source, out) as write:
            try:
                for batch, now in source.batches():
                    if batch is not None:
                        write(batch)
                        state = guide.update(batch)
                    else:
                        state = guide.tick(now)
                    key = keys.read()
                    if key == " ":
                        state = guide.toggle_pause(now)
                    elif key in ("s", "S"):
                        state = guide.skip(now)
                    elif key in ("q", "Q"):
                        state = guide.stop(now)
                    for event in guide.take_events():
                        if plain:
                            say(event)
                        if voice is not None:
                            voice.say(event.kind, event.text)
                    if live_view is not None:
                        live_view.update(panel(state))
                    if state.phase is Phase.DONE:
                        break
                else:
                    guide.stop(now)
            except KeyboardInterrupt:
                guide.stop(now)
    finally:
        keys.close()
        if live_view is not None:
            live_view.stop()
        if voice is not None:
            voice.close()
        for event in guide.take_events():
            say(event)
    holds = guide.state.holds
    console.print(f"{len(holds)} holds: " + ", ".join(
        f"{h['side']} held {_held(h['twist_deg'])}, {h['counted_s']:.0f} s counted" for h in holds))
    console.print(f"recording: {out}")
    if not args.no_store and out.exists():
        _store_and_compare(out, args.db)
    return 0


def _held(twist_deg: float) -> str:
    return f"{twist_deg:.0f}°" if twist_deg == twist_deg else "? (the sensor dropped out during the turn)"


def _best_before(db: Path | None) -> dict[str, float]:
    """Best range per side in the progress database so far (empty without one)."""
    from imutrack.store import Store, default_path

    path = db or default_path()
    if not path.exists():
        return {}
    with Store(path) as store:
        sessions = store.sessions()
    best = {}
    for side in ("left", "right"):
        values = [getattr(s, f"best_rom_{side}_deg") for s in sessions if getattr(s, f"best_rom_{side}_deg")]
        if values:
            best[side] = max(values)
    return best


GAUGE_WIDTH = 40  # characters for 0–90° (fits an 80-column terminal with the panel's borders)
PHASE_TITLES = {"calibrate": "getting ready", "turn": "turn", "hold": "hold", "return": "return", "rest": "rest",
                "done": "done"}


def _deg(value: float) -> str:
    return f"{round(value, 1) + 0.0:+.1f}°"  # + 0.0: never "-0.0°"


def live_panel(state, best_before: dict[str, float] | None = None, reps_per_side: int | None = None,
               unassisted: bool = False):
    """The live view: the prompt, a twist gauge (0–90°) marking today's best (▲) and the best before today (|),
    this rep's angle, the countdown, why it stands still when it does, and the cues as sentences."""
    import math

    from rich.panel import Panel
    from rich.text import Text

    from imutrack.live import Phase

    scale = GAUGE_WIDTH / 90.0
    gauge = ["·"] * GAUGE_WIDTH
    for k in range(min(GAUGE_WIDTH, int(abs(state.twist_deg) * scale))):
        gauge[k] = "█"
    today = state.best_twist_deg.get(state.side, 0.0)
    before = (best_before or {}).get(state.side)
    if before:
        gauge[min(GAUGE_WIDTH - 1, int(before * scale))] = "|"
    if today:
        gauge[min(GAUGE_WIDTH - 1, int(today * scale))] = "▲"
    lines = Text()
    lines.append(state.prompt + "\n\n", style="bold")
    lines.append(f"twist {_deg(state.twist_deg):>7}  {''.join(gauge)}\n")
    marks = []
    if state.rep_twist_deg == state.rep_twist_deg:  # not nan: holding
        marks.append(f"this rep {state.rep_twist_deg:.0f}°")
    marks.append(f"today's best {today:.0f}°" if today else "no hold yet today")
    if before:
        marks.append(f"best before {before:.0f}° (|)")
    lines.append(f"{state.side}: " + ", ".join(marks) + "\n")
    if state.phase is Phase.HOLD:
        lines.append(f"hold: {math.ceil(state.hold_remaining_s - 1e-9)} s left\n", style="bold")
    elif state.phase is Phase.REST and state.rest_remaining_s > 0:
        lines.append(f"rest: {math.ceil(state.rest_remaining_s - 1e-9)} s\n")
    if state.timer_note:
        lines.append(state.timer_note + "\n", style="bold red" if state.paused else "bold yellow")
    for sentence in state.cue_texts:
        lines.append(f"▸ {sentence}\n", style="yellow")
    title = PHASE_TITLES.get(state.phase.value, state.phase.value)
    if state.rep >= 1 and state.phase is not Phase.DONE:
        of = f" of {reps_per_side}" if reps_per_side else ""
        title = f"{state.side} side, rep {state.rep}{of}: {title}"
    if unassisted:
        title += " (no hands)"
    lines.rstrip()
    return Panel(lines, title=f"imutrack live — {title}", width=min(80, GAUGE_WIDTH + 38))


def _store_and_compare(out: Path, db: Path | None) -> None:
    """Analyse the session, store it, and compare its best range with the sessions before."""
    from imutrack.store import Store, default_path

    result = analyze(out)
    with Store(db or default_path()) as store:
        store.add(result, out)
        previous = [s for s in store.sessions() if s.recording_path != str(out.resolve())]
    m = result.session
    for side, summary in (("left", m.left), ("right", m.right)):
        before = max([getattr(s, f"best_rom_{side}_deg") or 0.0 for s in previous], default=0.0)
        compare = f" (best before: {before:.1f}°)" if before else ""
        console.print(f"{side}: range of motion {num(summary.best_rom_deg, '.1f')}° (best hold's mean){compare}")


class _Voice:
    """Renders and plays cue sounds on a background thread, so speech synthesis never stalls the session."""

    def __init__(self):
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.available = True

    def say(self, kind: str, text: str) -> None:
        if self.available:
            self._queue.put((kind, text))

    def _run(self) -> None:
        from imutrack import sound

        while True:
            item = self._queue.get()
            if item is None:
                return
            if not sound.play(sound.cue_audio(*item)):
                self.available = False  # no player on this system: cues are shown only

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


class _Keys:
    """Single key presses from the terminal without waiting for Enter (POSIX terminals and Windows consoles);
    inactive without a terminal."""

    def __init__(self):
        import sys

        self._fd, self._saved, self._windows = None, None, sys.platform.startswith("win")
        self.active = False
        if not sys.stdin.isatty():
            return
        if self._windows:
            self.active = True
            return
        import termios
        import tty

        self._fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        self.active = True

    def read(self) -> str | None:
        if not self.active:
            return None
        if self._windows:
            import msvcrt

            return msvcrt.getwch() if msvcrt.kbhit() else None
        import select

        ready, _, _ = select.select([self._fd], [], [], 0)
        return os.read(self._fd, 1).decode("utf-8", "replace") if ready else None

    def close(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
