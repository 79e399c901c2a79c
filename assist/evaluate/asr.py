"""Score recognition on a user's own recordings: a manifest of audio files and reference text.

The manifest is CSV or TSV with a header holding ``audio`` and ``text``; audio paths are
relative to the manifest. CER ignores spacing and punctuation (as Korean CER is reported);
WER splits on spaces after removing punctuation. Totals are corpus-level (edits / length).
"""
from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import jiwer

from assist.asr.events import TranscriptEvent
from assist.audio import probe
from assist.config import AssistError
from assist.text import strip_for_cer, words_for_wer

__all__ = ["ManifestRow", "FileScore", "AsrReport", "read_manifest", "final_text", "score_asr"]


@dataclass(frozen=True, slots=True)
class ManifestRow:
    audio: Path
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class FileScore:
    audio: str
    reference: str
    hypothesis: str
    cer: float
    wer: float
    duration_s: float
    seconds: float


@dataclass(frozen=True, slots=True)
class AsrReport:
    engine: str
    files: tuple[FileScore, ...]
    cer: float
    wer: float
    rtf: float

    def to_dict(self) -> dict:
        return {"engine": self.engine, "files": len(self.files), "cer": round(self.cer, 4),
                "wer": round(self.wer, 4), "rtf": round(self.rtf, 4)}


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows with resolved paths; every problem is reported with its line number."""
    if not path.is_file():
        raise AssistError(f"{path}: manifest not found.")
    text = path.read_text("utf-8-sig")
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    if not reader.fieldnames or not {"audio", "text"} <= set(reader.fieldnames):
        raise AssistError(f"{path}: the header must have the columns 'audio' and 'text'.")
    rows = []
    for line, row in enumerate(reader, start=2):
        audio = (row.get("audio") or "").strip()
        if not audio:
            raise AssistError(f"{path}, line {line}: empty audio path.")
        full = (path.parent / audio).resolve()
        if not full.is_file():
            raise AssistError(f"{path}, line {line}: audio file {audio} not found.")
        rows.append(ManifestRow(full, (row.get("text") or "").strip(), line))
    if not rows:
        raise AssistError(f"{path}: the manifest lists no files.")
    return rows


def final_text(events: Iterable[TranscriptEvent]) -> str:
    """The transcript as it finally stands: the highest final revision of each segment."""
    best: dict[str, TranscriptEvent] = {}
    replaced: set[str] = set()
    for event in events:
        if event.is_final and event.revision >= best.get(event.segment_id, event).revision:
            best[event.segment_id] = event
            replaced.update(r for r in event.replaces if r != event.segment_id)
    for segment_id in replaced:
        best.pop(segment_id, None)
    ordered = sorted(best.values(), key=lambda e: (e.start_s, e.segment_id))
    return " ".join(e.text for e in ordered if e.text)


def score_asr(rows: list[ManifestRow], engine: str,
              transcribe: Callable[[Path], Iterable[TranscriptEvent]],
              progress: Callable[[FileScore], None] = lambda _: None) -> AsrReport:
    """Run ``transcribe`` over each file and score it."""
    scores = []
    for row in rows:
        duration = probe(row.audio).duration_s
        started = time.perf_counter()
        hypothesis = final_text(transcribe(row.audio))
        seconds = time.perf_counter() - started
        score = FileScore(str(row.audio.name), row.text, hypothesis,
                          _cer([row.text], [hypothesis]), _wer([row.text], [hypothesis]),
                          duration, seconds)
        scores.append(score)
        progress(score)
    refs, hyps = [s.reference for s in scores], [s.hypothesis for s in scores]
    rtf = sum(s.seconds for s in scores) / max(1e-9, sum(s.duration_s for s in scores))
    return AsrReport(engine, tuple(scores), _cer(refs, hyps), _wer(refs, hyps), rtf)


def _cer(refs: list[str], hyps: list[str]) -> float:
    pairs = [(strip_for_cer(r), strip_for_cer(h)) for r, h in zip(refs, hyps)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return 0.0
    return jiwer.cer([r for r, _ in pairs], [h for _, h in pairs])


def _wer(refs: list[str], hyps: list[str]) -> float:
    pairs = [(" ".join(words_for_wer(r)), " ".join(words_for_wer(h))) for r, h in zip(refs, hyps)]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return 0.0
    return jiwer.wer([r for r, _ in pairs], [h for _, h in pairs])
