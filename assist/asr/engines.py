"""The loaded recognition engines a process shares across all its calls."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assist.asr.shed import FirstPassBudget
from assist.asr.vocab import DomainVocabulary
from assist.asr.vosk import VoskEngine
from assist.asr.whisper import WhisperEngine, WhisperWorker
from assist.config import AsrOptions, AssistError, Settings, VadOptions

__all__ = ["Engines", "load_engines", "WHISPER_DIR_NAME"]

WHISPER_DIR_NAME = "whisper-base-ct2"


@dataclass
class Engines:
    """Shared by every call: one vosk Model, one whisper worker thread, the vocabulary."""

    asr: AsrOptions
    vad: VadOptions
    vocab: DomainVocabulary
    vosk: VoskEngine | None
    whisper: WhisperWorker | None
    budget: FirstPassBudget | None = field(default=None)  # hybrid: first pass shed under load

    def __post_init__(self) -> None:
        if self.budget is None and self.vosk is not None and self.whisper is not None:
            self.budget = FirstPassBudget(self.asr, self.whisper.wait_s)

    @property
    def mode(self) -> str:
        return self.asr.mode

    def close(self) -> None:
        if self.whisper is not None:
            self.whisper.close()


def load_engines(settings: Settings, asr: AsrOptions | None = None,
                 vad: VadOptions | None = None) -> Engines:
    """Load what ``asr.mode`` needs; a missing model names the command that builds it."""
    asr = asr or settings.asr
    vad = vad or settings.vad
    vocab = DomainVocabulary.from_file(settings.kb_path / "vocabulary.txt")
    vosk = VoskEngine(sample_rate_hz=settings.audio.sample_rate_hz) if asr.mode != "whisper" else None
    whisper = None
    if asr.mode != "vosk":
        model_dir = settings.models_path / WHISPER_DIR_NAME
        _require(model_dir / "model.bin")
        engine = WhisperEngine(model_dir, asr, vocab.whisper_prompt(), vocab.hotwords())
        whisper = WhisperWorker(engine, asr.whisper_max_batch_s)
    return Engines(asr, vad, vocab, vosk, whisper)


def _require(path: Path) -> None:
    if not path.is_file():
        raise AssistError(f"Model file {path} is missing: run `make models` (assist models build).")
