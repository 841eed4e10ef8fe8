"""Recording commands: ``imutrack scan`` (nearby sensors), ``imutrack record`` (any live source into a recording)
and ``imutrack sim-sensor`` (a simulated sensor served over a real or virtual Bluetooth controller)."""

from __future__ import annotations

import argparse

from rich import box
from rich.table import Table

from imutrack.cli.console import console, new_recording_path
from imutrack.cli.sources import open_source, recording_of
from imutrack.errors import ImutrackError
from imutrack.recording import local_now_iso


def scan_command(args: argparse.Namespace) -> int:
    import asyncio

    from imutrack.sources.ble import scan

    with console.status(f"scanning for {args.timeout:g} s…"):
        devices = asyncio.run(scan(args.timeout))
    table = Table(title="nearby Bluetooth LE devices", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("name", "address", "RSSI, dBm", "sensor"):
        table.add_column(column)
    for d in devices:
        table.add_row(d.name or "?", d.address, "-" if d.rssi is None else str(d.rssi),
                      f"{d.profile.name}: {d.profile.title}" if d.profile else "")
    console.print(table)
    if not any(d.profile for d in devices):
        console.print("no known sensor found: is it on and close by? ('imutrack record --profile' forces one)")
    return 0


def record_command(args: argparse.Namespace, backends=None) -> int:
    """Record a live source until Ctrl-C, ``--duration`` or its end; what was received is kept whatever stops it.
    ``backends``: bleak backends for a BLE sensor (the tests' virtual sensors)."""
    kind = "ble" if args.device else "phone" if args.phyphox else "simulated"
    out = args.out or new_recording_path(kind)
    source = open_source(args, out, need_twist=False, backends=backends)
    received, last_t_s = 0, 0.0
    pelvis_batches = getattr(source, "pelvis_batches", list)  # a phone on the pelvis: its recording is written as
    with console.status("looking for the sensor…") as line, recording_of(source, out) as write:  # they are taken
        try:
            for batch, _ in source.batches():
                pelvis_batches()
                if batch is not None:
                    write(batch)
                    received, last_t_s = received + len(batch), float(batch.t_s[-1])
                line.update(source.status())
                if args.duration is not None and last_t_s >= args.duration:
                    break
        except KeyboardInterrupt:
            pass
    ending = source.status()
    if not out.exists():
        console.print(f"nothing was recorded ({ending})", markup=False, highlight=False)
        return 1
    console.print(f"recorded {received:,} samples ({last_t_s / 60:.1f} min) to {out}", markup=False, highlight=False)
    console.print(ending, style="dim", markup=False, highlight=False)
    return 0


TRANSPORT_FORMS = "usb:N, vhci, serial:/dev/PORT, tcp-client:HOST:PORT, tcp-server:127.0.0.1:PORT, android-netsim"


def _transport_error(spec: str, exc: Exception) -> str:
    """One line for a Bluetooth transport that could not be opened, with what would work."""
    reason = str(exc).strip() or type(exc).__name__
    hints = {"usb": "is a USB Bluetooth dongle plugged in, and may this user open it (udev rule or root)?",
             "vhci": "Linux's virtual controller needs the hci_vhci kernel module and root",
             "serial": "is the controller on that port?",
             "tcp-client": "is a Bluetooth controller (or an emulator) listening there?"}
    hint = hints.get(spec.split(":")[0], f"transports: {TRANSPORT_FORMS}")
    return f"sim-sensor {spec}: cannot open the transport ({reason}); {hint}"


def sim_sensor_command(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    try:
        from bumble.device import Device
        from bumble.transport import open_transport

        from imutrack.sources.simulator import SimulatorConfig, simulate
        from imutrack.sources.virtual_sensor import VirtualSensor
    except ImportError:
        raise ImutrackError("the virtual sensor needs bumble: pip install 'imutrack[sim]'") from None
    spec = args.transport
    if spec.split(":")[0] in ("tcp-server", "ws-server") and not args.listen_anywhere:
        host = spec.split(":")[1] if spec.count(":") >= 2 else ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ImutrackError(f"{spec} would listen beyond this computer; use 127.0.0.1 or pass --listen-anywhere")
    rate_hz = args.rate or (52.0 if args.profile == "polar-sense" else 100.0)
    session = simulate(SimulatorConfig(sample_rate_hz=rate_hz, seed=args.seed, start_time=local_now_iso()))

    async def serve() -> None:
        try:
            transport = await open_transport(spec)
        except Exception as exc:  # noqa: BLE001 (bumble and its backends raise many kinds: one line says which)
            raise ImutrackError(_transport_error(spec, exc)) from None
        async with transport as (source, sink):
            device = Device.with_hci("imutrack", "F0:F1:F2:F3:F4:F5", source, sink)
            sensor = VirtualSensor(device, session.samples, args.profile, speed=1.0)
            if spec.split(":")[0].endswith("-server"):
                console.print(f"waiting for a Bluetooth controller to connect to {spec.split(':', 1)[1]} …",
                              markup=False, soft_wrap=True)
            try:
                await sensor.start()
            except Exception as exc:  # noqa: BLE001
                raise ImutrackError(f"{spec}: the Bluetooth controller did not start: "
                                    f"{exc or type(exc).__name__}") from None
            console.print(f"serving a simulated {args.profile} sensor as '{sensor.name}' on {spec}; Ctrl-C stops",
                          markup=False, soft_wrap=True)
            stop = asyncio.Event()
            try:  # SIGTERM ends the loop's wait, not whatever code the signal happens to interrupt
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            except (NotImplementedError, RuntimeError, ValueError, AttributeError):
                pass  # Windows, or not the main thread: the process-wide handler stays
            waits = [asyncio.ensure_future(sensor.finished.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in waits:
                wait.cancel()
            await sensor.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0




PHONE_STEPS = """\
1. Install phyphox (free, from your phone's app store).
2. In phyphox tap + (bottom right), then "Add experiment from QR code", and
   scan {codes}.
   The experiment "imutrack seated twist" then appears under "imutrack".
3. Strap the phone flat on your breastbone (a chest strap or running belt),
   upright, screen facing outward (pictures: docs/wearing.md). imutrack says
   so if it finds the screen facing in.
4. Open the experiment and turn on Remote access (menu, top right): it shows
   an address such as http://192.168.1.20:8080. The phone and this computer
   must be on the same network.
5. Run: imutrack live --phyphox http://192.168.1.20:8080  (your phone's)
   Or record on the phone alone, export the data (CSV) and run
   imutrack analyze export.zip"""


def phone_setup_command(args: argparse.Namespace) -> int:
    """How to get the phyphox experiment onto a phone (its QR codes in the terminal) and wear it."""
    import io

    from imutrack.sources.phyphox_experiment import experiment_bytes, qr_codes

    width = console.width
    for chunk_bytes in (900, 600, 400, 300, 200, 150):  # codes small enough to fit the terminal's width
        codes = qr_codes(chunk_bytes=chunk_bytes)
        if codes[0].symbol_size(border=2)[0] <= width:
            break
    which = "the code below" if len(codes) == 1 else f"the {len(codes)} codes below, in any order"
    console.print(PHONE_STEPS.format(codes=which), markup=False, highlight=False)
    for k, code in enumerate(codes, start=1):
        if len(codes) > 1:
            console.print(f"code {k} of {len(codes)}", markup=False)
        drawn = io.StringIO()
        code.terminal(out=drawn, compact=True, border=2)
        console.file.write(drawn.getvalue())
        console.file.flush()
    saved = []
    if args.png is not None:
        codes = qr_codes()  # printed: as few codes as scan well
        for k, code in enumerate(codes, start=1):
            path = args.png if len(codes) == 1 else args.png.with_name(f"{args.png.stem}-{k}{args.png.suffix}")
            path.parent.mkdir(parents=True, exist_ok=True)
            code.save(path, scale=8, border=4)
            saved.append(path)
    if args.experiment is not None:
        args.experiment.parent.mkdir(parents=True, exist_ok=True)
        args.experiment.write_bytes(experiment_bytes())
        saved.append(args.experiment)
    for path in saved:
        console.print(f"wrote {path}", markup=False, highlight=False)
    return 0
