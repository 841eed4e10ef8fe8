"""Writes phone-app exports in the apps' own shapes (from simulated samples), for the import tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from imutrack.samples import ImuSamples

ANDROID = {"gyr": ["Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)"],
           "acc": ["Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)"]}
IOS = {"gyr": ["X (rad/s)", "Y (rad/s)", "Z (rad/s)"], "acc": ["X (m/s^2)", "Y (m/s^2)", "Z (m/s^2)"]}


def _number(value: float, decimal_comma: bool) -> str:
    text = f"{value:.9E}"
    return text.replace(".", ",") if decimal_comma else text


def phyphox_tables(samples: ImuSamples, separator: str = ",", decimal_comma: bool = False, ios: bool = False,
                   acc_stride: int = 2, acc_offset_s: float = 0.003, start_unix_s: float = 1_763_972_100.0,
                   final_newline: bool = True) -> dict[str, str]:
    """member name → text: Gyroscope.csv (every sample), Accelerometer.csv (every ``acc_stride``-th sample on its
    own clock, ``acc_offset_s`` late: interpolating it back is the importer's job), meta/time.csv."""
    names = IOS if ios else ANDROID

    def table(header: list[str], t: np.ndarray, values: np.ndarray) -> str:
        lines = [separator.join(f'"{h}"' for h in ["Time (s)", *header])]
        lines += [separator.join(_number(v, decimal_comma) for v in row) for row in np.column_stack([t, values])]
        return "\n".join(lines) + ("\n" if final_newline else "")

    acc_t = samples.t_s[::acc_stride] + acc_offset_s
    acc = np.column_stack([np.interp(acc_t, samples.t_s, samples.acc_m_s2[:, k]) for k in range(3)])
    time_csv = separator.join(['"event"', '"experiment time"', '"system time"', '"system time text"']) + "\n" + \
        separator.join(['"START"', _number(0.0, decimal_comma), _number(start_unix_s, decimal_comma),
                        '"2025-11-24 08:15:00.000 UTC+01:00"']) + "\n"
    return {"Gyroscope.csv": table(names["gyr"], samples.t_s, samples.gyr_rad_s),
            "Accelerometer.csv": table(names["acc"], acc_t, acc),
            "meta/time.csv": time_csv,
            "meta/device.csv": '"property","value"\n"deviceModel","Pixel 7"\n'}


def write_zip(path: Path, tables: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in tables.items():
            archive.writestr(name, text)
    return path


def write_folder(path: Path, tables: dict[str, str]) -> Path:
    for name, text in tables.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    return path
