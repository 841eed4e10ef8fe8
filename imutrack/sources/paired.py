"""A chest source and a second source on the pelvis read together, unless both are BLE sensors (that pair shares one
recorder loop: :class:`imutrack.sources.ble.BleSource`) — a phone in a belt pouch at the sacrum beside any chest
source (:class:`imutrack.sources.phyphox_live.PhyphoxSource`), or a BLE sensor on the pelvis beside a phone.

The pelvis source runs on a thread of its own; its batches are handed over by :meth:`PairedSource.pelvis_batches`
and its recording is the session's ``NAME.pelvis.csv``. Each source counts time from its own first sample, so both
are put on the host's clock by when their batches arrive: a batch cannot arrive before its last sample was taken,
and the least delayed ones arrive just after it, so over the first ``align_s`` of each the smallest (arrival − sample
time) is its clock's offset (the lower envelope, as for clockless BLE sensors: :mod:`imutrack.sources.profiles.
timing`). The pelvis's batches wait until both offsets are known; its times are then the chest's. A BLE pelvis
sensor writes its own recording: it waits for the chest's offset and counts from it
(:attr:`imutrack.sources.ble.BleRecorder.time_origin_s`).
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import threading
import time
from pathlib import Path

from imutrack.recording import RecordingWriter
from imutrack.samples import ImuSamples


class _Offset:
    """The least (host arrival − sample time) over a source's first ``span_s`` of batches, s."""

    def __init__(self, span_s: float):
        self.span_s = span_s
        self.value = float("inf")
        self._first_t: float | None = None
        self._last_t = float("-inf")

    def note(self, host_s: float, batch: ImuSamples) -> None:
        t = float(batch.t_s[-1])
        self._first_t = t if self._first_t is None else self._first_t
        self._last_t = max(self._last_t, t)
        if t - self._first_t <= self.span_s:
            self.value = min(self.value, host_s - t)

    @property
    def known(self) -> bool:
        return self._first_t is not None and self._last_t - self._first_t > self.span_s


class PairedSource:
    """``chest`` and ``pelvis`` read at once as one :class:`~imutrack.sources.Source` (the chest's), the pelvis's
    batches from :meth:`pelvis_batches` on the chest's clock, its recording written to ``pelvis_out``."""

    def __init__(self, chest, pelvis, pelvis_out: Path, align_s: float = 2.0):
        self.chest, self.pelvis, self.pelvis_out = chest, pelvis, Path(pelvis_out)
        self.meta = chest.meta
        self.writes_recording = chest.writes_recording
        session = {"session_id": secrets.token_hex(6)}
        chest.meta.extra |= session | {"sensor_role": "chest"}
        recorder = getattr(chest, "recorder", None)  # a BLE chest sensor writes its own header
        if recorder is not None:
            recorder.extra |= session | {"sensor_role": "chest"}
        pelvis.meta.extra |= session | {"sensor_role": "pelvis"}
        # a BLE sensor on the pelvis writes its own recording: it waits for the chest's clock and counts from it
        self._pelvis_recorder = getattr(pelvis, "recorder", None)
        if self._pelvis_recorder is not None:
            self._pelvis_recorder.extra |= session | {"sensor_role": "pelvis"}
            self._pelvis_recorder.await_origin = True
        self._offsets = {"chest": _Offset(align_s), "pelvis": _Offset(align_s)}
        self._arrived: queue.Queue = queue.Queue()
        self._waiting: list[ImuSamples] = []
        self._shift_s: float | None = None
        self._writer: RecordingWriter | None = None
        self._thread: threading.Thread | None = None
        self._failure: list[BaseException] = []
        self._closing = False

    def _read_pelvis(self) -> None:
        try:
            for batch, _ in self.pelvis.batches():
                if self._closing:
                    return
                if batch is not None and len(batch):
                    self._arrived.put((time.monotonic(), batch))
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer's thread)
            self._failure.append(exc)

    def batches(self):
        self._thread = threading.Thread(target=self._read_pelvis, name="imutrack-pelvis", daemon=True)
        self._thread.start()
        for batch, now in self.chest.batches():
            if batch is not None and len(batch):
                self._offsets["chest"].note(time.monotonic(), batch)
                recorder = self._pelvis_recorder
                if recorder is not None and recorder.time_origin_s is None and self._offsets["chest"].known:
                    recorder.time_origin_s = self._offsets["chest"].value  # the host time of the chest's t_s = 0
            if self._failure:
                raise self._failure.pop()
            yield batch, now

    def pelvis_batches(self) -> list[ImuSamples]:
        """The pelvis's batches since the last call, on the chest's clock (none until both clocks are placed)."""
        while True:
            try:
                host_s, batch = self._arrived.get_nowait()
            except queue.Empty:
                break
            self._offsets["pelvis"].note(host_s, batch)
            self._waiting.append(batch)
        if self._shift_s is None:
            if not all(o.known for o in self._offsets.values()):
                return []
            self._shift_s = self._offsets["pelvis"].value - self._offsets["chest"].value
        return self._release()

    def _release(self) -> list[ImuSamples]:
        shifted = [ImuSamples(b.t_s + self._shift_s, b.gyr_rad_s, b.acc_m_s2, b.mag_uT) for b in self._waiting]
        self._waiting = []
        if not self.pelvis.writes_recording:  # (a BLE pelvis sensor writes its own)
            for batch in shifted:
                if self._writer is None:
                    self._writer = RecordingWriter(self.pelvis_out, self.pelvis.meta)
                self._writer.append(batch)
        return shifted

    def status(self) -> str:
        return f"{self.chest.status()}; pelvis {self.pelvis.status()}"

    def close(self) -> None:
        """Both stop; the pelvis's samples so far are written (placed with what is known of the clocks, if the
        session ended before that was all measured)."""
        self._closing = True
        try:
            self.pelvis.close()
            if self._thread is not None:
                self._thread.join(timeout=10)
                self._thread = None
            self.pelvis_batches()
            if self._waiting and self._shift_s is None and all(o.value < float("inf") for o in self._offsets.values()):
                self._shift_s = self._offsets["pelvis"].value - self._offsets["chest"].value
                self._release()
        finally:
            with contextlib.suppress(Exception):
                self.chest.close()
            if self._writer is not None:
                self._writer.close()
