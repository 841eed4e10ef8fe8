"""A live phone stream through phyphox's remote access (the phone serves its buffers as JSON over HTTP on the LAN).

phyphox's remote interface (phyphox.org wiki, "Remote-interface communication"): ``GET /get?x=T|t&t=T`` returns the
buffer ``x`` only for entries whose time buffer ``t`` is later than ``T`` — so polling with the last time received
gets everything exactly once. ``GET /control?cmd=start`` starts the measurement. The response is
``{"buffer": {name: {"buffer": [...], ...}}, "status": {"measuring": bool, ...}}``.

The buffer names depend on the experiment; the defaults are those of a phyphox experiment that records the
gyroscope (``gyrX``, ``gyrY``, ``gyrZ``, ``gyr_time``) and the accelerometer with g (``accX``, ``accY``, ``accZ``,
``acc_time``) together. Gyro samples are released once the accelerometer has data on both sides of them (they are then
interpolated onto the gyro clock, as in the importers), so nothing is lost or extrapolated between polls.

imutrack only *connects* to the phone; it listens on no port.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imutrack.errors import ImutrackError
from imutrack.io.merge import interpolate_columns
from imutrack.recording import RecordingMeta, local_now_iso
from imutrack.samples import ImuSamples


@dataclass(frozen=True)
class BufferNames:
    gyr: tuple[str, str, str, str] = ("gyrX", "gyrY", "gyrZ", "gyr_time")
    acc: tuple[str, str, str, str] = ("accX", "accY", "accZ", "acc_time")


def _http_get(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (the user's own phone)
        return response.read()


class PhyphoxStream:
    """Polls a phyphox phone and yields merged sample batches.

    Attributes:
        url: the phone's remote-access address, e.g. ``http://192.168.1.20:8080``.
        requests: how many polls were made.
    """

    def __init__(self, url: str, names: BufferNames | None = None, timeout_s: float = 3.0,
                 http_get: Callable[[str, float], bytes] = _http_get):
        parsed = urllib.parse.urlparse(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ImutrackError(f"{url}: not a phyphox remote-access address (like http://192.168.1.20:8080)")
        self.url = f"{parsed.scheme}://{parsed.netloc}"
        self.names = names or BufferNames()
        self.timeout_s = timeout_s
        self._get = http_get
        self._last = {"gyr": None, "acc": None}
        self._gyr = np.zeros((0, 4))
        self._acc = np.zeros((0, 4))
        self._t0: float | None = None
        self.requests = 0

    def _request(self, path: str) -> dict:
        self.requests += 1
        try:
            raw = self._get(self.url + path, self.timeout_s)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ImutrackError(f"{self.url}: phyphox did not answer ({reason}); is remote access on, and the phone "
                                "on the same network?") from None
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ImutrackError(f"{self.url}{path.split('?')[0]}: the answer is not phyphox's JSON")
        return document

    def recording_meta(self, assisted: str = "unknown", notes: str = "") -> RecordingMeta:
        """Metadata for a recording of this phone (phone axes; strapped screen outward: +z out of the chest)."""
        return RecordingMeta(device=f"phone at {self.url}", profile="phyphox-live", chest_normal_axis="+z",
                             sensor_frame="phone: x right, y up, z out of the screen", start_time=local_now_iso(),
                             assisted=assisted, notes=notes)

    def start(self) -> None:
        """Ask phyphox to start measuring."""
        self._request("/control?cmd=start")

    def _query(self, kind: str) -> str:
        names = getattr(self.names, kind)
        last = self._last[kind]
        if last is None:
            return "&".join(f"{n}=full" for n in names)
        threshold = f"{last!r}|{names[3]}"
        return "&".join([f"{n}={urllib.parse.quote(threshold)}" for n in names[:3]] + [f"{names[3]}={last!r}"])

    def poll(self) -> ImuSamples | None:
        """New samples since the last poll (times in s from the first gyro sample), or None."""
        document = self._request("/get?" + self._query("gyr") + "&" + self._query("acc"))
        buffers = document.get("buffer")
        if not isinstance(buffers, dict):
            raise ImutrackError(f"{self.url}/get: no 'buffer' in phyphox's answer")
        for kind in ("gyr", "acc"):
            names = getattr(self.names, kind)
            missing = [n for n in names if n not in buffers]
            if missing:
                raise ImutrackError(
                    f"{self.url}: the experiment has no buffer {', '.join(missing)}; record gyroscope and "
                    "accelerometer (with g) with these buffer names, or give the names"
                )
            columns = [self._numbers(buffers[n], n) for n in names]
            n = min(len(c) for c in columns)
            if n == 0:
                continue
            block = np.column_stack([columns[3][:n], *(c[:n] for c in columns[:3])])
            block = block[np.isfinite(block).all(axis=1)]
            last = self._last[kind]
            if last is not None:
                block = block[block[:, 0] > last]
            if len(block):
                self._last[kind] = float(block[-1, 0])
                setattr(self, f"_{kind}", np.vstack([getattr(self, f"_{kind}"), block]))
        return self._release()

    def _numbers(self, entry, name: str) -> np.ndarray:
        """A buffer's values as numbers (null, as phyphox sends for a missing value, as NaN); anything else is not
        phyphox's answer."""
        values = entry.get("buffer", []) if isinstance(entry, dict) else None
        if isinstance(values, list):
            try:
                return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            except (TypeError, ValueError, OverflowError):  # text, lists, integers beyond any float
                pass
        raise ImutrackError(f"{self.url}/get: buffer {name} in phyphox's answer is not a list of numbers")

    def _release(self) -> ImuSamples | None:
        """Gyro samples bracketed by accelerometer samples, with the accelerometer interpolated onto them."""
        gyr, acc = self._gyr, self._acc
        if len(acc) < 2 or not len(gyr):
            return None
        ready = (gyr[:, 0] >= acc[0, 0]) & (gyr[:, 0] <= acc[-1, 0])
        before = gyr[:, 0] < acc[0, 0]  # older than any accelerometer data: can never be completed
        take = gyr[ready]
        self._gyr = gyr[~ready & ~before]
        keep_from = max(0, int(np.searchsorted(acc[:, 0], take[-1, 0]) - 1)) if len(take) else 0
        if not len(take):
            return None
        acc_on_gyr = interpolate_columns(take[:, 0], acc[:, 0], acc[:, 1:4])
        self._acc = acc[keep_from:]
        if self._t0 is None:
            self._t0 = float(take[0, 0])
        return ImuSamples(take[:, 0] - self._t0, take[:, 1:4], acc_on_gyr)


