"""The live source a command's options name (``--simulate``, ``--phyphox URL``, ``--device NAME``), and the
recording it is written to: ``imutrack record`` and ``imutrack live`` read every source the same way."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from imutrack.errors import ImutrackError
from imutrack.recording import RecordingWriter, local_now_iso
from imutrack.samples import ImuSamples
from imutrack.sources import Source


def open_source(args: argparse.Namespace, out: Path, need_twist: bool, backends=None) -> Source:
    """The source the options name. ``need_twist``: refuse a sensor without a gyroscope (the guided session).
    ``backends``: bleak backends for a BLE source (see :class:`~imutrack.sources.ble.BleSource`; tests).
    ``--pelvis``: a second sensor on the pelvis — a BLE sensor beside a BLE chest sensor, or a phone running phyphox
    (its address) beside any chest source (:class:`~imutrack.sources.paired.PairedSource`)."""
    pelvis = getattr(args, "pelvis", None)
    phone = bool(pelvis) and pelvis.startswith(("http://", "https://"))
    ble_beside_other = bool(pelvis) and not phone and pelvis != "simulated" and not getattr(args, "device", None)
    if phone or ble_beside_other:
        from imutrack.io import pelvis_path
        from imutrack.sources.paired import PairedSource

        chest = _open_one(argparse.Namespace(**(vars(args) | {"pelvis": None})), out, need_twist, backends)
        if phone:
            from imutrack.sources.phyphox_live import PhyphoxSource

            second = PhyphoxSource(pelvis, getattr(args, "poll", 0.1))
            second.meta.chest_normal_axis = "-z"  # screen outward on the sacrum: out of the screen points backward
        else:
            from imutrack.sources.ble import BleRecorder, BleSource
            from imutrack.sources.profiles import PROFILES

            profile = PROFILES.get(args.pelvis_profile) if getattr(args, "pelvis_profile", None) else None
            second = BleSource(BleRecorder(target=pelvis, out=pelvis_path(out), profile=profile,
                                           duration_s=getattr(args, "duration", None), require_gyro=True), backends)
        return PairedSource(chest, second, pelvis_path(out))
    return _open_one(args, out, need_twist, backends)


def _open_one(args: argparse.Namespace, out: Path, need_twist: bool, backends=None) -> Source:
    assisted = getattr(args, "assisted", None) or ("unassisted" if getattr(args, "unassisted", False) else "assisted"
                                                   if need_twist else "unknown")
    notes = getattr(args, "notes", "")
    simulated_pelvis = getattr(args, "pelvis", None) == "simulated"
    if simulated_pelvis and not getattr(args, "simulate", False):
        raise ImutrackError("--pelvis simulated goes with --simulate (the simulated person wears both sensors)")
    if getattr(args, "simulate", False):
        import time

        from imutrack.sources.simulator import SimulatedSource, SimulatorConfig, simulate

        seed = getattr(args, "seed", None)
        seed = int(time.time()) % 1000 if seed is None else seed
        # guided, the simulated person does what the guide asks, when it asks (and may be asked for a rep more)
        guided = {"reps_per_side": args.reps, "hold_s": max(args.hold, 10.0), "rest_s": args.rest, "neutral_s": 1.0,
                  "follow_prompts": (), "duration_s": 2 * args.reps * (args.hold + args.rest + 20.0) + 300.0} \
            if need_twist else {}
        pelvis = {"pelvis_sensor": True, "pelvis_share": 0.17} if simulated_pelvis else {}
        cfg = SimulatorConfig(sample_rate_hz=50.0, start_time=local_now_iso(), seed=seed, **guided, **pelvis)
        pelvis_out = None
        if simulated_pelvis:
            from imutrack.io import pelvis_path

            pelvis_out = pelvis_path(out)
        source = SimulatedSource(simulate(cfg), speed=args.speed, pelvis_out=pelvis_out)
    elif getattr(args, "phyphox", None):
        from imutrack.sources.phyphox_live import PhyphoxSource

        source = PhyphoxSource(args.phyphox, args.poll)
    elif getattr(args, "device", None):
        from imutrack.sources.ble import BleRecorder, BleSource, require_gyroscope
        from imutrack.sources.profiles import PROFILES

        profile = PROFILES.get(args.profile) if args.profile else None
        if need_twist and profile is not None:
            require_gyroscope(args.device, profile)
        duration_s = getattr(args, "duration", None)
        recorder = BleRecorder(target=args.device, out=out, profile=profile, duration_s=duration_s,
                               assisted=assisted, notes=notes, require_gyro=need_twist)
        pelvis = None
        if getattr(args, "pelvis", None):
            import secrets

            from imutrack.io import pelvis_path

            session = {"session_id": secrets.token_hex(6)}
            pelvis_profile = PROFILES.get(args.pelvis_profile) if getattr(args, "pelvis_profile", None) else None
            pelvis = BleRecorder(target=args.pelvis, out=pelvis_path(out), profile=pelvis_profile,
                                 duration_s=duration_s, assisted=assisted, notes=notes, require_gyro=True,
                                 extra=session | {"sensor_role": "pelvis"})
            recorder.extra = session | {"sensor_role": "chest"}
        return BleSource(recorder, backends, pelvis)
    else:
        raise ImutrackError("choose a source: --device NAME, --phyphox URL or --simulate")
    source.meta.assisted, source.meta.notes = assisted, notes or source.meta.notes
    return source


@contextlib.contextmanager
def recording_of(source: Source, out: Path) -> Iterator[Callable[[ImuSamples], None]]:
    """A function that writes each batch to ``out`` (created at the first batch; a source that writes its own
    recording is left to it). On leaving, the source is closed and the recording with it: everything received is
    on disk, whatever ended the stream (its end, Ctrl-C, an error)."""
    writer: RecordingWriter | None = None

    def write(batch: ImuSamples) -> None:
        nonlocal writer
        if source.writes_recording:
            return
        if writer is None:
            writer = RecordingWriter(out, source.meta)
        writer.append(batch)

    try:
        yield write
    finally:
        try:
            source.close()
        finally:
            if writer is not None:
                writer.close()
