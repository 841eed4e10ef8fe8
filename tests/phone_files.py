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


def _seconds(value: float, decimal_comma: bool) -> str:
    """A Unix time as phyphox writes it: to the millisecond."""
    text = f"{value:.3f}"
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
        separator.join(['"START"', _number(0.0, decimal_comma), _seconds(start_unix_s, decimal_comma),
                        '"2025-11-24 09:15:00.000 UTC+01:00"']) + "\n"
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


def _low_pass(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.column_stack([np.convolve(np.pad(values[:, k], width, mode="edge"), kernel, "same")[width:-width]
                            for k in range(3)])


def sensor_logger_tables(samples: ImuSamples, platform: str = "android", epoch_s: float = 1_763_972_100.0,
                         acc_stride: int = 3, zone: str = "Europe/Berlin") -> dict[str, str]:
    """Sensor Logger's tables: columns time (epoch ns), seconds_elapsed, z, y, x. Android: TotalAcceleration (with
    gravity) on its own, sparser clock; iOS: Accelerometer (user) and Gravity with Core Motion's sign, no total."""
    def table(t_s: np.ndarray, xyz: np.ndarray) -> str:
        lines = ["time,seconds_elapsed,z,y,x"]
        lines += [f"{int(round((epoch_s + t) * 1e9))},{t:.6f},{v[2]:.9g},{v[1]:.9g},{v[0]:.9g}"
                  for t, v in zip(t_s, xyz)]
        return "\n".join(lines) + "\n"

    rate = samples.rate_hz
    gravity = _low_pass(samples.acc_m_s2, max(3, int(rate)))  # specific-force gravity
    t_acc = samples.t_s[::acc_stride] + 0.004
    acc = np.column_stack([np.interp(t_acc, samples.t_s, samples.acc_m_s2[:, k]) for k in range(3)])
    g_acc = np.column_stack([np.interp(t_acc, samples.t_s, gravity[:, k]) for k in range(3)])
    tables = {"Gyroscope.csv": table(samples.t_s, samples.gyr_rad_s),
              "Metadata.csv": f"version,device name,recording timezone,platform\n1.40,test phone,{zone},{platform}\n"}
    if platform == "android":
        tables["TotalAcceleration.csv"] = table(t_acc, acc)
        tables["Accelerometer.csv"] = table(t_acc, acc - g_acc)
        tables["Gravity.csv"] = table(t_acc, g_acc)
    else:
        tables["Accelerometer.csv"] = table(t_acc, -(acc - g_acc))
        tables["Gravity.csv"] = table(t_acc, -g_acc)
    return tables


def polar_logger_tables(samples: ImuSamples, with_gyro: bool = True, acc_delay_s: float = 0.0096) -> dict[str, str]:
    """Polar Sensor Logger's ';'-separated streams: ACC in mG (integers), GYRO in dps; sensor time in ns since
    2000-01-01; phone timestamps as dates (ignored by the importer)."""
    base_ns = 817_000_000_000_000_000  # about 2025-11-20 in ns since 2000-01-01

    def table(t_s: np.ndarray, xyz: np.ndarray, unit: str, integer: bool) -> str:
        lines = [f"Phone timestamp;sensor timestamp [ns];X [{unit}];Y [{unit}];Z [{unit}]"]
        for t, v in zip(t_s, xyz):
            phone = f"2025-11-20T08:{int(t // 60) % 60:02d}:{t % 60:06.3f}"
            values = ";".join(str(int(round(x))) if integer else f"{x:.4f}" for x in v)
            lines.append(f"{phone};{base_ns + int(round(t * 1e9))};{values}")
        return "\n".join(lines) + "\n"

    t_acc = samples.t_s + acc_delay_s
    acc = np.column_stack([np.interp(t_acc, samples.t_s, samples.acc_m_s2[:, k]) for k in range(3)])
    tables = {"Polar_Sense_ABC123_20251120_081500_ACC.txt": table(t_acc, acc / 9.80665 * 1000, "mg", True)}
    if with_gyro:
        tables["Polar_Sense_ABC123_20251120_081500_GYRO.txt"] = table(samples.t_s, np.degrees(samples.gyr_rad_s),
                                                                      "dps", False)
    return tables
