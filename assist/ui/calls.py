"""Live calls of the app: one per browser login at a time, each fed by its own thread.

A call belongs to the login token that started it; a page reload with the same token (kept in
the browser) finds it again, a different login never does. Feeders run in background threads
so a closed tab or lost connection does not stop the call; a call silent for ``ui.idle_call_s``
is ended and its summary saved, so nothing is lost when a browser never comes back.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from assist.asr.events import TranscriptEvent
from assist.config import AssistError, UiOptions
from assist.guide.events import Alert
from assist.session.call import CallSession
from assist.session.log import FEEDBACK_KINDS
from assist.session.manager import SessionManager
from assist.ui.deps import AppDeps
from assist.ui.sources import MicInput, paced_chunks
from assist.ui.view import CallView

__all__ = ["LiveCall", "CallHub"]

log = logging.getLogger(__name__)
AUTOSAVE_AFTER_S = 1800.0


class LiveCall:
    """One call: its session, what the panel shows, and what feeds it."""

    def __init__(self, call_id: str, token: str, owner: str, source: str,
                 session: CallSession) -> None:
        self.call_id, self.token, self.owner = call_id, token, owner
        self.session = session
        self.view = CallView(call_id, source)
        self.lock = threading.RLock()  # view and session
        self.audio_lock = threading.Lock()  # the recognizer
        self.stop = threading.Event()
        self.ending = False
        self.thread: threading.Thread | None = None
        self.recognizer = None
        self.mic: MicInput | None = None
        self.last_activity = time.monotonic()
        self.ended_at: float | None = None
        self.saved = False
        self.orphaned = False  # its login left: save the summary as soon as the call ends

    @property
    def live(self) -> bool:
        return self.view.status == "live"


class CallHub:
    def __init__(self, deps: AppDeps, opts: UiOptions) -> None:
        self.deps = deps
        self.opts = opts
        self.manager = SessionManager(deps.session, None)
        self._calls: dict[str, LiveCall] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._reaper, name="ui-call-reaper", daemon=True).start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, token: str, owner: str, source: str) -> LiveCall:
        """A new call for this login; an unsaved previous call is ended and its summary saved."""
        previous = self.latest(token)
        if previous is not None:  # ended now; its summary is saved as soon as it is ready
            previous.orphaned = True
            self.end(previous)
            self.autosave(previous)
        call_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{owner[:12]}-{secrets.token_hex(3)}"
        call = LiveCall(call_id, token, owner, source, self.manager.start(call_id))
        with self._lock:
            self._calls[call_id] = call
        log.info("call %s: started by %s from %s", call_id, owner, source)
        return call

    def get(self, token: str, call_id: str) -> LiveCall | None:
        """The call if this login owns it (another login gets None, never someone's call)."""
        call = self._calls.get(call_id or "")
        return call if call is not None and call.token == token else None

    def latest(self, token: str) -> LiveCall | None:
        mine = [c for c in list(self._calls.values()) if c.token == token and not c.saved]
        return max(mine, key=lambda c: c.view.started_at) if mine else None

    def run(self, call: LiveCall, feed: Callable[[LiveCall], None]) -> None:
        """Run ``feed(call)`` in a thread; whatever happens, the call ends with a summary."""
        def body() -> None:
            try:
                feed(call)
            except AssistError as exc:
                self._fail(call, f"통화 입력을 끝까지 읽지 못했습니다: {exc}")
            except Exception as exc:  # a feeder bug must end this call only
                log.exception("call %s: feeder failed", call.call_id)
                self._fail(call, f"통화 처리 중 오류가 발생했습니다 ({type(exc).__name__}).")
            finally:
                self.finish(call)

        call.thread = threading.Thread(target=body, name=f"call-{call.call_id}", daemon=True)
        call.thread.start()

    def _fail(self, call: LiveCall, message: str) -> None:
        with call.lock:
            call.view.note(message + " 여기까지의 내용은 그대로 남아 있습니다.")
            call.view.apply(Alert(call.call_id, "system", "warn", message, call.view.call_s))

    def feed(self, call: LiveCall, events: Iterable[TranscriptEvent]) -> None:
        """Transcript events through the call's session into its panel."""
        for event in events:
            with call.lock:
                if not call.live:
                    return
                for out in self.manager.handle(event):
                    call.view.apply(out)
                call.last_activity = time.monotonic()

    def end(self, call: LiveCall) -> None:
        """The agent ended the call: a feeder thread finishes it, else it is finished here."""
        call.stop.set()
        if call.thread is None or not call.thread.is_alive():
            self.finish(call)

    def finish(self, call: LiveCall, notice: str = "") -> None:
        """Stop the feeder, flush recognition, end the session; runs once per call."""
        call.stop.set()
        with call.lock:
            if call.ending:
                return
            call.ending = True
        with call.audio_lock:
            if call.recognizer is not None:
                self.feed(call, call.recognizer.finish(timeout_s=30.0))
        with call.lock:
            call.view.end(self.manager.end(call.call_id, save=False))
            if notice:
                call.view.note(notice)
            call.ended_at = time.monotonic()

    # -- audio -----------------------------------------------------------------------------
    def play_audio(self, call: LiveCall, path: Path, speakers: tuple[str, ...],
                   realtime: bool = True) -> None:
        """A recording through recognition at call pace (run inside ``run``)."""
        from assist.asr import CallRecognizer
        from assist.audio import stream_file

        recognizer = CallRecognizer(call.call_id, speakers, self.deps.engines())
        with call.audio_lock:
            call.recognizer = recognizer
        chunks = stream_file(path, self.deps.settings.audio, speakers)
        for chunk in paced_chunks(chunks, call.stop, realtime):
            with call.audio_lock:
                events = recognizer.feed(chunk)
            self.feed(call, events)

    def mic_chunk(self, call: LiveCall, rate_hz: int, samples: np.ndarray) -> None:
        with call.audio_lock:
            if call.ending or not call.live:
                return
            if call.recognizer is None:
                from assist.asr import CallRecognizer

                call.mic = MicInput(self.deps.settings.audio.mono_speaker)
                call.recognizer = CallRecognizer(call.call_id, (call.mic.speaker,),
                                                 self.deps.engines())
            chunk = call.mic.chunk(rate_hz, samples)
            events = call.recognizer.feed(chunk) if chunk is not None else []
        self.feed(call, events)
        call.last_activity = time.monotonic()

    def pump(self, call: LiveCall) -> None:
        """Whisper finals that arrived since the last microphone chunk (from the panel poll)."""
        if call.live and not call.ending and call.thread is None and call.recognizer is not None:
            self.feed(call, call.recognizer.drain())

    # -- after the call --------------------------------------------------------------------
    def save(self, call: LiveCall, summary_text: str, disposition: str) -> None:
        with call.lock:
            if call.view.summary is None:
                raise AssistError("통화가 아직 끝나지 않았습니다. 먼저 통화를 종료해 주세요.")
            if call.saved:
                raise AssistError("이 통화는 이미 저장되었습니다.")
            summary = replace(call.view.summary, summary=summary_text.strip()[:4000],
                              disposition=disposition)
            self.deps.call_log.save(summary, call.session.shown)
            call.saved = True
            call.view.summary = summary
            call.view.status = "saved"
            call.view.touch("status")

    def autosave(self, call: LiveCall) -> None:
        """Save the generated summary as is when the agent never pressed save."""
        if call.saved or call.view.summary is None:
            return
        try:
            self.save(call, call.view.summary.summary, call.view.summary.disposition)
            log.info("call %s: summary saved automatically", call.call_id)
        except AssistError as exc:
            log.warning("call %s: autosave failed: %s", call.call_id, exc)

    def feedback(self, call: LiveCall, article_id: str, kind: str) -> None:
        if kind not in FEEDBACK_KINDS:
            raise AssistError("알 수 없는 피드백입니다.")
        self.deps.call_log.feedback(call.call_id, article_id, kind, agent=call.owner)

    # -- housekeeping ----------------------------------------------------------------------
    def _reaper(self) -> None:
        while not self._closed.wait(10.0):
            self.reap()

    def reap(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for call in list(self._calls.values()):
            if call.live and call.thread is None and now - call.last_activity > self.opts.idle_call_s:
                self.finish(call, "오랫동안 입력이 없어 통화를 종료하고 요약을 저장했습니다.")
                self.autosave(call)
            elif call.ended_at is not None and not call.saved and (
                    call.orphaned or now - call.ended_at > AUTOSAVE_AFTER_S):
                self.autosave(call)
            if call.saved and call.ended_at is not None and now - call.ended_at > AUTOSAVE_AFTER_S:
                with self._lock:
                    self._calls.pop(call.call_id, None)

    def close(self) -> None:
        self._closed.set()
        for call in list(self._calls.values()):
            self.finish(call)
            self.autosave(call)
