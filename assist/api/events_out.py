"""Events out: one websocket or SSE stream per call, with sequence numbers and resume.

``/v1/calls/{call_id}/events`` (websocket, or GET for SSE) sends every event of the call as
JSON (``EventOut``: ``seq``, ``v``, ``type`` + the event's fields) and closes after the call's
``CallSummary`` (1000). Resume with ``?since=SEQ`` (SSE: also ``Last-Event-ID``): events after
SEQ come from memory or the event store, so nothing is lost across reconnects or a server
restart. A subscriber that falls behind is caught up from the store, never dropped.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from assist.api.auth import Principal, require_principal, token_from
from assist.api.limits import NO_CALL, NORMAL, ApiRefusal
from assist.api.store import Record

__all__ = ["EventBus", "call_records", "close_socket", "router"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["events"])
QUEUE_SIZE = 512
KEEPALIVE_S = 15.0


@dataclass(eq=False)
class _Subscriber:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    behind: bool = True  # start by reading the backlog from the store


class EventBus:
    """Fans records out to the subscribers of each call, on the event loop."""

    def __init__(self) -> None:
        self._subs: dict[str, set[_Subscriber]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, call_id: str, records: list[Record]) -> None:
        """From any thread; delivery order is the order of calls (call_soon_threadsafe is FIFO)."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and call_id in self._subs:
            loop.call_soon_threadsafe(self._deliver, call_id, records)

    def _deliver(self, call_id: str, records: list[Record]) -> None:
        for sub in list(self._subs.get(call_id, ())):
            for record in records:
                try:
                    sub.queue.put_nowait(record)
                except asyncio.QueueFull:
                    sub.behind = True  # the stream re-reads from the store
                    break

    def subscribe(self, call_id: str) -> _Subscriber:
        sub = _Subscriber()
        self._subs.setdefault(call_id, set()).add(sub)
        return sub

    def unsubscribe(self, call_id: str, sub: _Subscriber) -> None:
        subs = self._subs.get(call_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                self._subs.pop(call_id, None)


async def _await_owner(api, call_id: str, principal: Principal) -> None:
    """Wait up to ``subscribe_wait_s`` for a call not started yet; 4004 if not this tenant's."""
    deadline = asyncio.get_running_loop().time() + api.settings.api.subscribe_wait_s
    while True:
        meta = await asyncio.to_thread(api.store.meta, call_id)
        if meta is not None or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.1)
    if meta is None or meta.tenant != principal.tenant:
        raise ApiRefusal(NO_CALL, f"no call {call_id} for this token")


async def call_records(api, call_id: str, principal: Principal, since: int,
                       idle_s: float = KEEPALIVE_S) -> AsyncIterator[Record | None]:
    """Records after ``since`` until the call's summary; ``None`` after ``idle_s`` of quiet."""
    await _await_owner(api, call_id, principal)
    sub = api.bus.subscribe(call_id)
    last = since
    try:
        while True:
            if sub.behind:
                sub.behind = False
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                backlog = await asyncio.to_thread(api.store.since, call_id, last)
                if not backlog:
                    meta = await asyncio.to_thread(api.store.meta, call_id)
                    if meta is not None and meta.state == "ended":
                        backlog = await asyncio.to_thread(api.store.since, call_id, last)
                        if not backlog:
                            return
                for record in backlog:
                    yield record
                    last = record.seq
                    if record.type == "CallSummary":
                        return
                if len(backlog) >= 5000:
                    sub.behind = True
                continue
            try:
                record = await asyncio.wait_for(sub.queue.get(), idle_s)
            except asyncio.TimeoutError:
                yield None
                continue
            if record.seq <= last:
                continue
            if record.seq > last + 1:
                sub.behind = True  # something between; the store has it
                continue
            yield record
            last = record.seq
            if record.type == "CallSummary":
                return
    finally:
        api.bus.unsubscribe(call_id, sub)


@router.websocket("/calls/{call_id}/events")
async def events_ws(websocket: WebSocket, call_id: str, since: int = 0) -> None:
    """Websocket stream of a call's events (close 1000 after the summary, 4001, 4004)."""
    api = websocket.app.state.api
    await websocket.accept()
    try:
        principal = api.tokens.check(token_from(websocket.headers, websocket.query_params))
        sender = asyncio.create_task(_send_records(websocket, api, call_id, principal, since))
        reader = asyncio.create_task(_until_disconnect(websocket))
        done, pending = await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if sender in done:
            sender.result()
            await close_socket(websocket, NORMAL, "call ended")
    except ApiRefusal as exc:
        await close_socket(websocket, exc.code, exc.close_reason)


async def _send_records(websocket: WebSocket, api, call_id: str, principal: Principal,
                        since: int) -> None:
    async for record in call_records(api, call_id, principal, since):
        if record is not None:
            await websocket.send_text(record.body)


async def _until_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.close(code, reason)


@router.get("/calls/{call_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "SSE: id = seq, event = type, data = EventOut JSON"}})
async def events_sse(request: Request, call_id: str, since: int = Query(0, ge=0),
                     last_event_id: int | None = Header(None),
                     principal: Principal = Depends(require_principal)) -> StreamingResponse:
    """Server-sent events of a call (resume: ``?since=SEQ`` or ``Last-Event-ID``)."""
    api = request.app.state.api
    start = max(since, last_event_id or 0)
    await _await_owner(api, call_id, principal)

    async def body() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for record in call_records(api, call_id, principal, start):
            if record is None:
                yield ": keepalive\n\n"
            else:
                yield f"id: {record.seq}\nevent: {record.type}\ndata: {record.body}\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
