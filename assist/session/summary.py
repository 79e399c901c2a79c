"""After-call work: what the customer wanted, what was done, what was promised, disposition."""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from assist.guide.lines import TOPIC_NAMES
from assist.session.events import CallSummary

if TYPE_CHECKING:
    from assist.session.call import CallSession

__all__ = ["build_summary", "follow_ups"]

_PROMISE = re.compile(r"(드리겠습니다|드릴게요|드릴\s*예정|예정입니다|하겠습니다)")
_WHEN = re.compile(r"(오늘|내일|모레|이번\s*주|다음\s*주|다음\s*달|\d+\s*(시|일|분|영업일|월)|"
                   r"[일이삼사오육칠팔구십]+\s*(시|일)|이내|까지|문자로|전화드)")
_NOT_INTENTS = {"none", "unsure", "out_of_scope"}


def follow_ups(agent_texts: list[str]) -> tuple[str, ...]:
    """Agent sentences that promise something with a time: what must happen after the call."""
    found = []
    for text in agent_texts:
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            if _PROMISE.search(sentence) and _WHEN.search(sentence) and sentence not in found:
                found.append(sentence.strip())
    return tuple(found[-4:])


def build_summary(session: "CallSession") -> CallSummary:
    counts = Counter(i.intent for i in session.insights if i.intent not in _NOT_INTENTS)
    ordered = tuple(dict.fromkeys(i.intent for i in session.insights if i.intent not in _NOT_INTENTS))
    if not ordered:
        ordered = tuple(dict.fromkeys(i.intent for i in session.insights if i.intent == "out_of_scope"))
    main = counts.most_common(1)[0][0] if counts else (ordered[0] if ordered else "none")
    finals = sorted((e for e in session.transcript.values() if e.is_final and e.text),
                    key=lambda e: (e.start_s, e.segment_id))
    agent_texts = [e.text for e in finals if e.speaker == "agent"]
    promises = follow_ups(agent_texts)
    kinds = {a.kind for a in session.alerts}
    outcome = _outcome(session, kinds)
    topics = ", ".join(TOPIC_NAMES.get(i, i) for i in ordered) or "확인되지 않음"
    titles = list(dict.fromkeys(a.title for s in session.shown for a in s.answers[:1]))[:3]
    parts = [f"고객 문의: {topics}.", f"안내한 내용: {', '.join(titles) or '없음'}."]
    parts.append(f"후속 조치: {' / '.join(session.deps.redact(p) for p in promises)}" if promises
                 else "후속 조치: 없음.")
    redacted = tuple(replace(e, text=session.deps.redact(e.text), words=()) for e in finals)
    return CallSummary(
        call_id=session.call_id, started_at=session.started_at, ended_at=time.time(),
        intents=ordered, summary=" ".join(parts), disposition=f"{main}:{outcome}",
        checklist=session.checklist.state().items, stages=tuple(session.stages.reached),
        alerts=tuple(sorted(kinds)), customer_type=session.coach.customer_type,
        follow_ups=tuple(session.deps.redact(p) for p in promises), redacted_transcript=redacted,
    )


def _outcome(session: "CallSession", kinds: set[str]) -> str:
    if "supervisor" in kinds or any(i.intent == "agent_request" for i in session.insights[-3:]):
        return "escalated"
    finished = any(s in session.stages.reached for s in ("summary", "closing"))
    trend = session.trends["customer"].label
    return "resolved" if finished and trend not in ("negative", "falling") else "unresolved"
