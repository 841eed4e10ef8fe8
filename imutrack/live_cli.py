"""The guided live session's command (``imutrack live``): its sources (the simulated person, a phone running
phyphox, a BLE sensor), the terminal view, the spoken and sounded cues, and the keys. The session itself — phases,
cues, the hold countdown — is the pure state machine in :mod:`imutrack.live`; this module only feeds and shows it."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

import numpy as np

from imutrack.analysis import analyze
from imutrack.commands import _new_recording_path, _num, console, simulator_meta
from imutrack.errors import ImutrackError
from imutrack.recording import RecordingMeta, RecordingWriter, local_now_iso
from imutrack.sources.simulator import SimulatorConfig, simulate


def simulated_batches(args: argparse.Namespace):
    """(metadata, iterator of (batch or None, session time s)) from the simulated person, paced by ``--speed``."""
    import time

    cfg = SimulatorConfig(sample_rate_hz=50.0, reps_per_side=args.reps, hold_s=args.hold + 8.0,
                          rest_s=args.rest + 6.0, start_time=local_now_iso(), seed=int(time.time()) % 1000)
    session = simulate(cfg)
    samples = session.samples

    def batches():
        started = time.monotonic()
        edges = np.searchsorted(samples.t_s, np.arange(0.0, samples.t_s[-1] + 0.1, 0.1))
        for a, b in zip(edges[:-1], edges[1:]):
            if b <= a:
                continue
            batch = samples.slice(int(a), int(b))
            if args.speed > 0:
                delay = started + batch.t_s[-1] / args.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield batch, float(batch.t_s[-1])

    return simulator_meta(session), batches()


def phyphox_batches(args: argparse.Namespace):
    """(metadata, iterator of (batch or None, session time s)) polling a phone; None batches let time pass."""
    import time

    from imutrack.sources.phyphox_live import PhyphoxStream

    stream = PhyphoxStream(args.phyphox)
    stream.start()
    meta = stream.recording_meta()

    def batches():
        started, offset = time.monotonic(), None
        while True:
            batch = stream.poll()
            now = time.monotonic() - started
            if batch is not None and len(batch):
                offset = now - float(batch.t_s[-1]) if offset is None else offset
                yield batch, float(batch.t_s[-1])
            else:
                yield None, now - (offset or 0.0)
            time.sleep(args.poll)

    return meta, batches()


def ble_batches(args: argparse.Namespace, out: Path, backends=None):
    """(metadata, batches) from a BLE sensor. The recorder runs on its own thread and event loop and writes the
    recording itself (sequence numbers, host times, gap events); batches reach the guide through a queue.
    ``backends`` is an async context manager factory yielding (client, scanner) bleak backends (tests)."""
    import asyncio
    import queue
    import threading
    import time

    from imutrack.sources.ble import BleRecorder, require_gyroscope
    from imutrack.sources.profiles import PROFILES

    batches_in: queue.Queue = queue.Queue()
    failure: list[BaseException] = []
    control: dict = {}
    profile = PROFILES.get(args.profile) if args.profile else None
    if profile is not None:
        require_gyroscope(args.device, profile)
    recorder = BleRecorder(target=args.device, out=out, profile=profile,
                           assisted="unassisted" if args.unassisted else "assisted", on_batch=batches_in.put,
                           require_gyro=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def request_stop() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended (the recorder stopped by itself)
                loop.call_soon_threadsafe(stop.set)

        control["stop"] = request_stop
        if backends is None:
            await recorder.run(stop)
            return
        async with backends() as (client_backend, scanner_backend):
            recorder.client_backend, recorder.scanner_backend = client_backend, scanner_backend
            await recorder.run(stop)

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 (handed to the main thread)
            failure.append(exc)

    worker = threading.Thread(target=thread_main, daemon=True)

    def batches():
        worker.start()
        started, offset = time.monotonic(), None
        try:
            while worker.is_alive() or not batches_in.empty():
                try:
                    batch = batches_in.get(timeout=0.1)
                except queue.Empty:
                    yield None, time.monotonic() - started - (offset or 0.0)
                    continue
                offset = time.monotonic() - started - float(batch.t_s[-1]) if offset is None else offset
                yield batch, float(batch.t_s[-1])
            if failure:
                raise failure[0]
        finally:
            if "stop" in control:
                control["stop"]()
            worker.join(timeout=10)
            if failure and not isinstance(failure[0], ImutrackError):
                raise failure[0]

    meta = RecordingMeta(device=args.device, chest_normal_axis="+z")
    if args.profile:
        meta.chest_normal_axis = PROFILES[args.profile].chest_normal_axis
    return meta, batches()


def live_command(args: argparse.Namespace, backends=None) -> int:
    import sys

    from imutrack.live import Guide, GuideConfig, Phase

    if not (args.simulate or args.phyphox or args.device):
        raise ImutrackError("choose a source: --device NAME, --phyphox URL or --simulate")
    if args.reps < 1:
        raise ImutrackError(f"--reps must be at least 1, got {args.reps}")
    out = args.out or _new_recording_path("live")
    if args.device:
        meta, batches = ble_batches(args, out, backends)
    else:
        meta, batches = simulated_batches(args) if args.simulate else phyphox_batches(args)
    meta.assisted = "unassisted" if args.unassisted else "assisted"
    guide = Guide(GuideConfig(reps_per_side=args.reps, hold_s=args.hold, rest_s=args.rest,
                              strict_form=not args.lenient, chest_normal_axis=meta.chest_normal_axis))
    best_before = _best_before(args.db)
    plain = args.plain or not sys.stdout.isatty()
    voice = _Voice() if not args.quiet and args.speed == 1.0 else None
    countdown = _Countdown(voice) if plain else None

    def say(event) -> None:
        console.print(f"[{int(event.t_s // 60):02d}:{event.t_s % 60:04.1f}] {event.text}", highlight=False)

    live_view = None
    if not plain:
        from rich.live import Live

        live_view = Live(live_panel(guide.state, best_before), console=console, refresh_per_second=10)
        live_view.start()
    writer = None if args.device else RecordingWriter(out, meta)  # the BLE recorder writes its own
    now = 0.0
    keys = _Keys()
    if keys.active:
        console.print("keys: space pause/resume, s skip, q quit (the recording is kept)", style="dim")
    try:
        for batch, now in batches:
            if batch is not None:
                if writer is not None:
                    writer.append(batch)
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
            if countdown is not None:
                countdown.update(state)
            if live_view is not None:
                live_view.update(live_panel(state, best_before))
            if state.phase is Phase.DONE:
                break
        else:
            guide.stop(now)
    except KeyboardInterrupt:
        guide.stop(now)
    finally:
        keys.close()
        if writer is not None:
            writer.close()
        batches.close()
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


class _Countdown:
    """Plain mode: "N s to go" every 10 s of a hold (spoken too when there is a voice)."""

    def __init__(self, voice):
        self.voice, self.next = voice, None

    def update(self, state) -> None:
        from imutrack.live import Phase

        if state.phase is not Phase.HOLD:
            self.next = None
            return
        remaining = int(state.hold_remaining_s // 10) * 10
        if self.next is None or remaining < self.next:
            self.next = remaining
            if remaining > 0:
                console.print(f"  {remaining} s to go", highlight=False)
                if self.voice is not None:
                    self.voice.say("tick", f"{remaining} seconds")


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


def live_panel(state, best_before: dict[str, float] | None = None):
    """The live view: prompt, a twist gauge (0–90°) marking today's best (▲) and the best before today (|)."""
    from rich.panel import Panel

    from imutrack.live import Phase

    gauge_width = 45
    scale = gauge_width / 90.0
    gauge = ["·"] * gauge_width
    for k in range(min(gauge_width, int(abs(state.twist_deg) * scale))):
        gauge[k] = "█"
    today = state.best_twist_deg.get(state.side, 0.0)
    before = (best_before or {}).get(state.side)
    if before:
        gauge[min(gauge_width - 1, int(before * scale))] = "|"
    if today:
        gauge[min(gauge_width - 1, int(today * scale))] = "▲"
    marks = f"today {today:.0f}°" + (f", best before {before:.0f}°" if before else "")
    lines = [f"[bold]{state.prompt}[/]", "",
             f"twist {state.twist_deg:+6.1f}°  {''.join(gauge)}  ({state.side}: {marks})"]
    if state.phase is Phase.HOLD:
        lines.append(f"hold: {state.hold_remaining_s:4.0f} s left")
    if state.phase is Phase.REST:
        lines.append(f"rest: {state.rest_remaining_s:4.0f} s")
    if state.cues:
        lines.append("[yellow]" + ", ".join(state.cues) + "[/]")
    if state.paused:
        lines.append("[red]sensor lost: waiting[/]")
    return Panel("\n".join(lines), title=f"imutrack live — rep {state.rep}, {state.phase.value}")


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
        console.print(f"{side}: range of motion {_num(summary.best_rom_deg, '.1f')}° (best hold's mean){compare}")


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
