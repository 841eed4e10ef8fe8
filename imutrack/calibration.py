"""The gyro's scale about the axis that carries the twist, from whole turns of known size.

No rest reveals a gyro's scale error: a consumer MEMS gyro reads 1–3 % high or low, which bends a 60° twist by
1–2° (on BROAD's real recordings it is most of the error left after the bias, `docs/accuracy.md`). Turning a known
angle does reveal it: sit on a swivel chair with the sensor worn as in the exercise, keep still for a few seconds, turn
the chair round by whole turns (one or more, either way) until you face exactly as before — against a door frame or
any straight edge — and keep still again. The rotation the gyro measured about vertical over the turns, divided by
the turns' 360° each, is the scale of the sensor direction that is vertical when the sensor is worn: the one the
twist is integrated about. It is kept per device (:func:`save`, :func:`saved`) and applied to that direction only
(:meth:`GyroCalibration.apply`).

The accuracy is set by how exactly the turns end where they began: 1° off over three turns is 0.1 % of scale.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from imutrack.errors import ImutrackError
from imutrack.samples import ImuSamples


@dataclass(frozen=True)
class GyroCalibration:
    """A gyro's scale about one sensor direction.

    Attributes:
        scale: what the gyro reads per true rate about ``axis`` (1.012: 1.2 % high).
        axis: the sensor direction it applies to, unit (3,) as a tuple: the one vertical when worn.
        turns: the whole turns it was measured over (+ = to the left, counter-clockwise seen from above).
        measured_deg: the rotation the gyro measured over them, °.
        device: the sensor it belongs to (a recording's ``device``).
        date: when it was measured, ISO 8601.
    """

    scale: float
    axis: tuple[float, float, float]
    turns: int
    measured_deg: float
    device: str = "unknown"
    date: str = ""

    def apply(self, samples: ImuSamples) -> ImuSamples:
        """The samples with the rate about ``axis`` divided by ``scale`` (the other directions unchanged)."""
        axis = np.asarray(self.axis, dtype=np.float64)
        along = samples.gyr_rad_s @ axis
        gyr = samples.gyr_rad_s + np.outer(along * (1.0 / self.scale - 1.0), axis)
        return ImuSamples(samples.t_s, gyr, samples.acc_m_s2, samples.mag_uT)

    def describe(self) -> str:
        """One line for a person: the scale error and when it was measured."""
        when = f" on {self.date[:10]}" if self.date else ""
        return f"gyro scale {100.0 * (self.scale - 1.0):+.2f} % (calibrated{when}, {abs(self.turns)} turns)"


def estimate(samples: ImuSamples, turns: int | None = None, device: str = "unknown") -> GyroCalibration:
    """The scale from a recording of whole turns between two still stretches.

    Args:
        samples: still, whole turns about vertical, still again.
        turns: how many whole turns were made (+ left, − right); None takes the nearest whole number.
        device: the sensor's name, kept with the result.
    """
    from imutrack.rests import still_stretches, stretch_bias

    still = still_stretches(samples)
    if len(still) < 2:
        raise ImutrackError(
            "a calibration needs a still moment before the turns and another after them (found "
            f"{len(still)}): keep still for a few seconds at the start and at the end")
    before, after = still[0], still[-1]
    bias_before, up_before = stretch_bias(samples, before)
    bias_after, up_after = stretch_bias(samples, after)
    if float(up_before @ up_after) < math.cos(math.radians(10.0)):
        raise ImutrackError("the sensor sits differently after the turns than before them (tilted by more than 10°): "
                            "turn the chair, not the sensor")
    axis = up_before + up_after
    axis /= np.linalg.norm(axis)
    a, b = before[1], after[0]
    t = samples.t_s
    span = (t[a:b] - t[before[1] - 1]) / max(t[after[0]] - t[before[1] - 1], 1e-9)
    bias = bias_before[None, :] + np.clip(span, 0.0, 1.0)[:, None] * (bias_after - bias_before)[None, :]
    rate = (samples.gyr_rad_s[a:b] - bias) @ axis
    measured = math.degrees(float(np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t[a:b])))) if b - a > 1 else 0.0
    whole = turns if turns is not None else int(round(measured / 360.0))
    if whole == 0:
        raise ImutrackError(f"the gyro measured {measured:.0f}° about vertical between the still moments: a "
                            "calibration needs at least one whole turn")
    scale = measured / (360.0 * whole)
    if not 0.9 < scale < 1.1:
        raise ImutrackError(
            f"the gyro measured {measured:.0f}° for {whole} whole turn(s) ({100 * (scale - 1):+.1f} %): turn whole "
            "turns and end facing exactly as you began, or give the number of turns with --turns")
    return GyroCalibration(float(scale), tuple(float(x) for x in axis), whole, measured, device,
                           datetime.now(timezone.utc).isoformat(timespec="seconds"))


def calibrations_path() -> Path:
    """Where calibrations are kept: ``calibrations.json`` in the user's config folder."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("imutrack", appauthor=False)) / "calibrations.json"


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImutrackError(f"{path}: cannot read the saved calibrations ({exc})") from None
    return document if isinstance(document, dict) else {}


def save(calibration: GyroCalibration, path: Path | None = None) -> Path:
    """Keep ``calibration`` as its device's (replacing an earlier one); written whole, then moved into place."""
    path = path or calibrations_path()
    document = _read(path)
    document[calibration.device] = asdict(calibration)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def saved(device: str, path: Path | None = None) -> GyroCalibration | None:
    """The calibration kept for ``device``, or None."""
    entry = _read(path or calibrations_path()).get(device)
    if not isinstance(entry, dict):
        return None
    try:
        return GyroCalibration(float(entry["scale"]), tuple(float(x) for x in entry["axis"]), int(entry["turns"]),
                               float(entry["measured_deg"]), str(entry.get("device", device)),
                               str(entry.get("date", "")))
    except (KeyError, TypeError, ValueError):
        raise ImutrackError(f"the calibration saved for {device!r} is damaged: run imutrack calibrate again") from None
