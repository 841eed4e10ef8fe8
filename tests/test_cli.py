import json
import subprocess
import sys

import numpy as np
import pytest

from imutrack import __version__
from imutrack.cli import main
from imutrack.recording import read_recording


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"imutrack {__version__}"
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_the_command_line_offers_every_device_profile():
    from imutrack.cli import PROFILE_NAMES
    from imutrack.sources.profiles import PROFILES

    assert sorted(PROFILE_NAMES) == sorted(PROFILES)


def test_the_installed_command_runs_without_a_terminal():
    done = subprocess.run([sys.executable, "-m", "imutrack", "--help"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0 and "usage: imutrack" in done.stdout


def test_demo_writes_a_readable_recording_and_a_figure(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--reps", "1", "--hold", "20", "--rate", "50"]) == 0
    out = capsys.readouterr().out
    recordings = list(tmp_path.glob("demo-*.csv"))
    figures = list(tmp_path.glob("demo-*.png"))
    assert len(recordings) == 1 and len(figures) == 1
    recording = read_recording(recordings[0])
    assert recording.meta.profile == "simulator"
    assert recording.samples.rate_hz == pytest.approx(50.0)
    assert figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "recorded" in out and "left" in out and "right" in out


def test_demo_uses_the_user_data_folder_by_default(tmp_path, capsys):
    assert main(["demo", "--reps", "1", "--hold", "12", "--rate", "25"]) == 0
    written = list((tmp_path.parent).rglob("demo-*.csv"))
    assert written, "the demo should write into the (test-isolated) user data folder"
    assert "imutrack/demo" in capsys.readouterr().out.replace("\\", "/").replace("\n", "")


def test_simulate_can_shift_on_the_seat_and_analyze_measures_each_rep_from_facing_forward(tmp_path, capsys):
    out = tmp_path / "shifty.csv"
    assert main(["simulate", str(out), "--reps", "2", "--hold", "20", "--seed", "8", "--seat-shift", "9"]) == 0
    truth = json.loads((tmp_path / "shifty.truth.json").read_text())
    assert max(abs(x) for x in truth["seat_deg_at_turns"]) > 3.0
    capsys.readouterr()
    assert main(["analyze", str(out), "--json"]) == 0
    holds = json.loads(capsys.readouterr().out)[0]["holds"]
    for hold, seat, rep in zip(holds, truth["seat_deg_at_turns"], truth["reps"]):
        assert hold["neutral_shift_deg"] == pytest.approx(seat, abs=1.0)
        assert hold["mean_twist_deg"] == pytest.approx(rep["mean_twist_deg"], abs=1.0)
    assert main(["simulate", str(tmp_path / "x.csv"), "--seat-shift", "45"]) == 1
    assert "--seat-shift must be between 0 and 20" in capsys.readouterr().err


def test_simulate_writes_the_truth_next_to_the_recording(tmp_path, capsys):
    out = tmp_path / "sim.csv"
    assert main(["simulate", str(out), "--reps", "1", "--hold", "15", "--seed", "3", "--mag"]) == 0
    truth = json.loads((tmp_path / "sim.truth.json").read_text())
    recording = read_recording(out)
    assert recording.samples.has_mag
    assert [r["side"] for r in truth["reps"]] == ["left", "right"]
    assert truth["config"]["seed"] == 3
    assert np.isclose(truth["reps"][0]["hold_duration_s"], 15.0, atol=4.0)
    assert main(["simulate", str(out)]) == 1  # never overwrites
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["demo", "--rate", "-5"], ["demo", "--reps", "zero"], ["nonsense"]])
def test_usage_errors_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "imutrack" in capsys.readouterr().err


def test_bad_values_give_a_one_line_error(capsys):
    assert main(["demo", "--reps", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reps must be at least 1" in err


def test_a_warning_from_a_library_is_shown_once_and_the_command_ends(monkeypatch):
    # shown while warnings were still being recorded, it was recorded again into the list being shown: the process
    # grew without end (a phyphox file with an acceleration of 1e308)
    import warnings

    from imutrack.cli import commands

    def warns(args):
        warnings.warn("overflow encountered", RuntimeWarning)
        return 0

    shown = []
    monkeypatch.setattr(commands, "run", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        monkeypatch.setattr(warnings, "showwarning", lambda message, *rest, **kw: shown.append(str(message)))
        assert main(["info", "x.csv"]) == 0
    assert shown == ["overflow encountered"]


def test_a_negative_chest_axis_is_taken_as_the_docs_write_it(tmp_path, capsys):
    from imutrack.recording import RecordingMeta, write_recording
    from imutrack.sources.simulator import SimulatorConfig, simulate

    session = simulate(SimulatorConfig(seed=3, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0,
                                       chest_normal_axis="-z"))
    path = write_recording(tmp_path / "s.csv", session.samples, RecordingMeta(chest_normal_axis="+x"))
    assert main(["analyze", str(path), "--chest-axis", "-z", "--json"]) == 0  # was: "expected one argument"
    (document,) = json.loads(capsys.readouterr().out)
    assert document["params"]["chest_normal_axis"] == "-z"


HOSTILE = "evil [/] [link=http://x]x\x1b]0;pwned\x07 $x$ [bold]"  # rich markup, a terminal escape, mathtext


def test_user_text_reaches_the_terminal_and_figures_as_plain_text(tmp_path, capsys):
    from imutrack.recording import RecordingMeta, write_recording
    from imutrack.sources.simulator import SimulatorConfig, simulate

    session = simulate(SimulatorConfig(seed=3, reps_per_side=1, hold_s=20.0, sample_rate_hz=25.0))
    path = write_recording(tmp_path / "odd $x$ [red].csv", session.samples,
                           RecordingMeta(device=HOSTILE.replace("\x1b", "").replace("\x07", ""), assisted="$a$"))
    text = path.read_text(encoding="utf-8").replace("# device: evil", f"# device: {HOSTILE[:4]}\x1b]0;pwned\x07", 1)
    path.write_text(text, encoding="utf-8")
    assert main(["info", str(path)]) == 0  # "[/]" had crashed rich
    out = capsys.readouterr().out
    assert "\x1b]0;" not in out and "?]0;pwned?" in "".join(out.split())  # the escape shown, not obeyed
    assert "[/]" in out and "[link=http" in "".join(out.split())  # markup shown as written
    assert main(["analyze", str(path), "--plot", str(tmp_path / "f.png"), "--store", "--db",
                 str(tmp_path / "p.sqlite3")]) == 0  # "$" had crashed matplotlib's mathtext
    assert "odd $x$ [red].csv: holds" in capsys.readouterr().out
    assert main(["report", "--db", str(tmp_path / "p.sqlite3"), "--pdf", str(tmp_path / "r.pdf")]) == 0
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
