"""What coaching emits: suggestions, stage changes, checklist state, alerts and tips."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Answer", "Suggestions", "StageChange", "ChecklistState", "Alert", "STAGES", "STAGE_NAMES"]

STAGES = ("greeting", "inquiry", "probing", "resolution", "objection", "summary", "closing", "after_call")
STAGE_NAMES = {
    "greeting": "첫인사", "inquiry": "문의 파악", "probing": "탐색 질문", "resolution": "문제 해결",
    "objection": "반론 극복", "summary": "요약 및 종결", "closing": "끝인사", "after_call": "후처리",
}


@dataclass(frozen=True, slots=True)
class Answer:
    article_id: str
    version: int
    title: str
    say: str
    why: str
    score: float


@dataclass(frozen=True, slots=True)
class Suggestions:
    call_id: str
    segment_id: str
    answers: tuple[Answer, ...]
    next_line: str
    stage: str
    timings_ms: tuple[tuple[str, float], ...]
    replaced: bool  # False when the top answer was kept (hysteresis)


@dataclass(frozen=True, slots=True)
class StageChange:
    call_id: str
    stage: str
    previous: str | None
    at_s: float


@dataclass(frozen=True, slots=True)
class ChecklistState:
    call_id: str
    items: tuple[tuple[str, bool | None], ...]  # None: not needed on this call
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    call_id: str
    kind: str  # complaint|supervisor|cancel_threat|negativity|hold|checklist|customer_type|closing|pii|system
    severity: str  # info|warn|critical
    message: str
    at_s: float
    suggestion: str = ""
