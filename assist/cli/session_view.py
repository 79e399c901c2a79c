"""Terminal view of a call session: transcript finals with intent, cards, stage and alerts."""
from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from assist.asr.events import TranscriptEvent
from assist.guide.events import STAGE_NAMES, Alert, ChecklistState, StageChange, Suggestions
from assist.guide.flow import Checklist
from assist.session.events import CallSummary, InsightEvent
from assist.session.serialize import event_json

__all__ = ["print_events", "event_json"]

SPEAKER = {"customer": ("고객", "bold cyan"), "agent": ("상담사", "bold green")}
SEVERITY = {"info": "blue", "warn": "yellow", "critical": "bold red"}


def print_events(console: Console, events: Iterable[object]) -> None:
    for event in events:
        line = _render(event)
        if line is not None:
            console.print(line, soft_wrap=True)


def _render(event: object) -> Text | None:
    if isinstance(event, TranscriptEvent):
        if not event.is_final or not event.text:
            return None
        label, style = SPEAKER.get(event.speaker, (event.speaker, "bold"))
        return Text.assemble((f"{event.start_s:7.1f} ", "dim"), (f"{label:<4} ", style), event.text)
    if isinstance(event, InsightEvent):
        return Text(f"        의도 {event.intent} ({event.intent_score:.2f}) · 감정 {event.sentiment} · "
                    f"추세 {event.trend}", style="magenta")
    if isinstance(event, Suggestions):
        if not event.replaced:
            return Text(f"        다음 멘트: {event.next_line}", style="green") if event.next_line else None
        cards = "\n".join(f"        [{i}] {a.title} — {a.say[:60]}" for i, a in enumerate(event.answers, 1))
        return Text(f"{cards}\n        다음 멘트: {event.next_line}", style="green")
    if isinstance(event, StageChange):
        return Text(f"        ▶ 단계: {STAGE_NAMES.get(event.stage, event.stage)}", style="bold blue")
    if isinstance(event, Alert):
        return Text(f"        ⚠ {event.message}", style=SEVERITY.get(event.severity, ""))
    if isinstance(event, ChecklistState):
        done = sum(1 for _, v in event.items if v)
        return Text(f"        체크리스트 {done}/{sum(1 for _, v in event.items if v is not None)}", style="dim")
    if isinstance(event, CallSummary):
        missing = [Checklist.label(k) for k, v in event.checklist if v is False]
        return Text(f"\n통화 요약: {event.summary}\n처리 결과: {event.disposition}\n"
                    f"놓친 항목: {', '.join(missing) or '없음'}", style="bold")
    return None
