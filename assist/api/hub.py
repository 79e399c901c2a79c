"""Live API calls on the shared session engine: who owns each call, limits, audio and text in.

Every method that touches the engines runs in a worker thread (the websocket and REST
handlers call them through ``asyncio.to_thread`` or FastAPI's thread pool). One call's
recognition or session failure becomes ``Alert(kind="system")`` on that call only.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from assist.api.auth import Principal
from assist.api.limits import NO_CALL, POLICY, TOO_MANY_CALLS, ApiRefusal
from assist.api.schemas import TranscriptIn
from assist.api.store import CallMeta, EventStore, Record
from assist.api.workers import Recognition
from assist.asr.events import TranscriptEvent
from assist.audio import AudioChunk
from assist.guide.events import Alert
from assist.session.deps import SessionDeps
from assist.session.log import CallLog
from assist.session.manager import SessionManager

__all__ = ["LiveCall", "CallHub"]

log = logging.getLogger(__name__)
ALERT_EVERY = 50  # a recognizer failing on every chunk alerts on the 1st, 51st, ... failure


@dataclass
class LiveCall:
    call_id: str
    principal: Principal
    mode: str  # telephony | pcm | transcript
    audio: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_segments: dict[str, str] = field(default_factory=dict)  # transcript-in: speaker -> id
    turns: int = 0
    failures: int = 0
    last_seen: float = field(default_factory=time.monotonic)


class CallHub:
    def __init__(self, deps: SessionDeps, recognition: Recognition, store: EventStore,
                 call_log: CallLog | None, save_calls: bool = True) -> None:
        self.deps = deps
        self.recognition = recognition
        self.store = store
        self.call_log = call_log
        self.manager = SessionManager(deps, call_log if save_calls else None)
        self._live: dict[str, LiveCall] = {}
        self._per_token: Counter[str] = Counter()
        self._lock = threading.RLock()

    # -- ownership ---------------------------------------------------------------------------
    def owned(self, call_id: str, principal: Principal) -> CallMeta:
        """The call's record if this tenant owns it; anything else is 'no such call'."""
        meta = self.store.meta(call_id)
        if meta is None or meta.tenant != principal.tenant:
            raise ApiRefusal(NO_CALL, f"no call {call_id} for this token")
        return meta

    def live(self, call_id: str, principal: Principal) -> LiveCall | None:
        call = self._live.get(call_id)
        return call if call is not None and call.principal.tenant == principal.tenant else None

    def live_calls(self) -> list[str]:
        return sorted(self._live)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, call_id: str, principal: Principal, mode: str,
             speakers: tuple[str, ...] = ()) -> LiveCall:
        """Start a call (refused: 4029 over the token's limit, 1008 id in use or not ours)."""
        with self._lock:
            if self._per_token[principal.token_id] >= principal.max_calls:
                raise ApiRefusal(TOO_MANY_CALLS, f"this token already has {principal.max_calls} "
                                 "live calls")
            if call_id in self._live:
                raise ApiRefusal(POLICY, f"call id {call_id} is not available (call is live)")
            self.store.begin(call_id, principal, mode)
            call = LiveCall(call_id, principal, mode, bool(speakers))
            self._live[call_id] = call
            self._per_token[principal.token_id] += 1
        try:
            self.manager.start(call_id)
            if speakers:
                self.recognition.open(call_id, speakers)
        except Exception:
            self._cancel_recognition(call)
            self._forget(call, "interrupted")
            raise
        log.info("call %s: opened (%s, tenant %s)", call_id, mode, principal.tenant)
        return call

    def text_call(self, call_id: str, principal: Principal) -> LiveCall:
        """The live transcript-in call, opened by its first turn."""
        with self._lock:
            call = self._live.get(call_id)
            if call is not None and call.principal.tenant == principal.tenant and not call.audio:
                return call
            if call is not None:
                raise ApiRefusal(POLICY, f"call id {call_id} is not available (call takes audio)")
            return self.open(call_id, principal, "transcript")

    def close(self, call: LiveCall, interrupted: bool = False) -> Record | None:
        """End the call: finish recognition, save the summary (unless interrupted), publish it."""
        summary, record = None, None
        with call.lock:
            if call.call_id not in self._live:
                return None
            if call.audio and interrupted:
                self._cancel_recognition(call)
            elif call.audio:  # first-pass finals of the last words at once, then Whisper's
                self._handle(call, self._recognize(call, None, flush=True))
                self._handle(call, self._recognize(call, None))
            try:
                summary = self.manager.end(call.call_id, save=not interrupted)
            except Exception:  # e.g. the call log refused the save: the call still ends
                log.exception("call %s: ending failed", call.call_id)
            if summary is not None and not interrupted:
                record = self.store.append(call.call_id, [summary])[-1]
            self._forget(call, "interrupted" if interrupted else "ended")
        log.info("call %s: %s", call.call_id, "interrupted" if interrupted else "ended")
        return record

    def _cancel_recognition(self, call: LiveCall) -> None:
        try:
            self.recognition.cancel(call.call_id)
        except Exception:
            log.exception("call %s: dropping the recognizer failed", call.call_id)

    def _forget(self, call: LiveCall, state: str) -> None:
        with self._lock:
            if self._live.pop(call.call_id, None) is not None:
                self._per_token[call.principal.token_id] -= 1
        if call.call_id in self.manager.live_calls():
            self.manager.end(call.call_id, save=False)
        self.store.end(call.call_id, state)

    def shutdown(self) -> None:
        """Server stopping: live calls are interrupted (no summary); they may be reopened."""
        for call_id in list(self._live):
            call = self._live.get(call_id)
            if call is not None:
                self.close(call, interrupted=True)

    def expire(self, idle_s: float) -> list[str]:
        """End text-only calls with no turn for ``idle_s`` (audio calls end with their socket)."""
        now = time.monotonic()
        stale = [c for c in list(self._live.values()) if not c.audio and now - c.last_seen > idle_s]
        for call in stale:
            self.close(call)
        return [c.call_id for c in stale]

    # -- input -------------------------------------------------------------------------------
    def feed(self, call: LiveCall, chunks: list[AudioChunk]) -> list[Record]:
        """Audio chunks through recognition and the session (worker thread)."""
        records: list[Record] = []
        with call.lock:
            if call.call_id not in self._live:
                return records  # ended meanwhile (client gone, server stopping)
            call.last_seen = time.monotonic()
            for chunk in chunks:
                records += self._handle(call, self._recognize(call, chunk))
        return records

    def drain(self, call: LiveCall) -> list[Record]:
        """Finals that became ready while no audio came (whisper works beside the feed)."""
        with call.lock:
            if call.call_id not in self._live:
                return []
            try:
                events = list(self.recognition.drain(call.call_id))
            except Exception:
                log.exception("call %s: collecting finals failed", call.call_id)
                return []
            return self._handle(call, events)

    def transcript(self, call: LiveCall, turn: TranscriptIn) -> list[Record]:
        """One turn from a transcribing platform; partials of a speaker share a segment id."""
        with call.lock:
            if call.call_id not in self._live:
                raise ApiRefusal(NO_CALL, f"call {call.call_id} has ended")
            call.last_seen = time.monotonic()
            segment_id = turn.segment_id or call.open_segments.get(turn.speaker)
            if segment_id is None:
                call.turns += 1
                segment_id = f"{turn.speaker}-{call.turns:04d}"
            if turn.is_final:
                call.open_segments.pop(turn.speaker, None)
            else:
                call.open_segments[turn.speaker] = segment_id
            event = TranscriptEvent(call.call_id, turn.speaker, segment_id, 1 if turn.is_final else 0,
                                    turn.is_final, turn.text, turn.start_s, turn.end_s, None,
                                    "transcript", time.time())
            return self._handle(call, [event])

    def _recognize(self, call: LiveCall, chunk: AudioChunk | None, flush: bool = False) -> list:
        try:
            if chunk is None and flush:
                return list(self.recognition.flush(call.call_id))
            if chunk is None:
                return list(self.recognition.finish(call.call_id))
            return list(self.recognition.feed(call.call_id, chunk))
        except Exception as exc:  # one call's recognizer failing must not reach the others
            call.failures += 1
            if call.failures % ALERT_EVERY != 1:
                log.debug("call %s: recognition failed again (%d)", call.call_id, call.failures)
                return []
            log.exception("call %s: recognition failed (%d times)", call.call_id, call.failures)
            at_s = chunk.start_s if chunk is not None else 0.0
            return [Alert(call.call_id, "system", "warn", f"음성 인식 중 오류가 발생했습니다 "
                          f"({type(exc).__name__}). 통화는 계속됩니다.", at_s)]

    def _handle(self, call: LiveCall, events: list) -> list[Record]:
        out: list = []
        for event in events:
            if isinstance(event, Alert):
                out.append(event)
                continue
            out += self.manager.handle(event)
        return self.store.append(call.call_id, out)
