"""Second-pass engine: Whisper base (CTranslate2 via faster-whisper) on closed VAD segments.

Whisper's encoder always runs a full 30 s window, so decoding each 3 s segment alone wastes
most of it. Segments queued from several calls are packed into one window with short silent
gaps and split back by word timestamps: throughput grows with load instead of a backlog.
"""
from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assist.asr.events import Word
from assist.config import AsrOptions

__all__ = ["WhisperEngine", "WhisperJob", "WhisperResult", "WhisperWorker", "clean_text"]

log = logging.getLogger(__name__)
RATE_HZ = 16000
# Phrases Whisper invents on noise (learned from subtitled video), never said on a support call.
_HALLUCINATIONS = re.compile(
    r"(시청\s*해\s*주셔서|구독과\s*좋아요|구독\s*좋아요|자막\s*제공|다음\s*영상에서|"
    r"MBC\s*뉴스|KBS\s*뉴스|SBS\s*뉴스|영상\s*편집|Thank you for watching)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class WhisperResult:
    text: str
    words: tuple[Word, ...]  # times relative to the start of the job's audio
    confidence: float | None
    dropped: str | None = None  # why text was removed (hallucination, repetition, no speech)


@dataclass(slots=True)
class WhisperJob:
    audio: np.ndarray  # 16 kHz float32
    on_done: Callable[["WhisperResult"], None]
    submitted_at: float = field(default_factory=time.monotonic)


class WhisperEngine:
    """Loads the CTranslate2 model once; ``decode`` packs several segments into one pass."""

    name = "whisper"

    def __init__(self, model_dir: Path, opts: AsrOptions, prompt: str | None = None,
                 hotwords: str | None = None) -> None:
        from faster_whisper import WhisperModel

        self.opts = opts
        self.prompt = prompt
        self.hotwords = hotwords
        before = _thread_ids()
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type=opts.whisper_compute_type,
            cpu_threads=opts.whisper_threads, num_workers=1,
        )
        if opts.whisper_nice:  # CTranslate2 starts its compute threads on the first decode
            self._transcribe(np.zeros(RATE_HZ // 2, dtype=np.float32))
            lower_priority(_thread_ids() - before, opts.whisper_nice)

    def decode(self, audios: Sequence[np.ndarray]) -> list[WhisperResult]:
        """Transcribe each audio; packed into as few windows as possible."""
        gap = np.zeros(int(self.opts.whisper_gap_s * RATE_HZ), dtype=np.float32)
        pieces, spans, t = [], [], 0.0
        for audio in audios:
            pieces += [audio.astype(np.float32, copy=False), gap]
            spans.append((t, t + len(audio) / RATE_HZ))
            t += (len(audio) + len(gap)) / RATE_HZ
        if not audios:
            return []
        words = self._transcribe(np.concatenate(pieces))
        return [_result_for(words, start, end, self.opts.whisper_gap_s) for start, end in spans]

    def _transcribe(self, audio: np.ndarray) -> list[Word]:
        import ctranslate2

        ctranslate2.set_random_seed(0)  # temperature fallback samples: keep results repeatable
        segments, _info = self.model.transcribe(
            audio,
            language=self.opts.language,
            beam_size=self.opts.whisper_beam_size,
            temperature=(0.0, 0.4),  # one fallback on loops/low confidence
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
            initial_prompt=self.prompt if self.opts.whisper_prompt else None,
            hotwords=self.hotwords if self.opts.whisper_prompt else None,
            no_speech_threshold=self.opts.no_speech_threshold,
            log_prob_threshold=self.opts.log_prob_threshold,
            compression_ratio_threshold=2.2,
            max_new_tokens=min(400, int(12 * len(audio) / RATE_HZ) + 16),
        )
        words: list[Word] = []
        for seg in segments:
            if _HALLUCINATIONS.search(seg.text):
                log.debug("dropped hallucinated segment %r", seg.text)
                continue
            words += [Word(w.word.strip(), w.start, w.end, w.probability) for w in seg.words or ()]
        return [w for w in words if w.text]


def _thread_ids() -> set[int]:
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except OSError:  # not Linux: priorities stay as they are
        return set()


def lower_priority(thread_ids: set[int], nice: int) -> None:
    """Raise the niceness of these threads of this process by ``nice`` (allowed unprivileged)."""
    for tid in thread_ids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except (OSError, AttributeError):  # gone already, or no per-thread priorities here
            pass


def _result_for(words: list[Word], start: float, end: float, gap_s: float) -> WhisperResult:
    """Words whose middle falls in this piece (gaps split halfway), re-timed to its start."""
    lo, hi = start - gap_s / 2, end + gap_s / 2
    mine = [w for w in words if lo <= (w.start_s + w.end_s) / 2 < hi]
    shifted = tuple(
        Word(w.text, max(0.0, w.start_s - start), max(0.0, w.end_s - start), w.confidence)
        for w in mine
    )
    text, dropped = clean_text(" ".join(w.text for w in shifted))
    probs = [w.confidence for w in shifted if w.confidence is not None]
    return WhisperResult(
        text, shifted if text else (), float(np.mean(probs)) if probs else None, dropped
    )


def clean_text(text: str) -> tuple[str, str | None]:
    """Collapse Whisper's repetition loops (a phrase said 3+ times in a row is kept once)."""
    tokens, changed = text.split(), False
    for size in range(1, 9):
        out: list[str] = []
        i = 0
        while i < len(tokens):
            gram = tokens[i:i + size]
            repeats = 1
            while len(gram) == size and tokens[i + repeats * size:i + (repeats + 1) * size] == gram:
                repeats += 1
            if repeats >= 3:
                out += gram
                i += size * repeats
                changed = True
            else:
                out.append(tokens[i])
                i += 1
        tokens = out
    return " ".join(tokens), ("repetition" if changed else None)


class WhisperWorker:
    """One decoding thread shared by all calls; queued segments are packed per decode."""

    def __init__(self, engine: WhisperEngine, max_batch_s: float) -> None:
        self.engine = engine
        self.max_batch_s = max_batch_s
        self._queue: queue.Queue[WhisperJob | None] = queue.Queue()
        self.decodes = 0
        self.max_queue = 0
        self._decoding_since: float | None = None  # oldest submit time in the running decode
        self._thread = threading.Thread(target=self._run, name="whisper", daemon=True)
        self._thread.start()

    def submit(self, job: WhisperJob) -> None:
        self._queue.put(job)
        self.max_queue = max(self.max_queue, self._queue.qsize())

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def wait_s(self) -> float:
        """How long the oldest job not yet decoded (queued or in the running decode) has waited."""
        oldest = self._decoding_since
        with self._queue.mutex:
            head = next((j for j in self._queue.queue if j is not None), None)
        if head is not None and (oldest is None or head.submitted_at < oldest):
            oldest = head.submitted_at
        return 0.0 if oldest is None else max(0.0, time.monotonic() - oldest)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        if self.engine.opts.whisper_nice:  # this thread prepares features and splits results
            lower_priority({threading.get_native_id()}, self.engine.opts.whisper_nice)
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch, total_s = [job], len(job.audio) / RATE_HZ
            while total_s < self.max_batch_s:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
                total_s += len(nxt.audio) / RATE_HZ
            self._decode(batch)

    def _decode(self, batch: list[WhisperJob]) -> None:
        self._decoding_since = min(j.submitted_at for j in batch)
        try:
            results = self.engine.decode([j.audio for j in batch])
        except Exception as exc:  # one bad decode must not stop recognition for every call
            log.exception("whisper decode failed")
            results = [WhisperResult("", (), None, dropped=f"error: {exc}")] * len(batch)
        finally:
            self._decoding_since = None
        self.decodes += 1
        for job, result in zip(batch, results):
            job.on_done(result)
