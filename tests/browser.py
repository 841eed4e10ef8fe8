"""Headless Chromium for the tests, driven over the DevTools protocol (a WebSocket; aiohttp is a dependency already).

Tests that need it skip with a reason when Chromium is not installed, unless ``IMUTRACK_REQUIRE_BROWSER`` is set
(``.ci/run`` installs Chromium and sets it, so CI exercises them).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import tempfile

import pytest


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


needs_chromium = pytest.mark.skipif(chromium() is None and not os.environ.get("IMUTRACK_REQUIRE_BROWSER"),
                                    reason="Chromium is not installed (.ci/run installs it)")

HEADLESS_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                  "--disable-dev-shm-usage", "--mute-audio", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic"]  # nothing from the internet


class Browser:
    """One headless Chromium process; ``async with Browser() as browser: page = await browser.open(url)``."""

    def __init__(self, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._events: dict[tuple[str | None, str], asyncio.Future] = {}  # (session, event name) → its next one

    async def __aenter__(self) -> Browser:
        import aiohttp

        assert chromium() is not None, "Chromium is required here (IMUTRACK_REQUIRE_BROWSER is set)"
        self._profile = tempfile.TemporaryDirectory(prefix="imutrack-chromium-")
        self._process = await asyncio.create_subprocess_exec(
            chromium(), *HEADLESS_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={self._profile.name}",
            "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        address = None
        while address is None:
            line = await asyncio.wait_for(self._process.stderr.readline(), self.timeout_s)
            if not line:
                raise RuntimeError("Chromium ended before it offered its DevTools address")
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            address = found.group(1).decode() if found else None
        self._drain = asyncio.ensure_future(self._discard(self._process.stderr))
        self._http = aiohttp.ClientSession()
        self._socket = await self._http.ws_connect(address, max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        self._reader.cancel()
        await self._socket.close()
        await self._http.close()
        if self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        self._drain.cancel()
        self._profile.cleanup()

    @staticmethod
    async def _discard(stream) -> None:
        while await stream.readline():
            pass

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message.data)
            if "method" in data:
                waiter = self._events.pop((data.get("sessionId"), data["method"]), None)
            else:
                waiter = self._waiting.pop(data.get("id"), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(data)

    async def call(self, method: str, params: dict | None = None, session: str | None = None,
                   timeout_s: float | None = None) -> dict:
        """One DevTools command; its result (an error from the browser raises)."""
        ident = next(self._ids)
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self._socket.send_str(json.dumps(message))
        answer = await asyncio.wait_for(waiter, timeout_s or self.timeout_s)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def open(self, url: str, before_load: str = "", width: int = 1280, height: int = 800) -> Page:
        """A new tab showing ``url``; ``before_load`` runs in the page before its own scripts."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.call("Page.enable")
        await page.call("Emulation.setDeviceMetricsOverride",
                        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        if before_load:
            await page.call("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
        loaded = self.next_event("Page.loadEventFired", page.session)
        await page.call("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, self.timeout_s)
        return page

    def next_event(self, method: str, session: str | None = None) -> asyncio.Future:
        """A future for the next event of that name (ask before causing it)."""
        return self._events.setdefault((session, method), asyncio.get_running_loop().create_future())


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    async def call(self, method: str, params: dict | None = None, timeout_s: float | None = None) -> dict:
        return await self.browser.call(method, params, self.session, timeout_s)

    async def evaluate(self, expression: str, timeout_s: float | None = None):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True}, timeout_s)
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    async def screenshot(self, path) -> None:
        import base64

        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
