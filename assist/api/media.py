"""Audio in over websockets: the telephony media-stream format and raw PCM16.

``/v1/media``: JSON messages ``connected`` -> ``start`` -> ``media`` (base64 8 kHz mu-law,
track inbound = customer, outbound = agent) -> ``stop``. ``/v1/media/pcm``: a JSON ``start``
(``PcmStart``), then binary frames of interleaved little-endian int16, then ``{"event": "stop"}``.
Both read top to bottom the same way: auth -> per message: rate and size limits -> parse ->
decode -> queue; a per-call task recognizes queued audio in a worker thread, in order, so the
event loop never waits on the engines. Problems close the socket with a code from
``assist.api.limits``; the call then ends and its summary is saved, other calls go on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

import numpy as np
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from assist.api.codec import Chunker, TrackAligner, b64_mulaw, pcm16_decode
from assist.api.events_out import close_socket
from assist.api.hub import LiveCall
from assist.api.limits import (
    NORMAL, POLICY, SERVER_ERROR, SERVICE_RESTART, TOO_BIG, UNSUPPORTED, ApiRefusal, FrameRate,
)
from assist.api.schemas import (
    IGNORED_EVENTS, TELEPHONY_MESSAGES, TRACK_SPEAKERS, ErrorOut, PcmStart, TelephonyMedia,
    TelephonyStart, valid_call_id,
)

__all__ = ["router", "AudioPipe"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["media"])
QUEUE_BLOCKS = 100  # 10 s of audio waiting for recognition before the socket is read slower
MAX_SKEW_S = 1.0
DRAIN_IDLE_S = 0.03  # no audio for this long: collect whisper finals without waiting for it
BACKPRESSURE_S = 0.05  # handling one message took this long: it waited for the audio queue


class AudioPipe:
    """One call's audio: blocks queued on the loop, recognized in a worker thread, in order."""

    def __init__(self, api, call: LiveCall, in_rate_hz: int, speakers: tuple[str, ...]) -> None:
        self.api, self.call = api, call
        self.chunker = Chunker(in_rate_hz, speakers, api.settings.audio.chunk_ms)
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_BLOCKS)
        self.task = asyncio.create_task(self._run())

    async def put(self, block: np.ndarray) -> None:
        await self.queue.put(block)

    async def _run(self) -> None:
        last = False
        while not last:
            try:
                blocks = [await asyncio.wait_for(self.queue.get(), DRAIN_IDLE_S)]
            except asyncio.TimeoutError:  # between chunks: hand on finals that are ready
                await asyncio.to_thread(self.api.hub.drain, self.call)
                continue
            while blocks[-1] is not None and not self.queue.empty():
                blocks.append(self.queue.get_nowait())  # behind: one thread hop for all
            last = blocks[-1] is None
            await asyncio.to_thread(self._process, [b for b in blocks if b is not None], last)

    def _process(self, blocks: list[np.ndarray], last: bool) -> None:
        try:
            chunks = [c for block in blocks for c in self.chunker.push(block)]
            if last:
                chunks += self.chunker.push(None, last=True)
            self.api.hub.feed(self.call, chunks)
        except Exception:  # keep the call going; the hub already turned engine errors into alerts
            log.exception("call %s: audio processing failed", self.call.call_id)

    async def finish(self, interrupted: bool) -> None:
        if interrupted:
            self.task.cancel()
        else:
            await self.queue.put(None)
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await asyncio.to_thread(self.api.hub.close, self.call, interrupted)


