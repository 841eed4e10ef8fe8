"""Fuzz every reader, importer, decoder and the store's open path: ``python -m tests.fuzz [--examples N] [--only T]``.

Each target is given N inputs made from a valid one (seeded, so each is reproduced from its number): cut short, hostile tokens inserted or put in
place of a span (huge, tiny and non-numbers, separators, NUL, other scripts, very long fields), lines repeated,
swapped or dropped, bytes flipped. A target may take an input or refuse it with an
:class:`~imutrack.errors.ImutrackError` of one line that says where; anything else — another exception, a
``MemoryError``, a message of several lines, a warning that is not ours — is a failure, printed with its input.

The process runs under an address-space limit (its own size once everything is imported, plus ``--memory-mb``,
500 by default), so a reader that sizes something from the input fails here rather than on a user's machine; the
peak resident size is printed per target. ``tests/test_fuzz.py`` runs it with a few hundred inputs per target in
CI; ``docs/devices.md`` gives the figures of a 10,000-input run.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imutrack.errors import ImutrackError, ImutrackWarning
from imutrack.io.generic import read_generic
from imutrack.io.phyphox import read_phyphox
from imutrack.io.polar_logger import read_polar_logger
from imutrack.io.sensor_logger import read_sensor_logger
from imutrack.recording import RecordingMeta, read_recording, write_recording
from imutrack.samples import ImuSamples
from imutrack.sources.profiles import PROFILES, PacketStream
from imutrack.sources.profiles import diy, movesense, polar, thingy52, witmotion
from imutrack.store import Store
from tests.phone_files import phyphox_tables, polar_logger_tables, sensor_logger_tables

HOSTILE = ["1e308", "-1e308", "1e-300", "nan", "inf", "-inf", "NaN", "0x1F", "", ",", ";", "\t", '"', "\x00", "\n",
           "\r\n", "#", "é", "中", "\u202e", "9" * 400, "-0", "1,5", "1.5.5", "  ", "e", "1e", "+", "null", "[", "{",
           "2025-13-45T99:99:99", "UTC+01-30:00", "year -314918", "1" * 25, "$x$", "[/]", "\x1b]0;title\x07"]
TEXT_ALPHABET = "0123456789.,;-+eE#\"\t\n\r naxyz_():/[]{}é\x00"


def _still(n: int, rate_hz: float = 50.0) -> ImuSamples:
    rng = np.random.default_rng(1)
    t_s = np.arange(n) / rate_hz
    gyr = rng.normal(0.0, 0.01, (n, 3))
    acc = np.array([0.3, 0.2, 9.78]) + rng.normal(0.0, 0.05, (n, 3))
    return ImuSamples(t_s, gyr, acc)


def mutated_text(rng: random.Random, text: str) -> str:
    """``text`` with 1-4 edits."""
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        token = rng.choice(HOSTILE) if rng.random() < 0.6 else "".join(
            rng.choices(TEXT_ALPHABET, k=rng.randint(0, 12)))
        kind = rng.choice(["cut", "insert", "replace", "lines"])
        if kind == "cut":
            text = text[:at]
        elif kind == "insert":
            text = text[:at] + token + text[at:]
        elif kind == "replace":
            text = text[:at] + token + text[at + rng.randint(0, 40):]
        else:
            lines = text.split("\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            how = rng.choice(["swap", "repeat", "drop"])
            if how == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            elif how == "repeat":
                lines.insert(j, lines[i])
            else:
                del lines[i]
            text = "\n".join(lines)
    return text


def mutated_bytes(rng: random.Random, raw: bytes) -> bytes:
    """``raw`` with 1-6 byte-level edits (flips, cuts, inserted or overwritten runs)."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(0, max(0, len(data) - 1))
        kind = rng.choice(["flip", "cut", "insert", "overwrite"])
        if kind == "flip" and data:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = rng.randbytes(rng.randint(0, 16))
        else:
            run = rng.randbytes(rng.randint(1, 64))
            data[at:at + len(run)] = run
    return bytes(data)


def _tables_target(reader: Callable, make: Callable[[], dict[str, str]]):
    """A target over an app's export: one of its members mutated."""
    valid = make()

    def inputs(rng: random.Random) -> dict[str, str]:
        tables = dict(valid)
        name = rng.choice(sorted(tables))
        tables[name] = mutated_text(rng, tables[name])
        return tables

    return inputs, lambda tables: reader(tables, "fuzz")


