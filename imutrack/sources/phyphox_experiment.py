"""The phyphox experiment imutrack records with (gyroscope and accelerometer with g, 100 Hz), and the QR codes that
put it on a phone: in phyphox, "+" → "Add experiment from QR code" reads the experiment from the codes themselves, so
nothing is downloaded from anywhere.

phyphox's QR format (its app's source, ``ExperimentListActivity.onActivityResult``): each code holds, in byte mode,
"phyphox" (7 bytes), the CRC-32 of the whole payload (4 bytes, big-endian), this code's index and the number of codes
(one byte each), then its slice of the payload. The payload is a zip file holding the experiment (a complete zip,
which the app opens as it opens any zip of experiments).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

EXPERIMENT_PATH = Path(__file__).with_name("imutrack-twist.phyphox")
EXPERIMENT_NAME = EXPERIMENT_PATH.name
CHUNK_BYTES = 900  # of payload per code: with the header, a version ≤ 25 code at error correction M (≈ 1 kB)


def experiment_bytes() -> bytes:
    """The experiment file (XML), as shipped with imutrack."""
    return EXPERIMENT_PATH.read_bytes()


def qr_payloads(experiment: bytes, name: str = EXPERIMENT_NAME, chunk_bytes: int = CHUNK_BYTES) -> list[bytes]:
    """The contents of the QR codes that carry ``experiment`` (a .phyphox file's bytes) to phyphox, in order."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # fixed: the same codes every time
        info.compress_type = zipfile.ZIP_DEFLATED
        zipped.writestr(info, experiment)
    payload = archive.getvalue()
    chunks = [payload[k:k + chunk_bytes] for k in range(0, len(payload), chunk_bytes)]
    if len(chunks) > 255:
        raise ValueError(f"an experiment of {len(payload)} zipped bytes needs more than 255 codes")
    crc = zlib.crc32(payload).to_bytes(4, "big")
    return [b"phyphox" + crc + bytes([k, len(chunks)]) + chunk for k, chunk in enumerate(chunks)]


def qr_codes(experiment: bytes | None = None, chunk_bytes: int = CHUNK_BYTES) -> list:
    """segno QR codes for the experiment (imutrack's own by default), at error correction M, in byte mode;
    ``chunk_bytes`` of payload each (smaller: more, smaller codes)."""
    import segno

    experiment = experiment if experiment is not None else experiment_bytes()
    return [segno.make_qr(payload, error="m", mode="byte", boost_error=False)
            for payload in qr_payloads(experiment, chunk_bytes=chunk_bytes)]
