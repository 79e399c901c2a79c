"""Generated call audio for plumbing tests, demos and load benchmarks (espeak-ng Korean).

Robotic speech: good for checking that channels, segments, partials and finals flow, never
for accuracy claims. Each turn is spoken on its speaker's channel at its start time; when
speech runs longer than the transcript allows, later turns are pushed back.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from assist.config import AssistError

__all__ = ["Turn", "PlacedTurn", "speak", "render_call", "read_turns", "write_manifest"]

RATE_HZ = 16000


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str
    text: str
    start_s: float


@dataclass(frozen=True, slots=True)
class PlacedTurn:
    speaker: str
    text: str
    start_s: float
    end_s: float


def read_turns(path: Path) -> list[Turn]:
    """Turns of a demo transcript (JSONL: speaker, text, start_s, ...)."""
    turns = []
    for line_no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turns.append(Turn(row["speaker"], row["text"], float(row.get("start_s", 0.0))))
        except (ValueError, KeyError) as exc:
            raise AssistError(f"{path}, line {line_no}: not a transcript turn ({exc}).") from exc
    return turns


def speak(text: str, voice: str = "ko", speed_wpm: int = 165, pitch: int = 50) -> np.ndarray:
    """16 kHz float32 speech for ``text``; needs the espeak-ng program."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise AssistError("espeak-ng is not installed: run `make test-deps` (apt-get install espeak-ng).")
    wav = subprocess.run(
        [program, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "--stdout", text],
        check=True, capture_output=True, timeout=60,
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(audio, rate, RATE_HZ).astype(np.float32)


def render_call(turns: Iterable[Turn], speakers: tuple[str, ...] = ("customer", "agent"),
                min_gap_s: float = 0.7, tail_s: float = 1.0) -> tuple[np.ndarray, list[PlacedTurn]]:
    """(frames, channels) audio with each speaker on its own channel, plus the real timeline."""
    pitches = {speakers[0]: 40, speakers[-1]: 65}
    placed: list[tuple[PlacedTurn, np.ndarray]] = []
    cursor = 0.0
    for turn in turns:
        audio = speak(turn.text, pitch=pitches.get(turn.speaker, 50))
        audio = _trim(audio)
        start = max(turn.start_s, cursor + (min_gap_s if placed else 0.3))
        end = start + len(audio) / RATE_HZ
        placed.append((PlacedTurn(turn.speaker, turn.text, round(start, 3), round(end, 3)), audio))
        cursor = end
    total = int((cursor + tail_s) * RATE_HZ)
    out = np.zeros((total, len(speakers)), dtype=np.float32)
    for info, audio in placed:
        column = speakers.index(info.speaker)
        first = int(info.start_s * RATE_HZ)
        out[first:first + len(audio), column] += audio[: total - first]
    noise = np.random.default_rng(0).normal(0, 0.002, out.shape).astype(np.float32)
    return np.clip(out + noise, -1, 1), [info for info, _ in placed]


def _trim(audio: np.ndarray, level: float = 0.01) -> np.ndarray:
    """Cut espeak's leading/trailing silence so turn times are speech times."""
    loud = np.flatnonzero(np.abs(audio) > level)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def write_manifest(sentences: Iterable[str], out_dir: Path, rate_hz: int = 8000) -> Path:
    """Speak each sentence into ``out_dir`` (telephone-rate WAV) and write manifest.tsv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = ["audio\ttext"]
    for index, sentence in enumerate(sentences):
        audio = np.concatenate([np.zeros(RATE_HZ // 2, np.float32), _trim(speak(sentence)),
                                np.zeros(RATE_HZ // 2, np.float32)])
        name = f"synth_{index:04d}.wav"
        sf.write(out_dir / name, soxr.resample(audio, RATE_HZ, rate_hz), rate_hz, subtype="PCM_16")
        rows.append(f"{name}\t{sentence}")
    manifest = out_dir / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n", "utf-8")
    return manifest
