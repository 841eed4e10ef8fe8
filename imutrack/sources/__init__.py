"""Live sources of IMU samples, and the one interface they share.

A :class:`Source` is what the recorder (``imutrack record``) and the guided session (``imutrack live``) read from,
alike: the simulated person (:class:`imutrack.sources.simulator.SimulatedSource`), a phone running phyphox
(:class:`imutrack.sources.phyphox_live.PhyphoxSource`) and a BLE sensor (:class:`imutrack.sources.ble.BleSource`).
The simulator module also makes whole sessions with their truth; ``ble`` and ``profiles`` hold the BLE client and
one decoder per device. Nothing here imports the app layer (:mod:`imutrack.cli`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imutrack.recording import RecordingMeta
    from imutrack.samples import ImuSamples


@runtime_checkable
class Source(Protocol):
    """A stream of samples from one sensor worn on the chest.

    Attributes:
        meta: the recording header this source knows before its first sample (device, profile, chest axis, sample
            rate); a BLE source completes it (the sensor's own name and address) when the sensor is found.
        writes_recording: True when the source writes the recording itself (a BLE sensor: sequence numbers, host
            times and link gaps go with the samples); otherwise the consumer writes the batches it is given.

    A source that also reads a second sensor on the pelvis has ``pelvis_batches()``: that sensor's batches received
    since the last call, on the same clock (the consumer reads it before each chest batch; the source writes its
    recording). A source that can hear the guide — the simulated person who follows it — has ``hear(asks)``, given
    what the guide asked after each batch (:meth:`imutrack.live.Guide.asks`).
    """

    meta: RecordingMeta
    writes_recording: bool

    def batches(self) -> Iterator[tuple[ImuSamples | None, float]]:
        """(batch, session time in s) as samples arrive; a batch of None says that time passed with no samples (so
        timers run on). Ends when the source has nothing more (the simulated session is over, the sensor stayed
        away); raises :class:`~imutrack.errors.ImutrackError` (one line) when it cannot go on."""
        ...

    def status(self) -> str:
        """One line on how the stream goes (samples so far, rate, lost samples, reconnections, battery)."""
        ...

    def close(self) -> None:
        """Stop the stream and release the sensor; everything received is in the recording once this returns.
        Safe to call more than once."""
        ...
