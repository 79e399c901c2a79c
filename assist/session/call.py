"""One call: transcript events in, insights, suggestions, stages, checklist and alerts out.

``CallSession.handle`` reads top to bottom: drop stale or duplicate events -> classify the
customer's final (one encoder pass for intent and sentiment) -> update trend, stage,
checklist and coaching -> search the KB with the last few customer utterances -> keep or
replace the suggestion cards (hysteresis, so the agent is not shown flicker).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from assist.asr.events import TranscriptEvent
from assist.guide.coach import Coach, SentimentTrend
from assist.guide.events import Alert, Answer, Suggestions
from assist.guide.flow import Checklist, StageTracker
from assist.guide.lines import next_line
from assist.session.deps import SessionDeps
from assist.session.events import CallEvent, CallSummary, InsightEvent

__all__ = ["CallSession"]

log = logging.getLogger(__name__)
# Intents that say nothing about which article the agent needs.
NOT_A_TOPIC = frozenset({None, "none", "unsure", "out_of_scope"})
MAX_TEXT_CHARS = 2000  # longer utterances are cut for NLU/search (a stuck recognizer, a paste)


@dataclass
class CallSession:
    call_id: str
    deps: SessionDeps
    started_at: float = field(default_factory=time.time)
    transcript: dict[str, TranscriptEvent] = field(default_factory=dict)
    insights: list[InsightEvent] = field(default_factory=list)
    shown: list[Suggestions] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    last_event_s: float = 0.0
    ended: bool = False

    def __post_init__(self) -> None:
        self.stages = StageTracker(self.call_id)
        self.checklist = Checklist(self.call_id)
        self.coach = Coach(self.call_id)
        self.trends = {"customer": SentimentTrend(), "agent": SentimentTrend()}
        self.window: deque[str] = deque(maxlen=self.deps.retrieve.query_window)
        self.current: Suggestions | None = None
        self._current_intent: str | None = None
        self.topic: str | None = None  # last confident request intent of the customer

    def handle(self, event: TranscriptEvent) -> list[CallEvent]:
        """Everything this event changes, in the order a UI should apply it."""
        if self.ended or event.call_id != self.call_id:
            log.warning("call %s: event for %s or after end dropped", self.call_id, event.call_id)
            return []
        if not self._is_new(event):
            return []
        previous = self.transcript.get(event.segment_id)
        self.transcript[event.segment_id] = event
        for replaced in event.replaces:
            if replaced != event.segment_id:
                self.transcript.pop(replaced, None)
        self.last_event_s = max(self.last_event_s, event.end_s)
        out: list[CallEvent] = [event]
        if not event.is_final:
            return out
        text = " ".join(event.text.split())[:MAX_TEXT_CHARS]
        if previous is not None and previous.is_final and " ".join(previous.text.split()) == text:
            return out  # a revision with the same words changes nothing downstream
        if not text:
            return out
        timings = [("asr_final", max(0.0, (time.time() - event.emitted_at) * 1000))]
        if event.speaker == "customer":
            out += self._customer_final(event, text, timings)
        else:
            out += self._agent_final(event, text)
        return out

    def end(self) -> CallSummary:
        """Close the call; later events are dropped. The summary is editable before saving."""
        from assist.session.summary import build_summary

        self.ended = True
        return build_summary(self)

    def tick(self, now_s: float) -> list[CallEvent]:
        """Time passing without speech (long agent silence suggests a hold phrase)."""
        alert = self.coach.silence_alert(now_s)
        return self._keep_alerts([alert] if alert else [])

    # -- speakers ------------------------------------------------------------------------
    def _customer_final(self, event: TranscriptEvent, text: str, timings: list) -> list[CallEvent]:
        started = time.perf_counter()
        insight = self.deps.classify(text)
        timings.append(("nlu", (time.perf_counter() - started) * 1000))
        trend = self.trends["customer"]
        trend.update(insight.sentiment, insight.sentiment_score)
        # A weak guess must not open a new topic card or demand an identity check.
        topic = insight.intent if insight.intent_score >= self.deps.guide.topic_min_score else None
        if topic not in NOT_A_TOPIC:
            self.topic = topic
        info = InsightEvent.from_result(self.call_id, event.segment_id, insight, trend.value or 0.0,
                                        trend.label, self.topic)
        self.insights.append(info)
        negative = insight.sentiment == "negative"
        out: list[CallEvent] = [info]
        out += self._flow(event, text, insight.intent, negative, topic)
        out += self._keep_alerts(self.coach.on_customer(text, insight.intent, negative, trend.label,
                                                        event.end_s))
        if insight.intent not in ("none", "unsure"):
            self.window.append(text)
        suggestion = self._suggest(event, topic, timings)
        return out + ([suggestion] if suggestion else [])

    def _agent_final(self, event: TranscriptEvent, text: str) -> list[CallEvent]:
        out: list[CallEvent] = self._flow(event, text, None, False)
        out += self._keep_alerts(self.coach.on_agent(text, event.start_s, event.end_s))
        line = self._line()
        if self.current is not None and line != self.current.next_line:
            self.current = _with_line(self.current, line, self.stages.stage or "greeting")
            out.append(self.current)
        return out

    def _flow(self, event: TranscriptEvent, text: str, intent: str | None, negative: bool,
              topic: str | None = None) -> list[CallEvent]:
        out: list[CallEvent] = []
        change = self.stages.update(event.speaker, text, intent, negative, event.end_s)
        if change is not None:
            out.append(change)
            if change.stage in ("summary", "closing"):
                out += self._keep_alerts(self._checklist_reminders(event.end_s))
        if self.checklist.update(event.speaker, text, topic):
            out.append(self.checklist.state())
        return out

    def _checklist_reminders(self, at_s: float) -> list[Alert]:
        missing = [i for i in self.checklist.state().missing if i not in ("closing_greeting", "anything_else")]
        if not missing:
            return []
        names = ", ".join(Checklist.label(i) for i in missing)
        return [self.coach._alert("checklist", "warn", f"통화 마무리 전에 확인하세요: {names}", at_s)]

    # -- suggestions ---------------------------------------------------------------------
    def _suggest(self, event: TranscriptEvent, topic: str | None, timings: list) -> Suggestions | None:
        if not self.window:
            return None
        started = time.perf_counter()
        hits = self.deps.search(list(self.window), topic if topic not in NOT_A_TOPIC else None)
        timings.append(("retrieval", (time.perf_counter() - started) * 1000))
        candidates = tuple(Answer(h.article_id, h.version, h.title, h.say, h.why, round(h.score, 4))
                           for h in hits)
        answers = candidates[: self.deps.retrieve.top_k]
        if not answers:
            return None
        replace = self._should_replace(candidates, topic)
        if not replace and self.current is not None:
            answers = self.current.answers
        line = self._line()
        if self.current is not None and answers == self.current.answers and line == self.current.next_line:
            return None  # nothing new for the agent: no duplicate card
        timings.append(("emitted", sum(ms for _, ms in timings)))
        self.current = Suggestions(self.call_id, event.segment_id, answers, line,
                                   self.stages.stage or "greeting", tuple(timings), replace)
        if replace and topic not in NOT_A_TOPIC:
            self._current_intent = topic
        self.shown.append(self.current)
        return self.current

    def _should_replace(self, candidates: tuple[Answer, ...], topic: str | None) -> bool:
        """A new top card only when the topic confidently changed or it is clearly better than
        the current card scored against the same words (hysteresis)."""
        if self.current is None:
            return True
        old_top = self.current.answers[0]
        if candidates[0].article_id == old_top.article_id:
            return False
        if topic is not None and topic not in NOT_A_TOPIC and topic != self._current_intent:
            return True
        old_score = next((a.score for a in candidates if a.article_id == old_top.article_id), 0.0)
        return candidates[0].score > old_score * (1 + self.deps.guide.hysteresis)

    def _line(self) -> str:
        topic = self._current_intent if self._current_intent not in (None, "none", "unsure") else None
        return next_line(self.deps.scripts, self.deps.guide, self.call_id, self.stages.stage,
                         self.coach.next_complaint_step(), self.checklist, topic)

    def _keep_alerts(self, alerts: list[Alert | None]) -> list[CallEvent]:
        kept = [a for a in alerts if a is not None]
        self.alerts += kept
        return list(kept)

    def _is_new(self, event: TranscriptEvent) -> bool:
        seen = self.transcript.get(event.segment_id)
        if seen is None:
            return True
        if event.revision < seen.revision or (event.revision == seen.revision and event.is_final == seen.is_final
                                               and event.text == seen.text):
            log.debug("call %s: stale or duplicate %s rev %s", self.call_id, event.segment_id, event.revision)
            return False
        return not (seen.is_final and not event.is_final)


def _with_line(current: Suggestions, line: str, stage: str) -> Suggestions:
    return Suggestions(current.call_id, current.segment_id, current.answers, line, stage,
                       current.timings_ms, False)
