"""One call's recognition: per-speaker VAD gate -> vosk partials/first pass -> whisper final.

Reads top to bottom like a pipeline: ``transcribe_stream`` feeds chunks to a
``CallRecognizer``, which routes each speaker's audio through its gate; a closed segment
yields the fast vosk final at once (revision 1) and is queued for Whisper, whose result
arrives later as revision 2 of the same segment.
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from assist.asr.engines import Engines
from assist.asr.events import (
    REVISION_FIRST_PASS,
    REVISION_PARTIAL,
    REVISION_WHISPER,
    TranscriptEvent,
    Word,
)
from assist.asr.shed import CallClock
from assist.asr.vad import GateEvent, SpeechGate
from assist.asr.whisper import WhisperJob, WhisperResult
from assist.audio import AudioChunk
from assist.text import respace

__all__ = ["CallRecognizer", "transcribe_stream"]


@dataclass(slots=True)
class _Segment:
    segment_id: str
    start_s: float
    vosk: object | None
    last_partial: str = ""
    fed_s: float = 0.0
    next_poll_s: float = 0.0


@dataclass(slots=True)
class _Channel:
    speaker: str
    gate: SpeechGate
    count: int = 0
    segment: _Segment | None = None
    utterance: list[tuple[_Segment, float]] = field(default_factory=list)  # closed, not decoded
    history: collections.deque = field(default_factory=collections.deque)  # (start_s, samples)

    def remember(self, samples: np.ndarray, start_s: float, keep_s: float = 40.0) -> None:
        """Raw audio of the last seconds, so Whisper gets an utterance with its inner pauses."""
        self.history.append((start_s, samples))
        while self.history and self.history[0][0] < start_s - keep_s:
            self.history.popleft()

    def audio_between(self, start_s: float, end_s: float) -> np.ndarray:
        parts = [s[max(0, int((start_s - t) * 16000)):max(0, int((end_s - t) * 16000))]
                 for t, s in self.history if t + len(s) / 16000 > start_s and t < end_s]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


@dataclass(slots=True)
class _Pending:
    """Whisper results that arrived on the worker thread, waiting to be emitted."""

    ready: collections.deque = field(default_factory=collections.deque)
    outstanding: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)


def transcribe_stream(call_id: str, chunks: Iterable[AudioChunk], engines: Engines,
                      finish_timeout_s: float = 120.0) -> Iterator[TranscriptEvent]:
    """Events for a whole call, in emission order; whisper finals are waited for at the end."""
    recognizer: CallRecognizer | None = None
    for chunk in chunks:
        if recognizer is None:
            recognizer = CallRecognizer(call_id, chunk.speakers, engines)
        yield from recognizer.feed(chunk)
    if recognizer is not None:
        yield from recognizer.finish(finish_timeout_s)


class CallRecognizer:
    """Feed chunks, collect events; thread-safe toward the whisper worker only."""

    def __init__(self, call_id: str, speakers: Iterable[str], engines: Engines,
                 live: bool | None = None) -> None:
        self.call_id = call_id
        self.engines = engines
        self.channels = [_Channel(s, SpeechGate(engines.vad)) for s in speakers]
        self._pending = _Pending()
        # How far behind real time, for first-pass shedding (live None: a feed that runs ahead
        # of real time is taken for a file and never shed).
        self.clock = CallClock(live)

    def feed(self, chunk: AudioChunk) -> list[TranscriptEvent]:
        events: list[TranscriptEvent] = []
        now_s = chunk.start_s + chunk.duration_s
        self.clock.tick(now_s)
        if self.engines.budget is not None:
            self.engines.budget.observe(self.clock)
        for channel, samples in zip(self.channels, chunk.samples):
            channel.remember(samples, chunk.start_s)
            for gate_event in channel.gate.push(samples, chunk.start_s):
                events += self._on_gate(channel, gate_event)
            events += self._poll_partial(channel)
            if self._utterance_done(channel, now_s):
                self._submit_whisper(channel)
        return events + self.drain()

    def finish(self, timeout_s: float = 120.0) -> list[TranscriptEvent]:
        """Close open segments and wait for whisper finals still being decoded."""
        events: list[TranscriptEvent] = []
        for channel in self.channels:
            for gate_event in channel.gate.flush():
                events += self._on_gate(channel, gate_event)
            if channel.utterance:
                self._submit_whisper(channel)
        deadline = time.monotonic() + timeout_s
        with self._pending.lock:
            while self._pending.outstanding and time.monotonic() < deadline:
                self._pending.lock.wait(timeout=0.05)
        return events + self.drain()

    def drain(self) -> list[TranscriptEvent]:
        """Whisper finals that are ready now."""
        out = []
        with self._pending.lock:
            while self._pending.ready:
                out.append(self._pending.ready.popleft())
        return out

    # -- gate events ---------------------------------------------------------------------
    def _on_gate(self, channel: _Channel, event: GateEvent) -> list[TranscriptEvent]:
        if event.kind == "start":
            channel.count += 1
            vosk = self.engines.vosk.segment() if self._first_pass(channel.speaker) else None
            if vosk is not None and self.engines.budget is not None:
                self.engines.budget.opened(vosk)
            channel.segment = _Segment(
                f"{channel.speaker}-{channel.count:04d}", event.at_s, vosk
            )
        segment = channel.segment
        if segment is None:
            return []
        if segment.vosk is not None and len(event.samples):
            segment.vosk.accept(event.samples)
        segment.fed_s += len(event.samples) / 16000
        if event.kind != "end":
            return []
        channel.segment = None
        return self._close_segment(channel, segment, event)

    def _poll_partial(self, channel: _Channel) -> list[TranscriptEvent]:
        segment = channel.segment
        if segment is None or segment.vosk is None or segment.fed_s < segment.next_poll_s:
            return []
        segment.next_poll_s = segment.fed_s + self.engines.asr.partial_interval_ms / 1000
        text = self._vosk_text(segment.vosk.partial())
        if not text or text == segment.last_partial:
            return []
        segment.last_partial = text
        return [self._event(channel.speaker, segment, REVISION_PARTIAL, False, text,
                            segment.start_s + segment.fed_s, None, "vosk")]

    def _close_segment(self, channel: _Channel, segment: _Segment, end: GateEvent) -> list[TranscriptEvent]:
        too_short = end.speech_s * 1000 < self.engines.vad.min_speech_ms
        events: list[TranscriptEvent] = []
        if segment.vosk is not None:
            if self.engines.budget is not None:
                self.engines.budget.closed(segment.vosk)
            result = segment.vosk.final()
            text = self._vosk_text(result.text)
            if text or segment.last_partial:
                words = _shift(result.words, segment.start_s)
                events.append(self._event(channel.speaker, segment, REVISION_FIRST_PASS, True, text,
                                          end.at_s, result.confidence, "vosk", words))
            too_short = too_short and not text
        if self.engines.whisper is not None and not too_short:
            channel.utterance.append((segment, end.at_s))
        return events

    def _utterance_done(self, channel: _Channel, now_s: float) -> bool:
        """Decode when the turn passed to someone else, after a long pause, or when too long.

        Whisper needs the whole utterance (cutting at every short pause cost 5 CER points), and
        the other side starting to speak is the earliest sure sign that an utterance ended.
        """
        if not channel.utterance or channel.segment is not None:
            return False
        first, last_end = channel.utterance[0][0].start_s, channel.utterance[-1][1]
        if last_end - first >= self.engines.asr.utterance_max_s:
            return True
        if (now_s - last_end) * 1000 >= self.engines.asr.utterance_silence_ms:
            return True
        return any(other.segment is not None and other.segment.start_s >= last_end - 0.2
                   for other in self.channels if other is not channel)

    def _submit_whisper(self, channel: _Channel) -> None:
        segments, channel.utterance = channel.utterance, []
        first, end_s = segments[0][0], segments[-1][1]
        audio = channel.audio_between(first.start_s, end_s + self.engines.vad.speech_pad_ms / 1000)
        replaces = tuple(seg.segment_id for seg, _ in segments)
        first_passed = any(seg.vosk is not None for seg, _ in segments)
        speaker = channel.speaker

        def done(result: WhisperResult) -> None:
            # An empty whisper final is kept: it tells consumers the first pass heard noise.
            event = self._event(speaker, first, REVISION_WHISPER, True, result.text, end_s,
                                result.confidence, "whisper", _shift(result.words, first.start_s),
                                replaces)
            with self._pending.lock:
                if result.text or first_passed:  # an empty final retracts a first pass
                    self._pending.ready.append(event)
                self._pending.outstanding -= 1
                self._pending.lock.notify_all()

        with self._pending.lock:
            self._pending.outstanding += 1
        self.engines.whisper.submit(WhisperJob(audio, done))

    # -- helpers -------------------------------------------------------------------------
    def _first_pass(self, speaker: str) -> bool:
        asr = self.engines.asr
        if self.engines.vosk is None:
            return False
        if asr.mode == "vosk":
            return True
        if speaker not in asr.first_pass_speakers:
            return False
        budget = self.engines.budget
        return budget is None or budget.admit(self.clock)

    def _vosk_text(self, raw: str) -> str:
        text = respace(raw) if self.engines.asr.respace else " ".join(raw.split())
        if self.engines.asr.vocab_bias and text:
            text = self.engines.vocab.correct(text)
        return text

    def _event(self, speaker: str, segment: _Segment, revision: int, is_final: bool, text: str,
               end_s: float, confidence: float | None, engine: str,
               words: tuple[Word, ...] = (), replaces: tuple[str, ...] = ()) -> TranscriptEvent:
        return TranscriptEvent(
            call_id=self.call_id, speaker=speaker, segment_id=segment.segment_id,
            revision=revision, is_final=is_final, text=text, start_s=round(segment.start_s, 3),
            end_s=round(end_s, 3), confidence=confidence, engine=engine,
            emitted_at=time.time(), words=words, replaces=replaces,
        )


def _shift(words: Iterable[Word], offset_s: float) -> tuple[Word, ...]:
    return tuple(
        Word(w.text, round(w.start_s + offset_s, 3), round(w.end_s + offset_s, 3), w.confidence)
        for w in words
    )
