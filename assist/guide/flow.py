"""Call stage tracking and the agent checklist, inferred from what both speakers say.

Stages follow the inbound flow of the guides: 첫인사 -> 문의 파악 -> 탐색 질문 -> 문제 해결 ->
반론 극복 -> 요약 및 종결 -> 끝인사. They never go back, except that an objection returns to
resolution once the agent answers it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from assist.guide.cues import AGENT, CUSTOMER, matches
from assist.guide.events import STAGES, ChecklistState, StageChange

__all__ = ["StageTracker", "Checklist", "CHECKLIST_ITEMS", "IDENTITY_INTENTS"]

CHECKLIST_ITEMS = ("greet_team_name", "identity_check", "restate_problem", "offer_options",
                   "summarize", "anything_else", "closing_greeting")
CHECKLIST_NAMES = {
    "greet_team_name": "첫인사에서 소속 팀과 이름 밝히기", "identity_check": "본인 확인",
    "restate_problem": "고객 문의 내용 다시 확인하기", "offer_options": "해결 방법 제시하기",
    "summarize": "처리 내용 요약하기", "anything_else": "추가 문의 여쭙기",
    "closing_greeting": "끝인사",
}
# Requests that touch a customer's account need identity verification first.
IDENTITY_INTENTS = frozenset({
    "billing_inquiry", "plan_change", "payment_method", "overdue_payment", "refund",
    "termination_fee", "cancel_service", "lost_device", "usim", "roaming", "addon_service",
    "micropayment", "account_access", "info_change", "relocation", "membership",
    "device_installment", "complaint",
})
_ORDER = {name: i for i, name in enumerate(STAGES)}


@dataclass
class StageTracker:
    call_id: str
    stage: str | None = None
    reached: list[str] = field(default_factory=list)

    def update(self, speaker: str, text: str, intent: str | None, negative: bool,
               at_s: float) -> StageChange | None:
        target = self._target(speaker, text, intent, negative)
        if target is None or target == self.stage:
            return None
        # Back only for a reason: an answered objection, or a first question on a new point.
        backward_ok = ((self.stage == "objection" and target == "resolution")
                       or (target == "probing" and target not in self.reached
                           and self.stage in ("resolution", "objection")))
        if self.stage is not None and _ORDER[target] < _ORDER[self.stage] and not backward_ok:
            return None
        previous, self.stage = self.stage, target
        if target not in self.reached:
            self.reached.append(target)
        return StageChange(self.call_id, target, previous, at_s)

    def _target(self, speaker: str, text: str, intent: str | None, negative: bool) -> str | None:
        current = _ORDER.get(self.stage, -1)
        if speaker == "agent":
            if current < _ORDER["inquiry"] and matches(AGENT, "greeting", text):
                return "greeting"
            if current >= _ORDER["probing"] and matches(AGENT, "summary", text):
                return "summary"
            if current >= _ORDER["probing"] and (matches(AGENT, "anything_else", text)
                                                 or matches(AGENT, "closing", text)):
                return "closing"
            if current >= _ORDER["summary"] and "감사합니다" in text:
                return "closing"
            asks = matches(AGENT, "question", _last_sentence(text)) or matches(AGENT, "identity", text)
            if _ORDER["inquiry"] <= current < _ORDER["summary"] and asks and "probing" not in self.reached:
                return "probing"
            if _ORDER["inquiry"] <= current < _ORDER["resolution"] and asks:
                return "probing"
            if current >= _ORDER["inquiry"] and matches(AGENT, "resolution", text):
                return "resolution"
            return None
        if current <= _ORDER["greeting"] and intent not in (None, "none"):
            return "inquiry"
        if self.stage == "resolution" and (negative or matches(CUSTOMER, "doubtful", text)
                                           or matches(CUSTOMER, "cancel_threat", text)):
            return "objection"
        return None


@dataclass
class Checklist:
    """Ticked from what the agent actually said; identity is needed only for account work."""

    call_id: str
    done: dict[str, bool] = field(default_factory=lambda: {k: False for k in CHECKLIST_ITEMS})
    identity_needed: bool = False
    agent_turns: int = 0

    def update(self, speaker: str, text: str, intent: str | None) -> bool:
        """Returns True when an item changed."""
        before = dict(self.done), self.identity_needed
        if speaker == "customer":
            self.identity_needed |= intent in IDENTITY_INTENTS
            return (dict(self.done), self.identity_needed) != before
        self.agent_turns += 1
        ticks = {
            "greet_team_name": self.agent_turns <= 2 and matches(AGENT, "team_name", text),
            "identity_check": matches(AGENT, "identity", text),
            "restate_problem": matches(AGENT, "restate", text),
            "offer_options": matches(AGENT, "options", text),
            "summarize": matches(AGENT, "summary", text),
            "anything_else": matches(AGENT, "anything_else", text),
            "closing_greeting": matches(AGENT, "closing", text) or (
                self.done["anything_else"] and "감사합니다" in text),
        }
        for item, hit in ticks.items():
            self.done[item] = self.done[item] or hit
        return (dict(self.done), self.identity_needed) != before

    def state(self) -> ChecklistState:
        items = tuple(
            (k, None if k == "identity_check" and not self.identity_needed and not v else v)
            for k, v in self.done.items())
        return ChecklistState(self.call_id, items, tuple(k for k, v in items if v is False))

    @staticmethod
    def label(item: str) -> str:
        return CHECKLIST_NAMES[item]


def _last_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p]
    return parts[-1] if parts else text
