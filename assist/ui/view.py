"""What one call shows: the session's events folded into panel parts, each with a version.

The browser polls; a part whose version it has already drawn is skipped, so an unchanged card
is never redrawn (cards change only when the engine emits a replaced ``Suggestions``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from assist.asr.events import TranscriptEvent
from assist.guide.events import Alert, Answer, ChecklistState, StageChange, Suggestions
from assist.session.events import CallSummary, InsightEvent

__all__ = ["CallView", "PARTS"]

PARTS = ("status", "alerts", "transcript", "insight", "cards", "line", "flow", "summary")
MAX_ALERTS = 20
MAX_TREND_POINTS = 40


@dataclass
class CallView:
    call_id: str
    source: str
    started_at: float = field(default_factory=time.time)
    status: str = "live"  # live | ended | saved
    transcript: dict[str, TranscriptEvent] = field(default_factory=dict)
    insight: InsightEvent | None = None
    trend_values: list[float] = field(default_factory=list)
    cards: tuple[Answer, ...] = ()
    next_line: str = ""
    stage: str | None = None
    reached: list[str] = field(default_factory=list)
    checklist: tuple[tuple[str, bool | None], ...] = ()
    alerts: list[Alert] = field(default_factory=list)
    summary: CallSummary | None = None
    notice: str = ""
    call_s: float = 0.0
    versions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 1))

    def touch(self, *parts: str) -> None:
        for part in parts:
            self.versions[part] += 1

    def apply(self, event: object) -> None:
        """Fold one session event into the panel."""
        if isinstance(event, TranscriptEvent):
            self._transcript(event)
        elif isinstance(event, InsightEvent):
            self.insight = event
            self.trend_values = (self.trend_values + [event.trend_value])[-MAX_TREND_POINTS:]
            self.touch("insight")
        elif isinstance(event, Suggestions):
            self._suggestions(event)
        elif isinstance(event, StageChange):
            self.stage = event.stage
            if event.stage not in self.reached:
                self.reached.append(event.stage)
            self.touch("flow")
        elif isinstance(event, ChecklistState):
            self.checklist = event.items
            self.touch("flow")
        elif isinstance(event, Alert):
            self.alerts = (self.alerts + [event])[-MAX_ALERTS:]
            self.touch("alerts")
        elif isinstance(event, CallSummary):
            self.end(event)

    def _transcript(self, event: TranscriptEvent) -> None:
        for replaced in event.replaces:
            if replaced != event.segment_id:
                self.transcript.pop(replaced, None)
        self.transcript[event.segment_id] = event
        self.call_s = max(self.call_s, event.end_s)
        self.touch("transcript", "status")

    def _suggestions(self, event: Suggestions) -> None:
        if (event.replaced or not self.cards) and event.answers != self.cards:
            self.cards = event.answers
            self.touch("cards")
        if event.next_line != self.next_line:
            self.next_line = event.next_line
            self.touch("line")

    def end(self, summary: CallSummary) -> None:
        self.summary = summary
        self.status = "ended"
        self.touch("status", "summary")

    def note(self, message: str) -> None:
        """A Korean sentence about the call itself (recording cut short, recognizer missing)."""
        self.notice = message
        self.touch("status")

    def ordered_transcript(self) -> list[TranscriptEvent]:
        return sorted(self.transcript.values(), key=lambda e: (e.start_s, e.segment_id))
