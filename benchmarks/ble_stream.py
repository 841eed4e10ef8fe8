"""BLE stream benchmark: notification-to-sample latency and the receiving side's CPU, through the virtual sensor.

The virtual sensor (bumble, in-memory link) streams a simulated session in real time over the DIY profile with
MTU-sized packets; imutrack's recorder (bleak with the bumble backend) receives, decodes and writes it. Latency is
from the sensor's notify call to the moment the sample is handed to the recording writer. CPU is the time spent in
imutrack's receiving path (notification callback, decoding, timing, writing); the virtual sensor and the software
controller run in the same process and are not counted.

    python benchmarks/ble_stream.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imutrack.recording import RecordingWriter  # noqa: E402
from imutrack.sources import ble  # noqa: E402
from imutrack.sources.profiles import base  # noqa: E402
from imutrack.sources.simulator import SimulatorConfig, simulate  # noqa: E402
from tests.virtual_ble import virtual_world  # noqa: E402


class Timed:
    """Accumulates the wall time spent inside wrapped functions (single-threaded: that is CPU on this thread)."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


async def measure(rate_hz: float, seconds: float) -> dict:
    cfg = SimulatorConfig(sample_rate_hz=rate_hz, reps_per_side=1, hold_s=10.0, neutral_s=5.0)
    samples = simulate(cfg).samples
    n = min(len(samples), int(seconds * rate_hz))
    samples = samples.slice(0, n)
    sent_at: dict[int, float] = {}
    received: list[tuple[np.ndarray, float]] = []
    timer = Timed()
    original_append, original_feed, original_take = RecordingWriter.append, base.PacketStream.feed, \
        base.PacketStream.take

    def append(self, batch, seq=None, host_t_s=None):
        received.append((np.asarray(seq).copy(), time.monotonic()))
        return original_append(self, batch, seq=seq, host_t_s=host_t_s)

    RecordingWriter.append = timer.wrap(append)
    base.PacketStream.feed = timer.wrap(original_feed)
    base.PacketStream.take = timer.wrap(original_take)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with virtual_world(samples, "diy", speed=1.0, samples_per_packet=20) as (sensor, central):
                original_notify = sensor.device.notify_subscribers

                async def notify(attribute, value=None, force=False):
                    first = int.from_bytes(value[4:6], "little")
                    sent_at[first] = time.monotonic()
                    return await original_notify(attribute, value, force)

                sensor.device.notify_subscribers = notify
                recorder = ble.BleRecorder(target=sensor.name, out=Path(tmp) / "r.csv",
                                           client_backend=central.client_backend,
                                           scanner_backend=central.scanner_backend)
                stop = asyncio.Event()

                async def stopper():
                    await sensor.finished.wait()
                    await asyncio.sleep(0.3)
                    stop.set()

                task = asyncio.create_task(stopper())
                started = time.monotonic()
                await recorder.run(stop)
                wall = time.monotonic() - started
                await task
    finally:
        RecordingWriter.append, base.PacketStream.feed, base.PacketStream.take = original_append, original_feed, \
            original_take
    latencies = []
    packet_starts = np.array(sorted(sent_at))
    for seq, at in received:
        for s in seq:
            first = packet_starts[np.searchsorted(packet_starts, s % 65536, side="right") - 1]
            latencies.append(at - sent_at[int(first)])
    latencies_ms = 1e3 * np.array(latencies)
    return {
        "rate_hz": rate_hz,
        "samples": int(sum(len(s) for s, _ in received)),
        "p50_ms": float(np.percentile(latencies_ms, 50)),
        "p99_ms": float(np.percentile(latencies_ms, 99)),
        "cpu_pct": 100.0 * timer.seconds / wall,
    }


def lines(results: list[dict]) -> list[str]:
    out = ["| rate | samples | latency p50 | latency p99 | receiving CPU, % of one core |", "|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['rate_hz']:g} Hz | {r['samples']:,} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
                   f"{r['cpu_pct']:.1f} % |")
    return out


def run(seconds: float) -> list[str]:
    return lines([asyncio.run(measure(rate, seconds)) for rate in (100.0, 400.0, 1000.0)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    print("\n".join(run(parser.parse_args().seconds)))
