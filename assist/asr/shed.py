"""Load shedding for the first pass: under load, new utterances get a Whisper final only.

In hybrid mode the vosk first pass (partials + a fast final) is the costly engine per audio
second; Whisper finals are cheap because queued utterances are packed into one decode. When a
process carries more live calls than its cores can recognize in both passes, everything falls
behind together. ``FirstPassBudget`` decides, each time a segment starts, whether it gets a vosk
recognizer. It says no while the process is behind:

- audio is being recognized more than ``first_pass_shed_lag_ms`` behind real time (this call
  now, or any call of the process lately: a peak fades by a second per second),
- or a Whisper final of any call has been waiting more than ``first_pass_shed_whisper_s``,
- or ``first_pass_max_active`` vosk segments are already open in this process (0: no cap).

A shed segment still gets its Whisper final (the same text the hybrid final would have had),
only later and with no partials; the next segment is decided afresh, so the first pass returns
as soon as the load allows. Lateness is measured against the call's own clock (``CallClock``: wall
time vs audio time), so a file transcribed faster than real time never sheds.
"""
from __future__ import annotations

import threading
import time
import weakref

from assist.config import AsrOptions

__all__ = ["CallClock", "FirstPassBudget", "FILE_AHEAD_S"]

FILE_AHEAD_S = 2.0  # a feed this far ahead of its first chunk's pace is a file, not a live call


class CallClock:
    """How far one call's recognition runs behind real time.

    Real time is anchored at the earliest moment a chunk could have been recognized: the smallest
    (wall time - audio time) seen so far, so a late first chunk does not hide later lag. A feed
    running more than ``FILE_AHEAD_S`` ahead of its first chunk's pace is a file (``live``
    False) and is never shed; the API says its streams are live (``live=True``).
    """

    __slots__ = ("live", "first", "origin", "lag_s")

    def __init__(self, live: bool | None = None) -> None:
        self.live = live
        self.first: float | None = None
        self.origin = 0.0
        self.lag_s = 0.0

    def tick(self, audio_end_s: float, now: float | None = None) -> float:
        offset = (time.monotonic() if now is None else now) - audio_end_s
        if self.first is None:
            self.first = self.origin = offset
        self.origin = min(self.origin, offset)
        if self.live is None and self.first - offset > FILE_AHEAD_S:
            self.live = False
        self.lag_s = offset - self.origin
        return self.lag_s


class FirstPassBudget:
    """Shared by every call of a process (it lives on ``Engines``); thread-safe."""

    def __init__(self, opts: AsrOptions, whisper_wait_s=lambda: 0.0) -> None:
        self.opts = opts
        self.whisper_wait_s = whisper_wait_s  # age of the oldest unfinished Whisper job
        self.admitted = 0
        self.shed = 0
        self.last_reason = ""
        self._open: weakref.WeakSet = weakref.WeakSet()  # a dropped call's segments leave by GC
        self._peak = (0.0, 0.0)  # (lag s, when): the latest lag peak of any live call
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return len(self._open)

    def admit(self, clock: CallClock) -> bool:
        """A segment starts on the call with this clock: may it have a first pass?
        When yes, pass its recognizer to ``opened`` and later to ``closed``."""
        reason = self._why_not(clock)
        with self._lock:
            cap = self.opts.first_pass_max_active
            if not reason and cap and len(self._open) >= cap:
                reason = f"{cap} first passes open"
            if reason:
                self.shed += 1
                self.last_reason = reason
                return False
            self.admitted += 1
            return True

    def observe(self, clock: CallClock, now: float | None = None) -> None:
        """A live call's lag after a chunk: the cores are shared, so one call falling behind
        sheds new segments on every call. A peak fades by one second per second."""
        if clock.live is False:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            if clock.lag_s >= self._recent_lag(now):
                self._peak = (clock.lag_s, now)

    def recent_lag(self, now: float | None = None) -> float:
        with self._lock:
            return self._recent_lag(time.monotonic() if now is None else now)

    def _recent_lag(self, now: float) -> float:
        lag, at = self._peak
        return max(0.0, lag - (now - at))

    def opened(self, recognizer: object) -> None:
        with self._lock:
            self._open.add(recognizer)

    def closed(self, recognizer: object) -> None:
        with self._lock:
            self._open.discard(recognizer)

    def _why_not(self, clock: CallClock) -> str:
        if not self.opts.first_pass_shed or clock.live is False:
            return ""
        lag = max(clock.lag_s, self.recent_lag())
        if lag * 1000 > self.opts.first_pass_shed_lag_ms:
            return f"recognition {lag:.2f} s behind real time"
        waited = self.whisper_wait_s()
        if waited > self.opts.first_pass_shed_whisper_s:
            return f"a Whisper final waiting {waited:.1f} s"
        return ""

    def stats(self) -> dict:
        with self._lock:
            return {"admitted": self.admitted, "shed": self.shed, "active": len(self._open),
                    "last_reason": self.last_reason}
