"""The guided live session's command (``imutrack live``): the terminal view, the spoken and sounded cues, and the
keys. The session itself — phases, cues, the hold countdown — is the pure state machine in :mod:`imutrack.live`; its
samples come from any live :class:`~imutrack.sources.Source` (:mod:`imutrack.cli.sources`). This module only feeds
and shows it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from imutrack.analysis import analyze
from imutrack.cli.console import console, new_recording_path, plain
from imutrack.cli.sources import open_source, recording_of
from imutrack.errors import ImutrackError


def live_command(args: argparse.Namespace, backends=None) -> int:
    """Guide a session from the source the options name; the recording is kept whatever ends it, then analysed,
    summarised and stored. ``backends``: bleak backends for a BLE sensor (the tests' virtual sensors)."""
    from imutrack.live import Guide, GuideConfig

    plans, previous = _stored(args.db)
    _follow_plan(args, plans)
    if args.reps < 1:
        raise ImutrackError(f"--reps must be at least 1, got {args.reps}")
    out = args.out or new_recording_path("live")
    if out.exists():
        raise ImutrackError(f"{out}: already exists; not overwriting a recording")
    view = _view(args)
    source = open_source(args, out, need_twist=True, backends=backends)
    guide = Guide(GuideConfig(reps_per_side=args.reps, hold_s=args.hold, rest_s=args.rest,
                              strict_form=not args.lenient, chest_normal_axis=source.meta.chest_normal_axis))
    best_before, _ = _comparable(previous, source.meta.assisted, None)
    gauge_before = {side: value for side, value in best_before.items() if value}
    web = None
    if view == "web":
        web = _open_web(args, {"reps_per_side": args.reps, "hold_s": args.hold, "best_before": gauge_before,
                               "unassisted": bool(args.unassisted)})
    try:
        return _run(args, guide, source, out, view, web, gauge_before, previous)
    finally:
        if web is not None:
            web.close()


def _stored(db: Path | None) -> tuple[list, list]:
    """The plans and the sessions in the progress database so far (none without one), read in one visit."""
    from imutrack.store import Store, default_path

    path = db or default_path()
    if not path.exists():
        return [], []
    with Store(path) as store:
        return store.plans(), store.sessions()


def _follow_plan(args: argparse.Namespace, plans: list) -> None:
    """What the options leave open (reps, hold, hands) from the plan in force today (``imutrack plan``)."""
    from datetime import date

    from imutrack.plan import plan_on

    plan = plan_on(plans, date.today().isoformat())
    args.reps = plan.reps_per_side if args.reps is None else args.reps
    args.hold = plan.hold_s if args.hold is None else args.hold
    args.unassisted = plan.unassisted if args.unassisted is None else args.unassisted
    if plans:
        console.print(plain(f"your plan: {plan.describe()}" + (f" — {plan.note}" if plan.note else "")),
                      highlight=False, style="dim", soft_wrap=True)


def _say(event) -> None:
    console.print(f"[{int(event.t_s // 60):02d}:{event.t_s % 60:04.1f}] {event.text}", highlight=False, markup=False)


def _run(args, guide, source, out: Path, view: str, web, gauge_before: dict, previous: list) -> int:
    """The session's loop (samples in, the view and the voice fed, keys and page commands taken), then its
    summary."""
    from imutrack.live import Phase

    voice = _Voice() if view != "web" and not args.quiet and args.speed == 1.0 else None
    if voice is not None:
        from imutrack import sound

        heard, said = sound.check()
        console.print(said, style="dim" if heard else "yellow", markup=False, highlight=False)
        if not heard:
            voice.close()
            voice = None
    live_view = None
    if view == "terminal":
        from rich.live import Live

        def panel(state):
            return live_panel(state, gauge_before, args.reps, args.unassisted)

        live_view = Live(panel(guide.state), console=console, refresh_per_second=10)
        live_view.start()
    now = 0.0
    keys = _Keys()
    if web is not None and not _page_opened(web, keys):
        keys.close()
        console.print("stopped before the session began; nothing was recorded")
        return 1
    rate = not args.no_rating and (web is not None or keys.active)
    pain_before = _ask_rating("before", web, keys) if rate else None
    if keys.active:
        console.print("keys: space pause/resume, s skip, q quit (the recording is kept)", style="dim")
    actions = {" ": guide.toggle_pause, "pause": guide.toggle_pause, "s": guide.skip, "S": guide.skip,
               "skip": guide.skip, "q": guide.stop, "Q": guide.stop, "stop": guide.stop}
    try:
        with recording_of(source, out) as write:
            try:
                pelvis_batches = getattr(source, "pelvis_batches", list)  # a second sensor on the pelvis, if any
                hear = getattr(source, "hear", None)  # the simulated person follows what the guide asks
                for batch, now in source.batches():
                    for pelvis in pelvis_batches():
                        guide.update_pelvis(pelvis)
                    if batch is not None:
                        write(batch)
                        state = guide.update(batch)
                    else:
                        state = guide.tick(now)
                    for command in [keys.read(), *(web.commands() if web is not None else ())]:
                        if command in actions:
                            state = actions[command](now)
                    if hear is not None:
                        hear(guide.asks())
                    events = guide.take_events()
                    for event in events:
                        if view != "terminal":
                            _say(event)
                        if voice is not None:
                            voice.say(event.kind, event.text)
                    if web is not None:
                        web.publish(state, events)
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
        events = guide.take_events()
        for event in events:
            _say(event)
        if web is not None:
            web.publish(guide.state, events)
    pain_after = None
    if rate and out.exists():
        with _Keys() as keys:
            pain_after = _ask_rating("after", web, keys)
    summary = _summarize(guide.state.holds, out, args, previous, source.meta.assisted, (pain_before, pain_after))
    print_summary(summary)
    if web is not None:
        web.show_summary(summary.to_dict())
    console.print(f"recording: {out}", markup=False)
    return 0


def _page_opened(web, keys) -> bool:
    """Wait for the page before the session begins (so its start is seen), or for Enter or space in the terminal to
    begin without it; False if the person pressed q or Ctrl-C."""
    console.print("the session begins when the page opens (or press Enter to begin now; q to stop)", style="dim")
    try:
        while not web.wait_for_page(0.1):
            key = keys.read()
            if key in ("\n", "\r", " "):
                return True
            if key in ("q", "Q"):
                return False
    except KeyboardInterrupt:
        return False
    return True


def _view(args: argparse.Namespace) -> str:
    """Which view the session shows: "web" (a page in the browser), "terminal" (a live panel) or "plain" (lines)."""
    import sys

    if args.web:
        return "web"
    if args.plain:
        return "plain"
    if not args.terminal:
        from imutrack.cli.webview import browser_available

        if browser_available():
            return "web"
    return "terminal" if sys.stdout.isatty() else "plain"


def _open_web(args: argparse.Namespace, config: dict):
    """Serve the session's page and open it in the browser unless told not to; its address is printed."""
    from imutrack.cli.webview import LOOPBACK, WebView

    web = WebView(host=args.listen, port=args.port)
    url = web.start(config)
    console.print(f"live view: {url}", markup=False, highlight=False, soft_wrap=True)
    if args.listen not in LOOPBACK:
        console.print(f"listening on {args.listen}: anyone on that network with the address above sees the session",
                      style="yellow", markup=False)
    if not args.no_browser:
        import webbrowser

        if not webbrowser.open(url):
            console.print("no browser could be opened: open the address above yourself", style="yellow")
    return web


def _comparable(previous: list, assisted: str, exclude: Path | None) -> tuple[dict[str, float | None], list[str]]:
    from imutrack.analysis import ANALYSIS_VERSION
    from imutrack.summary import comparable_best

    return comparable_best(previous, assisted, ANALYSIS_VERSION,
                           str(exclude.resolve()) if exclude is not None else None)


RATING_QUESTIONS = {"before": "How does your back feel now, before the exercise?",
                    "after": "How does your back feel now, after the exercise?"}
RATING_SCALE = "0 no pain … 10 worst imaginable"


def _ask_rating(when: str, web, keys) -> int | None:
    """The person's rating of their back (0–10), asked on the page or in the terminal; None when skipped."""
    question = RATING_QUESTIONS[when]
    if web is not None:
        web.ask_rating(when, question)
        console.print(f"{question} Answer on the page (Enter here skips).", markup=False)
        deadline_s = 300.0
        while deadline_s > 0:
            answered, value = web.rating(0.1)
            if answered:
                return value
            if keys.read() in ("\n", "\r"):
                web.withdraw_question()
                return None
            deadline_s -= 0.1
        return None
    console.print(f"{question} ({RATING_SCALE}): press 0–9, t for 10, Enter to skip", markup=False)
    while True:
        key = keys.read(timeout_s=600.0)
        if key is None or key in ("\n", "\r", "q", "Q"):
            return None
        if key.isdigit():
            return int(key)
        if key in ("t", "T"):
            return 10


def _summarize(guide_holds: list[dict], out: Path, args: argparse.Namespace, previous: list, assisted: str,
               pain: tuple[int | None, int | None] = (None, None)):
    """Analyse the session's recording (the numbers the progress database keeps), store it (with the back ratings)
    unless told not to, and summarise it against comparable earlier sessions."""
    from imutrack.metrics import MetricParams
    from imutrack.summary import summarize_session

    result, notes = None, []
    if out.exists():
        try:
            result = analyze(out)
        except ImutrackError as exc:
            notes.append(f"The recording could not be analysed: {exc}")
    before, compared = _comparable(previous, assisted, out)
    if result is not None:
        notes += result.warnings
        if not args.no_store:
            from imutrack.store import Store, default_path

            with Store(args.db or default_path()) as store:
                session_id, _ = store.add(result, out)
                if pain != (None, None):
                    store.set_ratings(session_id, *pain)
            notes.append("Stored in your progress database.")
    if pain != (None, None):
        notes.insert(0, f"Your back: {'–' if pain[0] is None else pain[0]} before, "
                        f"{'–' if pain[1] is None else pain[1]} after ({RATING_SCALE}).")
    return summarize_session(guide_holds, None if result is None else result.holds, args.hold, before,
                             MetricParams(), compared + notes)


def print_summary(summary) -> None:
    """The session's summary as two tables (reps, sides) and its notes."""
    from rich import box
    from rich.table import Table

    reps = Table(title="Today's session", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in (("rep", "right"), ("side", "left"), ("angle held", "right"),
                            ("seconds counted", "right"), ("form", "left")):
        reps.add_column(column, justify=justify)
    for r in summary.reps:
        reps.add_row(str(r.rep), r.side, "–" if r.angle_deg is None else f"{r.angle_deg:.1f}°",
                     f"{r.counted_s:.0f} of {r.target_s:.0f} s", plain(", ".join(r.form) or "good"))
    if not summary.reps:
        reps.add_row("–", "", "", "", "no rep started")
    sides = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column, justify in (("side", "left"), ("today", "right"), ("best before", "right"), ("change", "left")):
        sides.add_column(column, justify=justify)
    for s in summary.sides:
        sides.add_row(s.side, "–" if s.today_deg is None else f"{s.today_deg:.1f}°",
                      "–" if s.before_deg is None else f"{s.before_deg:.1f}°", s.change)
    console.print(reps)
    console.print(sides)
    for note in summary.notes:
        console.print(note, style="dim", markup=False, highlight=False)


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
    two = state.spine_twist_deg == state.spine_twist_deg  # not nan: a pelvis sensor splits the twist
    if two:  # the hips' part of the turn drawn light: the rest of the bar is the spine's twist
        hips = max(0.0, state.pelvis_twist_deg * (1.0 if state.twist_deg >= 0 else -1.0))
        for k in range(min(GAUGE_WIDTH, int(hips * scale), int(abs(state.twist_deg) * scale))):
            gauge[k] = "░"
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
    if two:
        marks.append(f"spine {abs(state.spine_twist_deg):.0f}°, hips {abs(state.pelvis_twist_deg):.0f}° (░)")
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

    def __enter__(self) -> _Keys:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, timeout_s: float = 0.0) -> str | None:
        """A key pressed, waiting up to ``timeout_s`` for one; None without one (or without a terminal)."""
        if not self.active:
            return None
        if self._windows:
            import msvcrt
            import time

            deadline = time.monotonic() + timeout_s
            while not msvcrt.kbhit():
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.05)
            return msvcrt.getwch()
        import select

        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        return os.read(self._fd, 1).decode("utf-8", "replace") if ready else None

    def close(self) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
