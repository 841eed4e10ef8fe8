"""Audible cues for the guided session: during a hold the person faces away from the screen.

Tones are synthesised here (no sound files, no dependencies); speech uses the platform's engine when there is one
(``espeak-ng``/``espeak`` on Linux, ``say`` on macOS). Everything renders to an array first, so it can be written to a
WAV file and checked without a sound device; :func:`play` hands it to the platform's player when there is one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE_HZ = 22_050

# kind → [(frequency Hz, duration s), ...]; 0 Hz is a pause
TONES: dict[str, list[tuple[float, float]]] = {
    "tick": [(880.0, 0.08)],
    "turn": [(660.0, 0.15)],
    "hold": [(660.0, 0.12), (0.0, 0.06), (880.0, 0.18)],
    "hold end": [(660.0, 0.15), (0.0, 0.05), (880.0, 0.15), (0.0, 0.05), (990.0, 0.3)],
    "cue": [(440.0, 0.12), (0.0, 0.08), (440.0, 0.12)],
    "praise": [(784.0, 0.1), (988.0, 0.15)],
    "done": [(523.0, 0.15), (659.0, 0.15), (784.0, 0.35)],
    "paused": [(330.0, 0.4)],
    "note": [(523.0, 0.12), (0.0, 0.06), (523.0, 0.12), (0.0, 0.06), (392.0, 0.2)],
}


def tone(pattern: list[tuple[float, float]], rate_hz: int = RATE_HZ, volume: float = 0.4) -> np.ndarray:
    """A tone pattern as float32 samples in [−1, 1], each tone faded in and out over 10 ms (no clicks)."""
    parts = []
    for freq, seconds in pattern:
        t = np.arange(int(seconds * rate_hz)) / rate_hz
        part = np.zeros_like(t) if freq <= 0 else volume * np.sin(2 * np.pi * freq * t)
        fade = min(len(t) // 2, int(0.01 * rate_hz))
        if fade:
            ramp = np.linspace(0.0, 1.0, fade)
            part[:fade] *= ramp
            part[-fade:] *= ramp[::-1]
        parts.append(part)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def speech_engine() -> list[str] | None:
    """The command that speaks text into a WAV file (the file path is appended), or None."""
    for name in ("espeak-ng", "espeak"):
        if shutil.which(name):
            return [name, "-s", "150", "-w"]
    if sys.platform == "darwin" and shutil.which("say"):
        return ["say", "--data-format=LEI16@22050", "-o"]
    return None


def speak(text: str) -> np.ndarray | None:
    """Speech for ``text`` as float32 samples at :data:`RATE_HZ`, or None without a speech engine."""
    engine = speech_engine()
    if engine is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        command = engine + [str(path), text]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            return read_wav(path)
        except (OSError, subprocess.SubprocessError):
            return None


def cue_audio(kind: str, text: str = "", with_speech: bool = True) -> np.ndarray:
    """The sound for a guide event: its tone pattern, then the words when speech is available."""
    audio = tone(TONES.get(kind, TONES["turn"]))
    if with_speech and text:
        spoken = speak(text)
        if spoken is not None:
            audio = np.concatenate([audio, np.zeros(int(0.1 * RATE_HZ), np.float32), spoken])
    return audio


def write_wav(path: str | Path, audio: np.ndarray, rate_hz: int = RATE_HZ) -> Path:
    """16-bit mono WAV."""
    path = Path(path)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate_hz)
        f.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: str | Path) -> np.ndarray:
    """Mono float32 samples of a 16-bit WAV, resampled (linearly) to :data:`RATE_HZ`."""
    with wave.open(str(path), "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        raw = f.readframes(f.getnframes())
    if width != 2:
        raise ValueError(f"{path}: only 16-bit WAV is supported")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768.0
    if rate != RATE_HZ and len(data):
        t_new = np.arange(int(len(data) * RATE_HZ / rate)) / RATE_HZ
        data = np.interp(t_new, np.arange(len(data)) / rate, data).astype(np.float32)
    return data


def player() -> list[str] | None:
    """The command that plays a WAV file (path appended), or None."""
    for command in (["paplay"], ["aplay", "-q"], ["afplay"], ["pw-play"]):
        if shutil.which(command[0]):
            return command
    return None


_played: tempfile.TemporaryDirectory | None = None  # this process's sound files, removed when it ends
_players: list[subprocess.Popen] = []  # players still running


def _sound_file() -> str:
    """A new WAV file's path in this process's own temporary folder (removed at exit: a player may still be reading
    a file when :func:`play` returns, so they cannot be removed one by one)."""
    global _played
    if _played is None:
        _played = tempfile.TemporaryDirectory(prefix="imutrack-sound-")
        atexit.register(forget_sounds)
    handle, name = tempfile.mkstemp(suffix=".wav", dir=_played.name)
    os.close(handle)
    return name


def forget_sounds() -> None:
    """Let the players finish (a cue lasts a second or two) and remove the sound files played so far; done at exit."""
    global _played
    while _players:
        running = _players.pop()
        try:
            running.wait(timeout=5)
        except subprocess.TimeoutExpired:
            running.kill()
            running.wait()
    if _played is not None:
        _played.cleanup()
        _played = None


def play(audio: np.ndarray) -> bool:
    """Play without waiting; False when no player is available (the cues are then shown only)."""
    if sys.platform.startswith("win"):
        import winsound

        name = _sound_file()
        write_wav(name, audio)
        winsound.PlaySound(name, winsound.SND_FILENAME | winsound.SND_ASYNC)
        return True
    command = player()
    if command is None:
        return False
    name = _sound_file()
    write_wav(name, audio)
    _players[:] = [p for p in _players if p.poll() is None]  # reap those done
    _players.append(subprocess.Popen(command + [name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL))
    return True


def check(timeout_s: float = 5.0) -> tuple[bool, str]:
    """Whether cues can be heard here, and a sentence saying what will be heard (or why nothing will): the player
    is run once on a moment of silence, so a player with no audio device behind it is found out too."""
    if sys.platform.startswith("win"):
        import importlib.util

        return (importlib.util.find_spec("winsound") is not None,
                "sound: tones" + (" and speech" if speech_engine() else " (no speech engine: cues are not spoken)"))
    command = player()
    if command is None:
        return False, ("no sound player (paplay, aplay, afplay or pw-play) found: cues are shown, not heard")
    name = _sound_file()
    write_wav(name, np.zeros(int(0.05 * RATE_HZ), np.float32))
    try:
        run = subprocess.run(command + [name], capture_output=True, text=True, timeout=timeout_s,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"no audio output ({command[0]}: {exc}): cues are shown, not heard"
    if run.returncode != 0:
        reason = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        return False, f"no audio output ({command[0]}: {reason}): cues are shown, not heard"
    engine = speech_engine()
    if engine is None:
        return True, "sound: tones only, no speech engine (install espeak-ng to hear the cues spoken)"
    return True, f"sound: tones and speech ({engine[0]}) through {command[0]}"
