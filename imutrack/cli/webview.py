"""The guided session as a local web page, readable from across the room (``imutrack live --web``).

An aiohttp server on its own thread and event loop serves one page and a WebSocket that carries the guide's state
(:meth:`imutrack.live.GuideState.to_dict`) and its events; the page speaks and sounds them with the browser's own Web
Speech and Web Audio APIs, so cues are heard where no speech engine is installed. The page's buttons and keys
(pause, skip, stop) come back over the WebSocket as commands for the session.

Health data stays on this computer: the server binds to the loopback interface unless the person asks otherwise, on
a free port, and answers only under an unguessable token in the path (``/s/TOKEN/``); requests naming another host
(DNS rebinding) or WebSockets from another origin are refused. Nothing is fetched from elsewhere: the page, its
script and its style are files of this package, and its Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from pathlib import Path

PAGE_DIR = Path(__file__).with_name("page")
FILES = {"": ("guide.html", "text/html"), "guide.js": ("guide.js", "text/javascript"),
         "guide.css": ("guide.css", "text/css")}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class WebView:
    """A local web page showing a guided session.

    Attributes:
        host: the interface to listen on (loopback unless the person asked for another).
        url: the page's address once :meth:`start` returned (with the token; printed for another window or screen).
        min_interval_s: states are sent at most this often (events and the summary at once).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, min_interval_s: float = 0.1):
        self.host, self.port = host, port
        self.token = secrets.token_urlsafe(24)
        self.url = ""
        self.min_interval_s = min_interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None
        self._sockets: set = set()
        self._commands: list[str] = []
        self._lock = threading.Lock()
        self._latest: dict | None = None  # the last state message, for a page opened late
        self._summary: dict | None = None
        self._config: dict = {}
        self._last_sent = 0.0
        self._pending_state: dict | None = None
        self._flush_scheduled = False
        self._opened = threading.Event()  # a page has connected
        self._question: dict | None = None  # a question the page shows until it is answered
        self._answered = threading.Event()
        self._answer: int | None = None

    # --- the session's side (its own thread) ------------------------------------------------------------------
    def start(self, config: dict | None = None) -> str:
        """Serve the page; returns its URL. ``config``: what the page shows besides the state (reps per side, hold
        length, best before per side, unassisted)."""
        from imutrack.errors import ImutrackError

        self._config = dict(config or {})
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 (reported to the caller)
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="imutrack-web", daemon=True)
        self._thread.start()
        ready.wait(timeout=15)
        if failure or not self.url:
            reason = failure[0] if failure else "it did not start"
            raise ImutrackError(f"the live web view could not listen on {self.host}: {reason}")
        return self.url

    def publish(self, state, events=()) -> None:
        """The guide's state (a :class:`~imutrack.live.GuideState`) and new events, for every open page."""
        if self._loop is None:
            return
        message = {"type": "state", "state": state.to_dict(), "config": self._config}
        for event in events:
            self._send({"type": "event", "t_s": round(event.t_s, 2), "kind": event.kind, "text": event.text})
        now = time.monotonic()
        with self._lock:
            self._latest = message
            send_now = bool(events) or now - self._last_sent >= self.min_interval_s or state.phase.value == "done"
            self._pending_state = None if send_now else message
            if send_now:
                self._last_sent = now
            schedule = not send_now and not self._flush_scheduled
            self._flush_scheduled = self._flush_scheduled or schedule
        if send_now:
            self._send(message)
        elif schedule:
            self._loop.call_soon_threadsafe(self._loop.call_later, self.min_interval_s, self._flush)

    def show_summary(self, summary: dict) -> None:
        """The session's summary (rows per rep, per side today against before); kept for pages opened later."""
        self._summary = {"type": "summary", **summary}
        self._send(self._summary)

    def wait_for_page(self, timeout_s: float) -> bool:
        """Whether a page has connected (waiting up to ``timeout_s`` for one)."""
        return self._opened.wait(timeout_s)

    def ask_rating(self, when: str, question: str) -> None:
        """Show a 0–10 question on the page (``when``: "before" or "after"); :meth:`rating` waits for the answer."""
        self._answered.clear()
        self._answer = None
        self._question = {"type": "ask", "when": when, "text": question}
        self._send(self._question)

    def withdraw_question(self) -> None:
        """The question was answered elsewhere (or skipped): the page hides it."""
        self._question = None
        self._send({"type": "asked"})

    def rating(self, timeout_s: float) -> tuple[bool, int | None]:
        """(answered, the rating or None when skipped), waiting up to ``timeout_s`` for it."""
        answered = self._answered.wait(timeout_s)
        return answered, self._answer

    def commands(self) -> list[str]:
        """Commands from the page since the last call: "pause", "skip", "stop"."""
        with self._lock:
            taken, self._commands = self._commands, []
        return taken

    def close(self, linger_s: float = 0.5) -> None:
        """Stop serving (pages keep what they show and say that the session has ended)."""
        if self._loop is None:
            return
        loop, self._loop = self._loop, None
        if linger_s > 0:  # let the last messages leave
            done = threading.Event()
            loop.call_soon_threadsafe(done.set)
            done.wait(timeout=linger_s)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the server's side (its event loop) -------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        loop = self._loop
        if loop is not None:
            text = json.dumps(message, allow_nan=False)
            loop.call_soon_threadsafe(self._broadcast, text)

    def _flush(self) -> None:
        """Send the state held back by the throttle, unless a newer one has been sent since (never a stale one)."""
        with self._lock:
            self._flush_scheduled = False
            pending, self._pending_state = self._pending_state, None
            if pending is not None:
                self._last_sent = time.monotonic()
        if pending is not None:
            self._broadcast(json.dumps(pending, allow_nan=False))

    def _broadcast(self, text: str) -> None:
        for socket in list(self._sockets):
            if not socket.closed:
                asyncio.ensure_future(socket.send_str(text))

    def _allowed_host(self, request) -> bool:
        if self.host not in LOOPBACK:
            return True  # the person asked to be reached from elsewhere; the token still guards
        host = request.host.rsplit(":", 1)[0].strip("[]") if request.host else ""
        return host in LOOPBACK

    async def _serve(self) -> None:
        from aiohttp import web

        async def page(request):
            if request.match_info["token"] != self.token or not self._allowed_host(request):
                raise web.HTTPNotFound()
            name, kind = FILES.get(request.match_info.get("name", ""), (None, None))
            if name is None:
                raise web.HTTPNotFound()
            return web.Response(body=(PAGE_DIR / name).read_bytes(), content_type=kind, charset="utf-8",
                                headers=HEADERS)

        async def socket(request):
            if request.match_info["token"] != self.token or not self._allowed_host(request):
                raise web.HTTPNotFound()
            origin = request.headers.get("Origin", "")
            if origin and origin.split("://", 1)[-1] != request.host:
                raise web.HTTPForbidden()
            ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=4096)
            await ws.prepare(request)
            self._sockets.add(ws)
            self._opened.set()
            try:
                for message in (self._latest, self._summary, self._question):
                    if message is not None:
                        await ws.send_str(json.dumps(message, allow_nan=False))
                async for incoming in ws:
                    command = self._take(incoming.data if isinstance(incoming.data, str) else "")
                    if command:
                        await ws.send_str(json.dumps({"type": "ack", "cmd": command}))
            finally:
                self._sockets.discard(ws)
            return ws

        app = web.Application(client_max_size=4096)
        app.router.add_get("/s/{token}/ws", socket)
        app.router.add_get("/s/{token}/{name}", page)
        app.router.add_get("/s/{token}/", page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        shown = "127.0.0.1" if self.host in ("127.0.0.1", "localhost") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{shown}:{port}/s/{self.token}/"

    def _take(self, text: str) -> str | None:
        """A command from the page, queued for the session, or the answer to the question shown (anything else is
        ignored); returns the command."""
        try:
            message = json.loads(text)
            command = message.get("cmd")
        except (ValueError, AttributeError):
            return None
        if command == "rate" and self._question is not None:
            value = message.get("value")
            if value is None or (type(value) is int and 0 <= value <= 10):
                self._answer, self._question = value, None
                self._answered.set()
                self._send({"type": "asked"})
                return command
            return None
        if command not in ("pause", "skip", "stop"):
            return None
        with self._lock:
            self._commands.append(command)
        return command

    async def _shutdown(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()


def browser_available() -> bool:
    """Whether a graphical web browser can be opened here (a text browser in a terminal cannot show the page)."""
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return getattr(browser, "name", "") not in ("lynx", "links", "elinks", "w3m", "www-browser")
