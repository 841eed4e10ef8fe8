"""The `imutrack` command line: its commands, options and the types that check them (nothing heavy is imported
here, so ``imutrack --help`` answers at once)."""

from __future__ import annotations

import argparse
from pathlib import Path

from imutrack import __version__

PROFILE_NAMES = ("diy", "witmotion", "thingy52", "movesense", "polar-sense", "polar-h10")



def _pelvis_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--pelvis", metavar="NAME_OR_URL",
                         help="a second sensor on the sacrum, recorded at the same time as <out>.pelvis.csv, so the "
                              "spine's own twist is measured (docs/wearing.md): a BLE sensor (with --device), a "
                              "phone running phyphox, by its address (http://PHONE:8080), or with --simulate "
                              "'simulated'")
    command.add_argument("--pelvis-profile", choices=sorted(PROFILE_NAMES),
                         help="the pelvis sensor's profile (default: recognised)")

def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _interval(text: str) -> tuple[float, float]:
    try:
        start, end = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START,END in seconds, got {text!r}") from None
    if not end > start >= 0:
        raise argparse.ArgumentTypeError(f"need 0 ≤ START < END, got {text!r}")
    return start, end


def _start_time(text: str) -> str:
    """An ISO 8601 time; without a UTC offset, this computer's is taken."""
    from datetime import datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a time like 2026-11-24T08:15:00+01:00, got {text!r}") from None
    return (when if when.tzinfo else when.astimezone()).isoformat(timespec="seconds")