class PhyphoxSource:
    """A phone running phyphox as a live :class:`~imutrack.sources.Source`: polled every ``poll_s``; between
    samples, batches of None carry the host's clock (shifted onto the phone's) so timers run on."""

    writes_recording = False

    def __init__(self, url: str, poll_s: float = 0.1, stream: PhyphoxStream | None = None):
        self.stream = stream or PhyphoxStream(url)
        self.meta = self.stream.recording_meta()
        self.poll_s = poll_s
        self._samples = 0
        self._last_t_s = 0.0
        self._closed = False

    def batches(self):
        import time

        self.stream.start()
        started, offset = time.monotonic(), None
        while not self._closed:
            batch = self.stream.poll()
            now = time.monotonic() - started
            if batch is not None and len(batch):
                offset = now - float(batch.t_s[-1]) if offset is None else offset
                self._samples += len(batch)
                self._last_t_s = float(batch.t_s[-1])
                if np.isnan(self.meta.sample_rate_hz) and len(batch) > 1:  # the first batch tells the phone's rate
                    self.meta.sample_rate_hz = round(batch.rate_hz, 3)
                yield batch, self._last_t_s
            else:
                yield None, now - (offset or 0.0)
            time.sleep(self.poll_s)

    def status(self) -> str:
        return f"phone: {self._samples:,} samples, {self._last_t_s:.0f} s, {self.stream.requests:,} polls"

    def close(self) -> None:
        self._closed = True
