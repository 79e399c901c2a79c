"""Close codes, the refusal error that carries one, and the per-connection frame-rate limit.

| code | when |
|---|---|
| 1000 | normal end (``stop``, or the call's event stream ended with its summary) |
| 1003 | unsupported data: not JSON, binary where JSON is expected (or the reverse), base64 garbage, |
|      | an unsupported encoding, sample rate or channel count, frames that are not whole samples |
| 1008 | policy: schema-invalid or out-of-order message, frame rate over the limit, call id in use |
| 1009 | message bigger than ``api.max_message_bytes`` |
| 1011 | the server failed on this call (other calls go on) |
| 4001 | missing or unknown token |
| 4004 | no such call for this token (event streams) |
| 4029 | this token already has ``max_calls`` live calls |
"""
from __future__ import annotations

import time

from assist.config import AssistError

__all__ = [
    "NORMAL", "UNSUPPORTED", "POLICY", "TOO_BIG", "SERVER_ERROR", "BAD_TOKEN", "NO_CALL",
    "TOO_MANY_CALLS", "SERVICE_RESTART", "HTTP_STATUS", "ApiRefusal", "FrameRate",
]

NORMAL = 1000
UNSUPPORTED = 1003
POLICY = 1008
TOO_BIG = 1009
SERVER_ERROR = 1011
SERVICE_RESTART = 1012  # sent by the server when it stops: the call is interrupted, not ended
BAD_TOKEN = 4001
NO_CALL = 4004
TOO_MANY_CALLS = 4029

HTTP_STATUS = {UNSUPPORTED: 415, POLICY: 409, TOO_BIG: 413, SERVER_ERROR: 500, BAD_TOKEN: 401,
               NO_CALL: 404, TOO_MANY_CALLS: 429}
MAX_REASON_BYTES = 120  # a websocket close reason must fit in 123 bytes


class ApiRefusal(AssistError):
    """A request or message the API refuses; ``code`` is the websocket close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def close_reason(self) -> str:
        data = self.reason.encode("utf-8")[:MAX_REASON_BYTES]
        return data.decode("utf-8", errors="ignore")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


class FrameRate:
    """Token bucket: ``rate_per_s`` messages a second on average, bursts up to one second's worth.

    Time the server itself spent not reading (``credit``: recognition behind, the audio queue
    full) is credited, so the backlog a client sent meanwhile is not mistaken for a flood.
    """

    def __init__(self, rate_per_s: float, clock=time.monotonic) -> None:
        self.rate = rate_per_s
        self.capacity = max(1.0, rate_per_s)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def take(self) -> None:
        """Count one message; raises ApiRefusal(1008) when over the rate."""
        now = self.clock()
        refilled = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.tokens = max(self.tokens, refilled)  # credit above capacity is kept until used
        self.last = now
        if self.tokens < 1.0:
            raise ApiRefusal(POLICY, f"more than {self.rate:g} messages per second")
        self.tokens -= 1.0

    def credit(self, seconds: float) -> None:
        """The server did not read for ``seconds``: allow what the client could send meanwhile."""
        self.tokens += max(0.0, seconds) * self.rate
