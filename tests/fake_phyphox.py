"""A stand-in for a phone running phyphox with remote access, on loopback: serves /get and /control like phyphox,
releasing a little more of a prepared session at every request (as a phone recording in real time would)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from imutrack.samples import ImuSamples


class FakePhyphox:
    NAMES = {"gyrX", "gyrY", "gyrZ", "gyr_time", "accX", "accY", "accZ", "acc_time"}  # unknown names: left out

    def __init__(self, samples: ImuSamples, acc_stride: int = 2, acc_offset_s: float = 0.003,
                 seconds_per_request: float = 0.37, realtime: bool = False, silent_s: float = 0.0):
        """``realtime``: the samples come as time passes (from ``epoch``, a ``time.monotonic()`` that a test may set,
        else the start command), as on a phone, not by requests; ``silent_s``: none of the first seconds' samples
        are ever given (the phone started measuring late)."""
        self.gyr = np.column_stack([samples.t_s, samples.gyr_rad_s])
        acc_t = samples.t_s[::acc_stride] + acc_offset_s
        self.acc = np.column_stack([acc_t] + [np.interp(acc_t, samples.t_s, samples.acc_m_s2[:, k]) for k in range(3)])
        self.step = seconds_per_request
        self.now = 0.0
        self.started = False
        self.realtime, self.started_at, self.epoch, self.silent_s = realtime, 0.0, None, silent_s
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                if url.path == "/control":
                    fake.started = query.get("cmd") == ["start"]
                    fake.started_at = time.monotonic()
                    body = {"result": True}
                elif url.path == "/get":
                    if fake.realtime:
                        origin = fake.epoch if fake.epoch is not None else fake.started_at
                        fake.now = time.monotonic() - origin if fake.started else 0.0
                    else:
                        fake.now += fake.step if fake.started else 0.0
                    body = {"buffer": {name: {"size": 0, "updateMode": "partial", "buffer": fake.values(name, q[0])}
                                       for name, q in query.items() if name in fake.NAMES},
                            "status": {"session": "fake", "measuring": fake.started}}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def values(self, name: str, request: str) -> list[float]:
        table = self.gyr if name.startswith("gyr") else self.acc
        column = {"X": 1, "Y": 2, "Z": 3}.get(name[-1], 0) if not name.endswith("_time") else 0
        available = table[(table[:, 0] <= self.now) & (table[:, 0] > self.silent_s)]
        threshold = request.split("|")[0]
        if threshold not in ("", "full"):
            available = available[available[:, 0] > float(threshold)]
        return available[:, column].tolist()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
