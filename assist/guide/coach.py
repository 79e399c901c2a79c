"""Coaching beyond stages: complaint protocol, escalation alerts, customer types, holds, closing.

From the guides: handle a complaint in three steps in order (문제 인식과 사과 -> 공감 -> 해결
방안); escalate when negativity keeps rising, a supervisor is asked for or cancellation is
threatened; adapt to doubtful, hurried and meticulous customers; thank after a hold; and end
on a closing that restates the resolution, since the last impression is what stays.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from assist.guide.cues import AGENT, CUSTOMER, matches
from assist.guide.events import Alert

__all__ = ["Coach", "COMPLAINT_STEPS", "SentimentTrend"]

COMPLAINT_STEPS = ("complaint_apology", "complaint_empathy", "complaint_solution")
_STEP_CUE = {"complaint_apology": "apology", "complaint_empathy": "empathy",
             "complaint_solution": "resolution"}
TYPE_NAMES = {"doubtful": "의심 많은 고객", "hurried": "급한 고객", "meticulous": "꼼꼼한 고객"}
SILENCE_HOLD_S = 20.0


@dataclass
class SentimentTrend:
    """Smoothed sentiment per speaker in [-1, 1]; ``label`` says where it is heading."""

    alpha: float = 0.5
    value: float | None = None
    history: deque = field(default_factory=lambda: deque(maxlen=4))

    def update(self, sentiment: str, score: float) -> float:
        signed = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}.get(sentiment, 0.0) * score
        self.value = signed if self.value is None else self.alpha * signed + (1 - self.alpha) * self.value
        self.history.append(self.value)
        return self.value

    @property
    def label(self) -> str:
        if len(self.history) >= 3:
            delta = self.history[-1] - self.history[0]
            if delta <= -0.3:
                return "falling"
            if delta >= 0.3:
                return "rising"
        if self.value is None or abs(self.value) < 0.25:
            return "neutral"
        return "negative" if self.value < 0 else "positive"


@dataclass
class Coach:
    call_id: str
    complaint_active: bool = False
    complaint_done: set[str] = field(default_factory=set)
    raised: set[str] = field(default_factory=set)
    type_counts: Counter = field(default_factory=Counter)
    customer_type: str | None = None
    negative_run: int = 0
    last_agent_end_s: float = 0.0
    last_customer_end_s: float = 0.0

    def on_customer(self, text: str, intent: str | None, negative: bool, trend: str,
                    at_s: float) -> list[Alert]:
        self.last_customer_end_s = at_s
        self.negative_run = self.negative_run + 1 if negative else 0
        alerts: list[Alert] = []
        if not self.complaint_active and (intent == "complaint" or trend == "falling"
                                          or (negative and matches(CUSTOMER, "complaint_words", text))):
            self.complaint_active = True
            alerts.append(self._alert("complaint", "warn", "불만 응대 3단계로 진행하세요: 사과 → 공감 → 해결 방안", at_s))
        if matches(CUSTOMER, "supervisor", text):
            alerts.append(self._alert("supervisor", "critical", "고객이 상급자 연결을 요청했습니다.", at_s))
        if matches(CUSTOMER, "cancel_threat", text) and (negative or intent in ("cancel_service", "complaint", "termination_fee")):
            alerts.append(self._alert("cancel_threat", "warn", "해지 의사 표현: 해지 방어 안내를 준비하세요.", at_s))
        if self.negative_run >= 3:
            alerts.append(self._alert("negativity", "critical",
                                      "부정 감정이 계속 높아지고 있습니다. 상급자 지원을 고려하세요.", at_s))
        alerts += self._customer_type(text, at_s)
        return [a for a in alerts if a is not None]

    def on_agent(self, text: str, start_s: float, end_s: float) -> list[Alert]:
        alerts = []
        gap = start_s - max(self.last_agent_end_s, self.last_customer_end_s)
        if matches(AGENT, "hold", text) or gap > SILENCE_HOLD_S:
            alerts.append(self._alert("hold", "info", "대기 후에는 '기다려 주셔서 감사합니다'로 다시 시작하세요.",
                                      end_s, once=True))
        self.last_agent_end_s = end_s
        if self.complaint_active:
            for step in COMPLAINT_STEPS:
                if matches(AGENT, _STEP_CUE[step], text):
                    self.complaint_done.add(step)
        return [a for a in alerts if a is not None]

    def silence_alert(self, now_s: float) -> Alert | None:
        """The agent has been silent too long after the customer: suggest a hold phrase."""
        if now_s - max(self.last_agent_end_s, self.last_customer_end_s) > SILENCE_HOLD_S:
            return self._alert("hold", "info", "침묵이 20초를 넘었습니다. 대기 안내 멘트를 해 주세요.", now_s, once=True)
        return None

    def next_complaint_step(self) -> str | None:
        if not self.complaint_active:
            return None
        return next((s for s in COMPLAINT_STEPS if s not in self.complaint_done), None)

    def _customer_type(self, text: str, at_s: float) -> list[Alert]:
        for kind in TYPE_NAMES:
            if matches(CUSTOMER, kind, text):
                self.type_counts[kind] += 1
        if not self.type_counts:
            return []
        kind, count = self.type_counts.most_common(1)[0]
        if count >= 2 and kind != self.customer_type:
            self.customer_type = kind
            return [self._alert("customer_type", "info", f"{TYPE_NAMES[kind]} 응대 팁을 확인하세요.", at_s,
                                suggestion=f"type_{kind}")]
        return []

    def _alert(self, kind: str, severity: str, message: str, at_s: float, once: bool = True,
               suggestion: str = "") -> Alert | None:
        key = kind if once else f"{kind}:{at_s}"
        if key in self.raised:
            return None
        self.raised.add(key)
        return Alert(self.call_id, kind, severity, message, at_s, suggestion)
