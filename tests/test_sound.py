"""Cue audio, rendered to WAV and checked without a sound device."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from imutrack import sound
from imutrack.live import Guide, GuideConfig
from imutrack.sources.simulator import SimulatorConfig, simulate
from tests.test_live import feed


def test_every_guide_event_has_an_audible_tone(tmp_path):
    guide = feed(Guide(GuideConfig(reps_per_side=1, hold_s=20.0, rest_s=3.0)),
                 simulate(SimulatorConfig(seed=41, reps_per_side=1, hold_s=30.0, sample_rate_hz=50.0)).samples)
    kinds = {e.kind for e in guide.events}
    assert {"turn", "hold", "hold end", "done"} <= kinds
    for event in guide.events:
        audio = sound.cue_audio(event.kind, event.text, with_speech=False)
        path = sound.write_wav(tmp_path / f"{event.kind.replace(' ', '_')}.wav", audio)
        back = sound.read_wav(path)
        expected_s = sum(seconds for _, seconds in sound.TONES.get(event.kind, sound.TONES["turn"]))
        assert len(back) / sound.RATE_HZ == pytest.approx(expected_s, abs=2 / sound.RATE_HZ)
        assert np.sqrt(np.mean(back**2)) > 0.1  # not silent
        assert np.abs(back).max() <= 0.41  # not clipped, fades applied


def test_distinct_events_sound_different():
    spectra = {}
    for kind in ("tick", "cue", "hold end"):
        audio = sound.tone(sound.TONES[kind])
        spectrum = np.abs(np.fft.rfft(audio))
        spectra[kind] = np.fft.rfftfreq(len(audio), 1 / sound.RATE_HZ)[np.argmax(spectrum)]
    assert spectra["tick"] == pytest.approx(880, abs=15)
    assert spectra["cue"] == pytest.approx(440, abs=15)
    assert len(set(round(f) for f in spectra.values())) == 3


@pytest.mark.skipif(sound.speech_engine() is None, reason="no speech engine (espeak-ng) installed")
def test_speech_follows_the_tone_when_an_engine_exists(tmp_path):
    audio = sound.cue_audio("hold", "Hold, breathe deeply")
    tone_s = sum(s for _, s in sound.TONES["hold"])
    assert len(audio) / sound.RATE_HZ > tone_s + 0.5
    assert np.sqrt(np.mean(audio[int((tone_s + 0.1) * sound.RATE_HZ):] ** 2)) > 0.01


def test_no_player_means_no_sound_and_no_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sound.sys, "platform", "linux")
    assert sound.play(sound.tone(sound.TONES["tick"])) is False


def test_played_sounds_leave_no_files_behind(monkeypatch):
    # each cue is written to a WAV file for the player; 13 were left in the temporary folder per session
    monkeypatch.setattr(sound.sys, "platform", "linux")
    monkeypatch.setattr(sound, "player", lambda: ["true"])  # a player that plays nothing
    for kind in ("turn", "hold", "done"):
        assert sound.play(sound.cue_audio(kind, with_speech=False))
    folder = Path(sound._played.name)
    assert len(list(folder.glob("*.wav"))) == 3
    sound.forget_sounds()
    assert not folder.exists() and sound._played is None


def _fake_commands(folder, **scripts):
    """Executables named as the keys, each a shell script with the value as its body."""
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return str(folder)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="POSIX players")
@pytest.mark.parametrize(("scripts", "heard", "words"), [
    ({}, False, "no sound player"),
    ({"aplay": "echo 'ALSA lib: cannot find card 0' >&2; echo 'aplay: audio open error: No such file' >&2; exit 1"},
     False, "no audio output (aplay: aplay: audio open error: No such file)"),
    ({"paplay": "exit 0"}, True, "tones only, no speech engine (install espeak-ng"),
    ({"paplay": "exit 0", "espeak-ng": "exit 0"}, True, "tones and speech (espeak-ng) through paplay"),
])
def test_the_sound_check_says_what_will_be_heard(tmp_path, monkeypatch, scripts, heard, words):
    monkeypatch.setattr(sound.sys, "platform", "linux")
    monkeypatch.setenv("PATH", _fake_commands(tmp_path, **scripts))
    ok, said = sound.check()
    assert ok is heard and words in said, said
    sound.forget_sounds()