class _Stream:
    """What both modes share: the principal, the call, its audio pipe, the end."""

    def __init__(self, api, websocket: WebSocket) -> None:
        self.api, self.websocket = api, websocket
        self.principal = None
        self.call: LiveCall | None = None
        self.pipe: AudioPipe | None = None
        self.done = False
        self._finished = False

    async def open(self, call_id: str, mode: str, in_rate_hz: int, speakers: tuple[str, ...]) -> None:
        if self.call is not None:
            raise ApiRefusal(POLICY, "a second start on this stream")
        if not valid_call_id(call_id):
            raise ApiRefusal(POLICY, "call id missing or not [A-Za-z0-9._:-]{1,128}")
        self.call = await asyncio.to_thread(self.api.hub.open, call_id, self.principal, mode, speakers)
        self.pipe = AudioPipe(self.api, self.call, in_rate_hz, speakers)

    async def finish(self, interrupted: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        if self.pipe is not None:
            await self.pipe.finish(interrupted)

    async def on_message(self, text: str | None, data: bytes | None) -> None:
        raise NotImplementedError


class _Telephony(_Stream):
    aligner: TrackAligner | None = None
    tracks: tuple[str, ...] = ()

    async def on_message(self, text: str | None, data: bytes | None) -> None:
        if text is None:
            raise ApiRefusal(UNSUPPORTED, "binary message on a JSON media stream")
        message = _json_object(text)
        kind = message.get("event")
        if kind in IGNORED_EVENTS:
            return
        model = TELEPHONY_MESSAGES.get(kind) if isinstance(kind, str) else None
        if model is None:
            await self._unknown(kind)
            return
        parsed = _validate(model, message, str(kind))
        if isinstance(parsed, TelephonyStart):
            await self._start(parsed)
        elif isinstance(parsed, TelephonyMedia):
            await self._media(parsed)
        else:
            self.done = True

    async def _unknown(self, kind: object) -> None:
        """Unknown events are answered with an error message and otherwise ignored."""
        log.warning("call %s: unknown media event %r ignored", getattr(self.call, "call_id", "-"),
                    str(kind)[:40])
        error = ErrorOut(code="unknown_event", message=f"event {str(kind)[:40]!r} is not supported; "
                         f"use connected, start, media, mark, dtmf or stop")
        await self.websocket.send_text(error.model_dump_json())

    async def _start(self, start: TelephonyStart) -> None:
        problem = start.start.media_format.problem()
        if problem:
            raise ApiRefusal(UNSUPPORTED, problem)
        self.tracks = tuple(t for t in TRACK_SPEAKERS if t in start.start.tracks)
        if not self.tracks:
            raise ApiRefusal(POLICY, "start names no track (inbound and/or outbound)")
        speakers = tuple(TRACK_SPEAKERS[t] for t in self.tracks)
        await self.open(start.call_id, "telephony", 8000, speakers)
        block = 8000 * self.api.settings.audio.chunk_ms // 1000
        self.aligner = TrackAligner(self.tracks, block, int(8000 * MAX_SKEW_S), 8000 * 10)

    async def _media(self, media: TelephonyMedia) -> None:
        if self.aligner is None:
            raise ApiRefusal(POLICY, "media before start")
        if media.media.track not in self.tracks:
            raise ApiRefusal(POLICY, f"media for track {media.media.track}, not in start.tracks")
        samples = b64_mulaw(media.media.payload)
        self.aligner.push(media.media.track, samples, media.media.timestamp)
        for block in self.aligner.blocks():
            await self.pipe.put(block)

    async def finish(self, interrupted: bool = False) -> None:
        if self.aligner is not None and self.pipe is not None and not interrupted:
            for block in self.aligner.blocks(last=True):
                await self.pipe.put(block)
        await super().finish(interrupted)


class _Pcm(_Stream):
    channels: int = 0

    async def on_message(self, text: str | None, data: bytes | None) -> None:
        if self.call is None:
            if text is None:
                raise ApiRefusal(UNSUPPORTED, "binary audio before the JSON start message")
            start = _validate(PcmStart, _json_object(text), "start")
            if start.problem():
                raise ApiRefusal(UNSUPPORTED, start.problem())
            self.channels = start.channels
            await self.open(start.call_id, "pcm", start.sample_rate, tuple(start.channel_map))
        elif data is not None:
            await self.pipe.put(pcm16_decode(data, self.channels))
        elif _json_object(text).get("event") == "stop":
            self.done = True
        else:
            raise ApiRefusal(POLICY, "after start only binary audio or {\"event\": \"stop\"}")


def _json_object(text: str) -> dict:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ApiRefusal(UNSUPPORTED, f"malformed JSON: {str(exc)[:60]}") from exc
    if not isinstance(message, dict):
        raise ApiRefusal(UNSUPPORTED, "a message must be a JSON object")
    return message


def _validate(model, message: dict, kind: str):
    try:
        return model.model_validate(message)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or kind
        raise ApiRefusal(POLICY, f"invalid {kind} message: {where}: {first['msg']}") from exc


async def _serve(websocket: WebSocket, stream: _Stream) -> None:
    """The shared socket loop: auth, limits, dispatch, and the end in every case."""
    api = stream.api
    await websocket.accept()
    disconnect_code = None
    try:
        stream.principal = api.tokens.check(_token(websocket))
        rate = FrameRate(api.settings.api.max_frames_per_s)
        limit = api.settings.api.max_message_bytes
        while not stream.done:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                disconnect_code = message.get("code", 1005)
                break
            rate.take()
            text, data = message.get("text"), message.get("bytes")
            size = len(data) if data is not None else len(text or "")
            if size > limit or (text and 4 * size > limit and len(text.encode()) > limit):
                raise ApiRefusal(TOO_BIG, f"message of {size} bytes; the limit is {limit}")
            started = time.monotonic()
            await stream.on_message(text, data)
            busy_s = time.monotonic() - started
            if busy_s > BACKPRESSURE_S:  # the audio queue was full: we did not read meanwhile
                rate.credit(busy_s)
        if stream.done:
            await stream.finish()
            await close_socket(websocket, NORMAL, "call ended")
    except ApiRefusal as exc:
        log.info("call %s: closing %d %s", getattr(stream.call, "call_id", "-"), exc.code, exc.reason)
        await close_socket(websocket, exc.code, exc.close_reason)
    except Exception:
        log.exception("call %s: media stream failed", getattr(stream.call, "call_id", "-"))
        await close_socket(websocket, SERVER_ERROR, "server error on this call")
    finally:
        await stream.finish(interrupted=disconnect_code == SERVICE_RESTART)


def _token(websocket: WebSocket) -> str | None:
    from assist.api.auth import token_from

    return token_from(websocket.headers, websocket.query_params)


@router.websocket("/media")
async def telephony_media(websocket: WebSocket) -> None:
    """Telephony media stream (JSON, base64 8 kHz mu-law, inbound=customer, outbound=agent)."""
    await _serve(websocket, _Telephony(websocket.app.state.api, websocket))


@router.websocket("/media/pcm")
async def pcm_media(websocket: WebSocket) -> None:
    """Raw PCM16: JSON start {call_id, sample_rate, channels, channel_map}, then binary frames."""
    await _serve(websocket, _Pcm(websocket.app.state.api, websocket))
