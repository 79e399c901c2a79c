"""Session-level events: per-utterance insight and the after-call summary."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from assist.asr.events import TranscriptEvent
from assist.guide.events import Alert, ChecklistState, StageChange, Suggestions

__all__ = ["InsightEvent", "CallSummary", "CallEvent"]


@dataclass(frozen=True, slots=True)
class InsightEvent:
    call_id: str
    segment_id: str
    intent: str
    intent_score: float
    top_intents: tuple[tuple[str, float], ...]
    sentiment: str
    sentiment_score: float
    trend_value: float
    trend: str  # falling|rising|negative|neutral|positive
    model: str
    # What the call is about now: this turn's intent when confident, else the topic carried
    # from the last confident turn (a follow-up such as "그럼 언제 들어와요?" stays on it).
    topic: str | None = None

    @classmethod
    def from_result(cls, call_id: str, segment_id: str, result: Any, trend_value: float,
                    trend: str, topic: str | None = None) -> "InsightEvent":
        return cls(call_id, segment_id, result.intent, round(float(result.intent_score), 4),
                   tuple((c, round(float(s), 4)) for c, s in result.top_intents),
                   result.sentiment, round(float(result.sentiment_score), 4), round(trend_value, 4),
                   trend, getattr(result, "model", ""), topic)


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    started_at: float
    ended_at: float
    intents: tuple[str, ...]
    summary: str
    disposition: str  # <main intent>:<resolved|unresolved|escalated>
    checklist: tuple[tuple[str, bool | None], ...]
    stages: tuple[str, ...]
    alerts: tuple[str, ...]
    customer_type: str | None
    follow_ups: tuple[str, ...]
    redacted_transcript: tuple[TranscriptEvent, ...]


CallEvent = Union[TranscriptEvent, InsightEvent, Suggestions, StageChange, ChecklistState, Alert, CallSummary]
