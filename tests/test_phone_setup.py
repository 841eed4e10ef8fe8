"""Getting the phyphox experiment onto a phone: QR payloads in phyphox's format, and the command that shows them."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
import zipfile
import zlib

import numpy as np

from imutrack.sources.phyphox_experiment import EXPERIMENT_PATH, experiment_bytes, qr_codes, qr_payloads


def _reassemble(payloads: list[bytes]) -> bytes:
    """What phyphox does with the scanned codes (its ExperimentListActivity): check each header, order the slices by
    index, join them, check the CRC-32."""
    crcs = {p[7:11] for p in payloads}
    counts = {p[12] for p in payloads}
    assert all(p[:7] == b"phyphox" for p in payloads) and len(crcs) == 1 and counts == {len(payloads)}
    joined = b"".join(p[13:] for p in sorted(payloads, key=lambda p: p[11]))
    assert zlib.crc32(joined).to_bytes(4, "big") == crcs.pop()
    return joined


def test_the_codes_carry_the_experiment_as_phyphox_reads_them():
    payloads = qr_payloads(experiment_bytes())
    with zipfile.ZipFile(io.BytesIO(_reassemble(payloads[::-1]))) as archive:  # scanned in any order
        assert archive.namelist() == ["imutrack-twist.phyphox"]
        assert archive.read("imutrack-twist.phyphox") == EXPERIMENT_PATH.read_bytes()
    assert qr_payloads(experiment_bytes()) == payloads  # the same codes every time (printable)
    root = ET.fromstring(experiment_bytes())
    assert {s.get("type") for s in root.iter("sensor")} == {"gyroscope", "accelerometer"}


def test_a_large_experiment_is_split_over_codes_that_each_scan():
    big = np.random.default_rng(1).bytes(5000)  # incompressible
    payloads = qr_payloads(big, chunk_bytes=900)
    assert len(payloads) == 6 and all(len(p) <= 913 for p in payloads) and [p[11] for p in payloads] == list(range(6))
    with zipfile.ZipFile(io.BytesIO(_reassemble(payloads))) as archive:
        assert archive.read(archive.namelist()[0]) == big
    codes = qr_codes(big, chunk_bytes=900)
    assert all(code.mode == "byte" and code.error == "M" and code.version <= 25 for code in codes)
    assert all(code.symbol_size(border=2)[0] <= 80 for code in qr_codes(chunk_bytes=300))  # fit a terminal


def test_phone_setup_shows_the_steps_and_codes_and_saves_them(tmp_path, capsys, monkeypatch):
    from imutrack.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    png, experiment = tmp_path / "qr.png", tmp_path / "twist.phyphox"
    assert main(["phone-setup", "--png", str(png), "--experiment", str(experiment)]) == 0
    text = capsys.readouterr().out
    assert "Add experiment from QR code" in text and "imutrack live --phyphox" in text and "screen facing outward" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.count("█") > 500  # the codes drawn
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and experiment.read_bytes() == experiment_bytes()
    assert os.path.getsize(png) > 1000
