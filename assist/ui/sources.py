"""Where a call's speech comes from: bundled demo calls, uploaded recordings, the microphone.

Demo transcripts are replayed at call pace (a grey partial halfway through each turn, then the
final), or spoken onto a stereo recording with espeak-ng (made at ``assist models build``
time, else once into the data dir) and run through recognition like an upload. Every wait
checks the call's stop flag, so ending a call stops its feeder at once.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assist.asr.events import TranscriptEvent
from assist.audio import AudioChunk, StreamResampler
from assist.config import Settings

__all__ = ["DemoCall", "demo_calls", "demo_audio", "demo_audio_ready", "render_demo", "paced_turns",
           "paced_chunks", "MicInput"]


@dataclass(frozen=True, slots=True)
class DemoCall:
    name: str
    title: str
    path: Path

    @property
    def label(self) -> str:
        number = self.name.split("_", 1)[0]
        return f"{number} · {self.title}" if number.isdigit() else self.title


def demo_calls(settings: Settings) -> list[DemoCall]:
    """The bundled demo transcripts (demo/calls/*.jsonl) with their Korean titles."""
    out = []
    for path in sorted((settings.demo_path / "calls").glob("*.jsonl")):
        title = path.stem
        expected = path.with_name(f"{path.stem}.expected.json")
        if expected.is_file():
            try:
                title = json.loads(expected.read_text("utf-8")).get("title") or title
            except ValueError:
                pass
        out.append(DemoCall(path.stem, str(title), path))
    return out


def demo_audio(settings: Settings, transcript: Path) -> Path:
    """The stereo recording of a demo transcript (customer left, agent right): the one made at
    ``assist models build`` time when its transcript is unchanged, else one spoken now with
    espeak-ng and kept in the data dir."""
    from assist.ui.warm import cached_demo_audio

    out = settings.data_path / "demo_audio" / f"{transcript.stem}.wav"
    if out.is_file() and out.stat().st_mtime >= transcript.stat().st_mtime:
        return out
    return cached_demo_audio(settings, transcript) or render_demo(transcript, out)


def demo_audio_ready(settings: Settings, transcript: Path) -> bool:
    """Whether ``demo_audio`` returns at once (no speech to generate)."""
    from assist.ui.warm import cached_demo_audio

    out = settings.data_path / "demo_audio" / f"{transcript.stem}.wav"
    return ((out.is_file() and out.stat().st_mtime >= transcript.stat().st_mtime)
            or cached_demo_audio(settings, transcript) is not None)


def render_demo(transcript: Path, out: Path) -> Path:
    """Speak ``transcript`` onto ``out`` (written whole or not at all) with its timeline."""
    import soundfile as sf

    from assist.evaluate.synth import read_turns, render_call

    out.parent.mkdir(parents=True, exist_ok=True)
    audio, placed = render_call(read_turns(transcript), speakers=("customer", "agent"))
    temp = out.with_name(f".{out.stem}.{threading.get_ident()}.tmp.wav")
    sf.write(temp, audio, 16000, subtype="PCM_16")
    temp.replace(out)
    timeline = [{"speaker": p.speaker, "text": p.text, "start_s": p.start_s, "end_s": p.end_s}
                for p in placed]
    out.with_suffix(".timeline.json").write_text(json.dumps(timeline, ensure_ascii=False, indent=1))
    return out


def _with_partials(events: Iterable[TranscriptEvent]) -> list[TranscriptEvent]:
    """Each final preceded by a partial of its first half, as a live recognizer would show."""
    out = []
    for event in events:
        words = event.text.split()
        if len(words) >= 4:
            half = (event.start_s + event.end_s) / 2
            out.append(replace(event, revision=0, is_final=False, end_s=half, engine="replay",
                               text=" ".join(words[: len(words) // 2])))
        out.append(event)
    return sorted(out, key=lambda e: (e.end_s, e.segment_id, e.revision))


def paced_turns(events: list[TranscriptEvent], speed: float,
                stop: threading.Event) -> Iterator[TranscriptEvent]:
    """Events released at their end time divided by ``speed``; returns early when stopped."""
    started = time.monotonic()
    for event in _with_partials(events):
        delay = started + event.end_s / max(speed, 0.01) - time.monotonic()
        if stop.wait(delay) if delay > 0 else stop.is_set():
            return
        yield replace(event, emitted_at=time.time())


def paced_chunks(chunks: Iterable[AudioChunk], stop: threading.Event,
                 realtime: bool = True) -> Iterator[AudioChunk]:
    """Audio chunks no faster than call time, as a live line would deliver them."""
    started = time.monotonic()
    for chunk in chunks:
        delay = started + chunk.start_s + chunk.duration_s - time.monotonic() if realtime else 0
        if stop.wait(delay) if delay > 0 else stop.is_set():
            return
        yield chunk


class MicInput:
    """Browser microphone chunks (any rate, int or float, mono or not) -> 16 kHz chunks."""

    def __init__(self, speaker: str, out_rate_hz: int = 16000) -> None:
        self.speaker = speaker
        self.out_rate_hz = out_rate_hz
        self.rate_hz: int | None = None
        self.resample: StreamResampler | None = None
        self.fed_s = 0.0

    def chunk(self, rate_hz: int, samples: np.ndarray) -> AudioChunk | None:
        data = np.asarray(samples)
        if data.size == 0:
            return None
        if np.issubdtype(data.dtype, np.integer):
            data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
        data = data.astype(np.float32).reshape(len(data), -1).mean(axis=1, keepdims=True)
        if self.resample is None or rate_hz != self.rate_hz:
            self.rate_hz = int(rate_hz)
            self.resample = StreamResampler(self.rate_hz, self.out_rate_hz, 1)
        out = self.resample(data)
        if not len(out):
            return None
        chunk = AudioChunk(self.fed_s, (self.speaker,), (np.ascontiguousarray(out[:, 0]),),
                           self.out_rate_hz)
        self.fed_s += chunk.duration_s
        return chunk