def _generic_target():
    samples = _still(200)
    header = "t,gx,gy,gz,ax,ay,az"
    rows = [",".join(f"{v:.6g}" for v in row) for row in np.column_stack([samples.t_s, samples.gyr_rad_s,
                                                                          samples.acc_m_s2])]
    valid = "\n".join([header, *rows]) + "\n"
    columns = dict(t="t", gx="gx", gy="gy", gz="gz", ax="ax", ay="ay", az="az")
    choices = {"t": ["s", "ms", "us", "ns"], "gyr": ["rad/s", "deg/s"], "acc": ["m/s2", "g"]}

    def inputs(rng: random.Random) -> tuple[str, dict[str, str]]:
        units = {key: rng.choice(values) for key, values in choices.items() if rng.random() < 0.5}
        return mutated_text(rng, valid), units

    return inputs, lambda arg: read_generic(arg[0], "fuzz", columns, arg[1])


def _recording_target(folder: Path):
    """The imutrack CSV, big enough (over 64 KiB) for the fast reader, through a file as a user's would be."""
    path = write_recording(folder / "valid.csv", _still(1200),
                           RecordingMeta(device="fuzz", profile="diy", sample_rate_hz=50.0), seq=np.arange(1200))
    valid = path.read_text(encoding="utf-8")
    target = folder / "fuzz.csv"

    def run(mutated: str) -> None:
        target.write_bytes(mutated.encode("utf-8", "surrogatepass"))
        read_recording(target)

    return lambda rng: mutated_text(rng, valid), run