def _date(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-24, got {text!r}") from None


def _day_parts(text: str):
    from imutrack.metrics import DayParts

    try:
        return DayParts.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


DAY_PARTS_HELP = ("where the parts of the day begin, in hours: MORNING,AFTERNOON,EVENING (default 5,12,17; the "
                  "evening lasts until the morning, so a session after midnight counts as the evening before)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imutrack",
        description="Measure the seated trunk-twist exercise with a chest-worn IMU: twist angle, one-minute holds, "
        "form (stability, slouch, breathing) and progress over days.",
        epilog="Run 'imutrack demo' to see the whole pipeline on a simulated session.",
    )
    parser.add_argument("--version", action="version", version=f"imutrack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="simulate a session and run it through the whole pipeline",
        description="Simulate a seated-twist session (sensor noise, bias, creep, sway, slouch, breathing), record it "
        "like a real sensor would, and run every analysis stage on it.",
    )
    demo.add_argument("--out", type=Path, help="folder for the recording and figure (default: the user data folder)")
    demo.add_argument("--seed", type=int, default=12, help="random seed of the simulated session (default 12)")
    demo.add_argument("--rate", type=_positive_float, default=100.0, help="sample rate, Hz (default 100)")
    demo.add_argument("--reps", type=int, default=2, help="repetitions per side (default 2)")
    demo.add_argument("--hold", type=_positive_float, default=60.0, help="hold length, s (default 60)")
    demo.add_argument("--days", type=int, default=21, help="days of simulated practice before today (default 21)")
    demo.add_argument("--pelvis", action="store_true",
                      help="a second sensor on the pelvis too: the spine's own twist and the hips' share of the turn")

    simulate = commands.add_parser(
        "simulate",
        help="write a simulated session as a recording (with its ground truth as JSON)",
        description="Write a simulated session as an imutrack recording, and its ground truth next to it as "
        "<name>.truth.json.",
    )
    simulate.add_argument("out", type=Path, help="recording file to create (.csv)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate.add_argument("--rate", type=_positive_float, default=100.0, help="sample rate, Hz (default 100)")
    simulate.add_argument("--reps", type=int, default=3, help="repetitions per side (default 3)")
    simulate.add_argument("--hold", type=_positive_float, default=60.0, help="hold length, s (default 60)")
    simulate.add_argument("--mag", action="store_true", help="include a magnetometer")
    simulate.add_argument("--seat-shift", type=float, default=0.0, metavar="DEG",
                          help="in every rest, turn the whole body on the seat by up to this much (default 0; the "
                               "analysis follows shifts of up to 12° from one rest to the next)")

    simulate.add_argument("--pelvis", type=float, default=None, metavar="SHARE",
                          help="add a second sensor on the sacrum, the pelvis turning by this share of each turn "
                               "(0-0.6; people do about 0.17); written as <name>.pelvis.csv")
    simulate.add_argument("--calibration-turns", type=int, default=0, metavar="N",
                          help="write instead N whole turns on a swivel chair with the same simulated sensor (for "
                               "'imutrack calibrate'; + = to the left)")

    reanalyze = commands.add_parser(
        "reanalyze",
        help="analyse the stored sessions again from their recordings with this version of the analysis",
        description="After a change of the analysis (CHANGELOG.md, Scientific changes) the stored sessions keep the "
        "numbers of the version that computed them, and progress and reports say so. This analyses them again from "
        "their recordings (with the choices made when they were first analysed: neutral, chest axis, 9D) and shows "
        "what changed. Sessions whose recording is gone keep their numbers.",
    )
    reanalyze.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")
    reanalyze.add_argument("--all", action="store_true", help="every session, not only those from earlier versions")
    reanalyze.add_argument("--jobs", type=int, default=0, help="parallel processes (default: cores)")

    calibrate = commands.add_parser(
        "calibrate",
        help="measure the gyro's scale from whole turns on a swivel chair, and keep it for the sensor",
        description="Wear the sensor as for the exercise and sit on a swivel chair. Record: keep still for a few "
        "seconds, turn the chair round by whole turns (three is good, either way) until you face exactly as before "
        "(against a door frame or any straight edge), keep still again. This measures the gyro's scale about the "
        "axis the twist is measured about (1-3 %% off on consumer sensors: 1-2° on a 60° twist), keeps it for the "
        "sensor, and applies it to the sensor's recordings from then on.",
    )
    calibrate.add_argument("file", type=Path, metavar="RECORDING", help="the recording of the turns")
    calibrate.add_argument("--turns", type=int, help="how many whole turns (+ left, - right; default: the nearest "
                                                     "whole number to what the gyro measured)")
    calibrate.add_argument("--device", help="the sensor's name, when the recording does not give it")
    calibrate.add_argument("--config", type=Path, help="calibrations file (default: in the user config folder)")

    analyze = commands.add_parser(
        "analyze",
        help="analyse recordings: reps, holds, range of motion, stability, slouch, breathing",
        description="Analyse recordings (files or folders of them; folders are analysed in parallel). Prints a "
        "table per session, or JSON with --json.",
    )
    analyze.add_argument("files", type=Path, nargs="+", metavar="FILE_OR_FOLDER", help="recordings (.csv) or folders")
    analyze.add_argument("--json", action="store_true", help="print JSON instead of tables: a list, one record per "
                                                             "recording (docs/analysis.schema.json)")
    analyze.add_argument("--csv", type=Path, metavar="HOLDS.csv",
                         help="also write one row per hold across all recordings (source, session start, time slot, "
                              "every hold metric)")
    analyze.add_argument("--plot", type=Path, metavar="PNG", help="session figure (a folder when there are several)")
    analyze.add_argument(
        "--angles", type=Path, metavar="CSV", help="per-sample angles t_s, twist_deg, flexion_deg, lean_deg, rep, "
        "phase (a folder when there are several sessions)"
    )
    analyze.add_argument("--9d", dest="nine_d", action="store_true", help="use the magnetometer (9D orientation)")
    analyze.add_argument("--neutral", type=_interval, metavar="START,END", help="neutral posture interval, s")
    analyze.add_argument("--chest-axis", choices=["+x", "-x", "+y", "-y", "+z", "-z"],
                         help="sensor axis pointing out of the chest (overrides the recording)")
    analyze.add_argument("--jobs", type=int, default=0, help="parallel processes for many files (default: cores)")
    analyze.add_argument("--store", action="store_true", help="add the sessions to the progress database")
    analyze.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")

    progress = commands.add_parser(
        "progress",
        help="range of motion, holds, stability and adherence over days, from the progress database",
    )
    progress.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")
    progress.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="first day")
    progress.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="last day")
    progress.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    progress.add_argument("--day-parts", type=_day_parts, metavar="H,H,H", help=DAY_PARTS_HELP)

    imp = commands.add_parser(
        "import",
        help="convert phone-app exports (phyphox, Sensor Logger, Polar Sensor Logger) or any CSV into recordings",
        description="Convert other programs' files into imutrack recordings: phyphox exports (zip, folder or CSV; "
        "gyroscope and accelerometer with g), Sensor Logger exports (zip or folder), Polar Sensor Logger files "
        "(folder or zip of …_ACC.txt and …_GYRO.txt), or any CSV with --columns and --units. 'imutrack analyze' also "
        "reads these files directly.",
    )
    imp.add_argument("files", type=Path, nargs="+", metavar="FILE_OR_ZIP")
    imp.add_argument("--format", choices=["auto", "phyphox", "sensor-logger", "polar-logger", "generic"],
                     default="auto")
    imp.add_argument("--columns", default="", metavar="t=NAME,gx=…,az=…",
                     help="generic CSV: which column is which (names or 1-based numbers)")
    imp.add_argument("--units", default="", metavar="t=ms,gyr=deg/s,acc=g",
                     help="generic CSV: units of time (s|ms|us|ns), gyro (rad/s|deg/s), acc (m/s2|g|mg)")
    imp.add_argument("--start-time", type=_start_time, metavar="2026-11-24T08:15:00+01:00",
                     help="when the session began (local time with its UTC offset), for a file that does not say: "
                          "it dates the session and its time of day in the progress report")
    imp.add_argument("--chest-axis", choices=["+x", "-x", "+y", "-y", "+z", "-z"],
                     help="phone axis out of the chest (default +z: screen facing outward)")
    imp.add_argument("--out", type=Path, help="folder for the recordings (default: the user data folder)")
    imp.add_argument("--pelvis", type=Path, metavar="FILE_OR_ZIP",
                     help="the export of a second sensor (phone or Polar) worn on the pelvis in the same session as "
                          "the one FILE: both are put on one time base by the exports' own clocks")
    imp.add_argument("--pelvis-axis", choices=["+x", "-x", "+y", "-y", "+z", "-z"], default="-z",
                     help="the pelvis sensor's axis pointing forward (default -z: face outward on the sacrum)")

    report = commands.add_parser(
        "report",
        help="progress report for a physiotherapist: HTML (self-contained), PDF, CSV of holds, PNG figures",
    )
    report.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")
    report.add_argument("--html", type=Path, metavar="OUT.html", help="self-contained web page")
    report.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="printable PDF")
    report.add_argument("--paper", choices=["a4", "letter"], default="a4", help="the PDF's paper size (default a4)")
    report.add_argument("--csv", type=Path, metavar="OUT.csv", help="one row per hold")
    report.add_argument("--png", type=Path, metavar="DIR", help="the figures as PNG files")
    report.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="first day")
    report.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="last day")
    report.add_argument("--day-parts", type=_day_parts, metavar="H,H,H", help=DAY_PARTS_HELP)

    live = commands.add_parser(
        "live",
        help="a guided session: calibrate, twist, hold with a countdown and cues, other side",
        description="Walks you through the seated twist: sit upright and still, turn as far as is comfortable, hold "
        "(the countdown runs while your form is right), return, rest, other side. Records everything and stores the "
        "session in your progress database.",
    )
    live_source = live.add_mutually_exclusive_group()
    live_source.add_argument("--simulate", action="store_true", help="use the built-in simulated person (no sensor)")
    live_source.add_argument("--phyphox", metavar="URL", help="a phone running phyphox with remote access")
    live_source.add_argument("--device", metavar="NAME_OR_ADDRESS",
                             help="a BLE chest sensor: its address, name or the start of its name "
                                  "(see 'imutrack scan')")
    live.add_argument("--profile", choices=sorted(PROFILE_NAMES), help="device profile (default: recognised)")
    _pelvis_options(live)
    live.add_argument("--poll", type=_positive_float, default=0.1, help="phyphox polling interval, s (default 0.1)")
    live.add_argument("--reps", type=int, help="repetitions per side (default: your plan's, see 'imutrack plan'; 2)")
    live.add_argument("--hold", type=_positive_float, help="hold length, s (default: your plan's; 60)")
    live.add_argument("--rest", type=_positive_float, default=10.0, help="rest between holds, s (default 10)")
    live.add_argument("--lenient", action="store_true", help="count the hold even while slouching or bouncing")
    live.add_argument("--unassisted", action="store_const", const=True, default=None,
                      help="doing it without hands (default: as your plan says)")
    live_view = live.add_mutually_exclusive_group()
    live_view.add_argument("--web", action="store_true",
                           help="show the session as a page in your browser, readable from across the room "
                                "(the default when a browser is available)")
    live_view.add_argument("--terminal", action="store_true", help="show the session in this terminal")
    live_view.add_argument("--plain", action="store_true", help="line-by-line output (screen readers, logs)")
    live.add_argument("--no-browser", action="store_true",
                      help="with the web view: do not open a browser, only print the page's address")
    live.add_argument("--listen", default="127.0.0.1", metavar="ADDRESS",
                      help="with the web view: the interface to serve on (default 127.0.0.1, this computer only; "
                           "0.0.0.0 lets a tablet on your network open the address, still guarded by its token)")
    live.add_argument("--port", type=int, default=0, help="with the web view: the port (default: a free one)")
    live.add_argument("--quiet", action="store_true", help="no tones or speech")
    live.add_argument("--no-rating", action="store_true",
                      help="do not ask how your back feels before and after (0–10; asked on the page or in a "
                           "terminal)")
    live.add_argument("--speed", type=float, default=1.0,
                      help="with --simulate: playback speed (0 = as fast as possible)")
    live.add_argument("--seed", type=int, help="with --simulate: the simulated person's random seed")
    live.add_argument("--out", type=Path, help="recording file (default: a new file in the user data folder)")
    live.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")
    live.add_argument("--no-store", action="store_true", help="do not add the session to the progress database")

    phone = commands.add_parser(
        "phone-setup",
        help="put imutrack's phyphox experiment on a phone: QR codes to scan, and how to wear the phone",
        description="Shows the QR code(s) that phyphox reads the experiment from (phyphox: + → Add experiment from "
        "QR code), and how to wear and connect the phone. Nothing is downloaded: the codes hold the experiment itself.",
    )
    phone.add_argument("--png", type=Path, metavar="FILE.png", help="also save the code(s) as PNG (to print)")
    phone.add_argument("--experiment", type=Path, metavar="FILE.phyphox",
                       help="also save the experiment file (to send to the phone another way)")

    plan = commands.add_parser(
        "plan",
        help="the prescription: hold length, reps per side, sessions a day and when, with or without hands",
        description="Without options, shows the plan in force and the plans before it. With options, starts a new "
        "plan (from today, or --from) that changes what they name and keeps the rest. 'imutrack live' follows the "
        "plan in force; progress and the report measure each day against its own plan.",
    )
    plan.add_argument("--hold", type=_positive_float, metavar="S", help="each hold's length, s")
    plan.add_argument("--reps", type=int, metavar="N", help="reps to each side per session")
    plan.add_argument("--parts", metavar="PARTS", help="parts of the day with a session, e.g. morning,evening")
    plan_hands = plan.add_mutually_exclusive_group()
    plan_hands.add_argument("--unassisted", dest="unassisted", action="store_const", const=True,
                            help="without hands")
    plan_hands.add_argument("--assisted", dest="unassisted", action="store_const", const=False,
                            help="with hands (one beside, one behind)")
    plan.add_argument("--note", help="words for the person and the report (e.g. why the plan changed)")
    plan.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="first day (default today)")
    plan.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")

    profile = commands.add_parser("profile", help="who the reports are about: a name or a patient ID (optional)")
    profile.add_argument("--name", help="the person's name ('' removes it)")
    profile.add_argument("--id", dest="patient_id", help="a patient ID ('' removes it)")
    profile.add_argument("--db", type=Path, help="progress database (default: in the user data folder)")

    scan = commands.add_parser("scan", help="list nearby BLE devices and the sensors imutrack recognises")
    scan.add_argument("--timeout", type=_positive_float, default=5.0, help="seconds to listen (default 5)")

    record = commands.add_parser(
        "record",
        help="record a chest sensor (BLE, a phone, or the simulated person) into a recording file",
        description="Connect to a chest sensor and record it (crash-safe, reconnecting on link loss) until Ctrl-C "
        "or --duration.",
    )
    source = record.add_mutually_exclusive_group(required=True)
    source.add_argument("--device", metavar="NAME_OR_ADDRESS",
                        help="a BLE sensor: its address, name or the start of its name (see 'imutrack scan')")
    source.add_argument("--phyphox", metavar="URL", help="a phone running phyphox with remote access, e.g. "
                        "http://192.168.1.20:8080 (experiment with gyroscope and accelerometer with g)")
    source.add_argument("--simulate", action="store_true", help="the built-in simulated person (no sensor)")
    record.add_argument("--poll", type=_positive_float, default=0.1, help="phyphox polling interval, s (default 0.1)")
    record.add_argument("--profile", choices=sorted(PROFILE_NAMES), help="device profile (default: recognised)")
    _pelvis_options(record)
    record.add_argument("--out", type=Path, help="recording file (default: a new file in the user data folder)")
    record.add_argument("--duration", type=_positive_float, metavar="S", help="stop after this many seconds")
    record.add_argument("--speed", type=float, default=1.0,
                        help="with --simulate: playback speed (0 = as fast as possible)")
    record.add_argument("--seed", type=int, help="with --simulate: the simulated person's random seed")
    hands = record.add_mutually_exclusive_group()
    hands.add_argument("--assisted", dest="assisted", action="store_const", const="assisted",
                       help="the exercise is done with the hands helping")
    hands.add_argument("--unassisted", dest="assisted", action="store_const", const="unassisted",
                       help="the exercise is done without hands")
    record.add_argument("--notes", default="", help="a note stored with the recording")

    sim_sensor = commands.add_parser(
        "sim-sensor",
        help="serve simulated data as a BLE sensor (DIY or a vendor profile) through a bumble transport",
        description="A virtual chest sensor for people without hardware and for firmware developers: streams a "
        "simulated session over the DIY GATT profile (or WitMotion's, Thingy:52's or Polar Verity Sense's) through "
        "a bumble HCI transport, e.g. 'usb:0' (a USB Bluetooth dongle becomes the sensor), 'vhci' (Linux: a virtual "
        "controller the system's Bluetooth sees), "
        "'serial:/dev/ttyACM0', 'tcp-client:127.0.0.1:9000' or 'tcp-server:127.0.0.1:9000' (HCI over TCP, e.g. "
        "for an emulator). Needs the 'bumble' package (pip install 'imutrack[sim]').",
    )
    sim_sensor.add_argument("transport", help="bumble transport spec")
    sim_sensor.add_argument("--profile", choices=["diy", "witmotion", "thingy52", "polar-sense"], default="diy")
    sim_sensor.add_argument("--rate", type=_positive_float, default=None,
                            help="sample rate, Hz (default: 52 for polar-sense, else 100)")
    sim_sensor.add_argument("--seed", type=int, default=0)
    sim_sensor.add_argument("--listen-anywhere", action="store_true",
                            help="allow a tcp-server/ws-server transport on a non-loopback address")

    info = commands.add_parser("info", help="describe recordings: device, duration, rate, lost samples, events")
    info.add_argument("files", type=Path, nargs="+", metavar="FILE", help="imutrack recordings (.csv)")
    return parser


def _axis_values_joined(argv: list[str]) -> list[str]:
    """``--chest-axis -z`` as ``--chest-axis=-z``: argparse takes a value starting with "-" for an option."""
    out = []
    for token in argv:
        if out and out[-1] == "--chest-axis" and token in ("-x", "-y", "-z"):
            out[-1] = f"--chest-axis={token}"
        else:
            out.append(token)
    return out
