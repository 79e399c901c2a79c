"""Many calls in one process: each in its own session, failures and timeouts kept per call.

A stage that fails on one call becomes ``Alert(kind="system")`` on that call only; calls that
go quiet past the timeout are ended and saved; a second live call with the same id is refused.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from assist.asr.events import TranscriptEvent
from assist.config import AssistError
from assist.guide.events import Alert
from assist.session.call import CallSession
from assist.session.deps import SessionDeps
from assist.session.events import CallEvent, CallSummary
from assist.session.log import CallLog

__all__ = ["SessionManager", "DuplicateCall"]

log = logging.getLogger(__name__)


class DuplicateCall(AssistError):
    """A call with this id is already live."""


@dataclass
class _Live:
    session: CallSession
    last_seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionManager:
    def __init__(self, deps: SessionDeps, call_log: CallLog | None = None) -> None:
        self.deps = deps
        self.call_log = call_log
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def start(self, call_id: str) -> CallSession:
        with self._lock:
            if call_id in self._live:
                raise DuplicateCall(f"Call {call_id} is already live; use another call id.")
            live = _Live(CallSession(call_id, self.deps))
            self._live[call_id] = live
        log.info("call %s: started", call_id)
        return live.session

    def handle(self, event: TranscriptEvent) -> list[CallEvent]:
        live = self._live.get(event.call_id)
        if live is None:
            raise AssistError(f"Call {event.call_id} is not live; start it first.")
        with live.lock:
            live.last_seen = time.monotonic()
            try:
                return live.session.handle(event)
            except Exception as exc:  # one call's failure must not reach the others
                log.exception("call %s: stage failed", event.call_id)
                alert = Alert(event.call_id, "system", "warn",
                              f"이 발화 처리 중 오류가 발생했습니다 ({type(exc).__name__}). 통화는 계속됩니다.",
                              event.end_s)
                live.session.alerts.append(alert)
                return [alert]

    def end(self, call_id: str, save: bool = True) -> CallSummary:
        with self._lock:
            live = self._live.pop(call_id, None)
        if live is None:
            raise AssistError(f"Call {call_id} is not live.")
        with live.lock:
            summary = live.session.end()
            if save and self.call_log is not None:
                self.call_log.save(summary, live.session.shown)
        log.info("call %s: ended (%s)", call_id, summary.disposition)
        return summary

    def expire(self, now: float | None = None) -> list[CallSummary]:
        """End and save calls silent for longer than the session timeout."""
        now = time.monotonic() if now is None else now
        stale = [cid for cid, live in list(self._live.items())
                 if now - live.last_seen > self.deps.guide.session_timeout_s]
        summaries = []
        for call_id in stale:
            log.warning("call %s: no events for %.0f s, ending it", call_id, self.deps.guide.session_timeout_s)
            summaries.append(self.end(call_id))
        return summaries

    def live_calls(self) -> list[str]:
        return sorted(self._live)