def _zip_target(folder: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in phyphox_tables(_still(150)).items():
            archive.writestr(name, text)
    target = folder / "fuzz.zip"

    def run(raw: bytes) -> None:
        from imutrack.io import load

        target.write_bytes(raw)
        load(target)

    valid = buffer.getvalue()
    return lambda rng: mutated_bytes(rng, valid), run


def _valid_packets(name: str) -> list[bytes]:
    s = _still(40, 100.0)
    if name == "diy":
        return [diy.encode(s.gyr_rad_s[k:k + 5], s.acc_m_s2[k:k + 5], k, k * 10_000, rate_hz=100)
                for k in range(0, 40, 5)]
    if name == "witmotion":
        return [witmotion.encode(s.gyr_rad_s[k:k + 2], s.acc_m_s2[k:k + 2]) for k in range(0, 40, 2)]
    if name == "thingy52":
        return [thingy52.encode(s.gyr_rad_s[k], s.acc_m_s2[k], np.zeros(3)) for k in range(40)]
    if name == "movesense":
        return [movesense.encode(s.gyr_rad_s[k:k + 4], s.acc_m_s2[k:k + 4], 1000 + k * 10) for k in range(0, 40, 4)]
    acc_mg = np.round(s.acc_m_s2 / 9.80665 * 1e3)
    frames = [polar.encode_frame(polar.ACC, 10**18 + k * 10**8, 0x81, polar.encode_delta_frames(acc_mg[k:k + 10]))
              for k in range(0, 40, 10)]
    if name == "polar-sense":
        gyr = np.round(np.degrees(s.gyr_rad_s) / 0.07)
        frames += [polar.encode_frame(polar.GYRO, 10**18 + k * 10**8, 0x80, polar.encode_delta_frames(gyr[k:k + 10]))
                   for k in range(0, 40, 10)]
    return frames


def _ble_target(name: str):
    profile = PROFILES[name]
    valid = _valid_packets(name)

    def packets(rng: random.Random) -> list[bytes]:
        made = [mutated_bytes(rng, rng.choice(valid)), rng.choice(valid), rng.randbytes(rng.randint(0, 250))]
        return [rng.choice(made) for _ in range(rng.randint(1, 12))]

    def run(payloads: list[bytes]) -> None:
        stream = PacketStream(profile)
        for k, payload in enumerate(payloads):
            stream.feed(payload, 10.0 + 0.02 * k)
            if k == len(payloads) // 2:
                stream.reconnected()
            stream.take()
        taken = stream.take(final=True)
        if taken is not None:
            samples = taken[0]
            assert np.all(np.diff(samples.t_s) > 0), "sample times do not increase"
            assert np.isfinite(samples.acc_m_s2).all() and np.isfinite(samples.gyr_rad_s).all(), "non-finite values"

    return packets, run


def _phyphox_live_target():
    from imutrack.sources.phyphox_live import PhyphoxStream

    names = ["gyrX", "gyrY", "gyrZ", "gyr_time", "accX", "accY", "accZ", "acc_time"]
    valid = json.dumps({"buffer": {n: {"size": 0, "updateMode": "partial", "buffer": [0.1 * k for k in range(20)]}
                                   for n in names}, "status": {"measuring": True}})

    def run(answer: str) -> None:
        stream = PhyphoxStream("http://127.0.0.1:8080", http_get=lambda _url, _timeout: answer.encode("utf-8",
                                                                                                    "surrogatepass"))
        stream.poll()
        stream.poll()

    return lambda rng: mutated_text(rng, valid), run


def _store_target(folder: Path):
    from imutrack.analysis import analyze
    from imutrack.sources.simulator import SimulatorConfig, simulate

    simulated = simulate(SimulatorConfig(reps_per_side=1, hold_s=20.0, neutral_s=5.0, rest_s=5.0, seed=3))
    result = analyze(simulated.samples, meta=simulated.recording_meta(), calibration=None)
    valid_path = folder / "valid.sqlite"
    with Store(valid_path) as store:
        store.add(result, None, digest="first")
    valid = valid_path.read_bytes()
    target = folder / "fuzz.sqlite"

    def run(raw: bytes) -> None:
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        target.write_bytes(raw)
        with Store(target) as store:
            sessions = store.sessions()
            list(store.holds([s.id for s in sessions]))
            store.add(result, None, digest="second")

    return lambda rng: mutated_bytes(rng, valid), run


def targets(folder: Path) -> dict[str, tuple]:
    phone = _still(150)
    found = {
        "imutrack-csv": _recording_target(folder),
        "phyphox": _tables_target(read_phyphox, lambda: phyphox_tables(phone)),
        "sensor-logger": _tables_target(read_sensor_logger, lambda: sensor_logger_tables(phone, "android")),
        "polar-logger": _tables_target(read_polar_logger, lambda: polar_logger_tables(phone)),
        "generic-csv": _generic_target(),
        "zip": _zip_target(folder),
        "phyphox-live": _phyphox_live_target(),
        "store": _store_target(folder),
    }
    found.update({f"ble-{name}": _ble_target(name) for name in PROFILES})
    return found


class Failure(Exception):
    """An input a target mishandled."""


def check(run: Callable, value) -> str:
    """Run one input: "taken" or "refused"; raises :class:`Failure` for anything else."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run(value)
            outcome = "taken"
        except ImutrackError as exc:
            message = str(exc)
            if "\n" in message or not message.strip():
                raise Failure(f"a refusal that is not one line: {message!r}") from None
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 (the point: anything else is a failure)
            raise Failure("".join(traceback.format_exception(exc))) from None
    foreign = [w for w in caught if not issubclass(w.category, ImutrackWarning)]
    if foreign:
        raise Failure(f"a warning that is not imutrack's: {foreign[0].category.__name__}: {foreign[0].message}")
    return outcome


def fuzz(name: str, inputs: Callable[[random.Random], object], run: Callable, examples: int, seed: int) -> dict:
    """Run ``examples`` inputs of a target; the k-th is ``inputs(random.Random(f"{name}:{seed}:{k}"))``, so a
    failure is reproduced from its target, seed and number alone."""
    counts = {"taken": 0, "refused": 0}
    started = time.perf_counter()
    for k in range(examples):
        value = inputs(random.Random(f"{name}:{seed}:{k}"))
        try:
            counts[check(run, value)] += 1
        except Failure as exc:
            raise Failure(f"input {k} (seed {seed}): {exc}") from None
    return {"target": name, **counts, "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _limit_memory(extra_mb: int) -> int:
    """Cap the address space at its size now plus ``extra_mb``; returns the cap in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = (size_kb * 1024) + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return cap // 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="inputs per target")
    parser.add_argument("--only", action="append", help="run only this target (repeatable)")
    parser.add_argument("--memory-mb", type=int, default=500, help="address space allowed beyond start-up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        found = targets(Path(tmp))
        cap_mb = _limit_memory(args.memory_mb)
        print(f"address space capped at {cap_mb:,} MB; {args.examples:,} inputs per target", flush=True)
        failed = False
        for name, (strategy, run) in found.items():
            if args.only and name not in args.only:
                continue
            try:
                row = fuzz(name, strategy, run, args.examples, args.seed)
            except Failure as exc:
                failed = True
                print(json.dumps({"target": name, "failure": str(exc)[-3000:]}), flush=True)
                continue
            print(json.dumps(row), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
