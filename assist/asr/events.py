"""What recognition emits: partials that later events replace, then finals with word times."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Word", "TranscriptEvent", "REVISION_PARTIAL", "REVISION_FIRST_PASS", "REVISION_WHISPER"]

REVISION_PARTIAL = 0
REVISION_FIRST_PASS = 1
REVISION_WHISPER = 2


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_s: float
    end_s: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    """One update of one speech segment; a higher revision of the same segment replaces it.

    Partials have ``is_final=False`` and revision 0; the vosk first pass is revision 1 and the
    whisper final revision 2 (``engine`` says which). Times are seconds from call start.
    Whisper decodes whole utterances, which may span several first-pass segments: its event
    lists them in ``replaces`` (its own ``segment_id`` is the first of them).
    """

    call_id: str
    speaker: str
    segment_id: str
    revision: int
    is_final: bool
    text: str
    start_s: float
    end_s: float
    confidence: float | None
    engine: str
    emitted_at: float
    words: tuple[Word, ...] = ()
    replaces: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = {name: getattr(self, name) for name in self.__slots__ if name != "words"}
        data["replaces"] = list(self.replaces)
        data["words"] = [
            {"text": w.text, "start_s": w.start_s, "end_s": w.end_s, "confidence": w.confidence}
            for w in self.words
        ]
        return data
