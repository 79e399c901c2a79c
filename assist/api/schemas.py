"""Messages at the API edge, validated with pydantic; nothing past this module sees raw JSON.

Audio in (``/v1/media``) follows the media-stream format common to telephony platforms:
``connected`` -> ``start`` (call and track metadata, media format) -> ``media`` (base64 8 kHz
mu-law, ``track`` inbound = customer, outbound = agent) ... -> ``stop``; ``mark`` and ``dtmf``
are accepted and ignored. Raw PCM (``/v1/media/pcm``) starts with a JSON ``PcmStart`` and then
sends binary frames of interleaved little-endian int16 samples.

Events out carry the session event's fields plus ``type`` (its class), ``v`` (schema version)
and ``seq`` (1, 2, ... per call; resume with ``?since=SEQ``).
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CALL_ID_PATTERN",
    "TRACK_SPEAKERS",
    "PCM_RATES_HZ",
    "MediaFormat",
    "StartInfo",
    "TelephonyStart",
    "MediaPayload",
    "TelephonyMedia",
    "TelephonyStop",
    "TELEPHONY_MESSAGES",
    "IGNORED_EVENTS",
    "PcmStart",
    "ClassifyRequest",
    "ClassifyResponse",
    "KbHit",
    "CallInfo",
    "FeedbackRequest",
    "TranscriptIn",
    "EventOut",
    "ErrorOut",
    "valid_call_id",
]

CALL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
TRACK_SPEAKERS = {"inbound": "customer", "outbound": "agent"}
PCM_RATES_HZ = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
MULAW_ENCODINGS = ("audio/x-mulaw", "audio/pcmu", "mulaw", "pcmu")
_CALL_ID = re.compile(CALL_ID_PATTERN)


class _Platform(BaseModel):
    """Platform messages carry fields we do not use; they are ignored, not errors."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class MediaFormat(_Platform):
    encoding: str = "audio/x-mulaw"
    sample_rate_hz: int = Field(8000, alias="sampleRate")
    channels: int = 1

    def problem(self) -> str:
        """Why this format is not supported ('' when it is)."""
        if self.encoding.lower() not in MULAW_ENCODINGS:
            return f"media encoding {self.encoding!r} is not supported (audio/x-mulaw expected)"
        if self.sample_rate_hz != 8000:
            return f"sample rate {self.sample_rate_hz} Hz is not supported (8000 expected)"
        if self.channels != 1:
            return f"{self.channels} channels per track are not supported (1 expected)"
        return ""


class StartInfo(_Platform):
    call_sid: str = Field("", alias="callSid")
    stream_sid: str = Field("", alias="streamSid")
    tracks: tuple[str, ...] = ("inbound", "outbound")
    media_format: MediaFormat = Field(default_factory=MediaFormat, alias="mediaFormat")
    custom_parameters: dict[str, Any] = Field(default_factory=dict, alias="customParameters")

    @field_validator("tracks", mode="before")
    @classmethod
    def _known_tracks(cls, value: object) -> object:
        tracks = tuple(value) if isinstance(value, (list, tuple)) else value
        if isinstance(tracks, tuple) and any(t not in TRACK_SPEAKERS for t in tracks):
            raise ValueError(f"tracks must be among {sorted(TRACK_SPEAKERS)}")
        return tracks


class TelephonyStart(_Platform):
    event: Literal["start"]
    stream_sid: str = Field("", alias="streamSid")
    start: StartInfo

    @property
    def call_id(self) -> str:
        params = self.start.custom_parameters
        return str(params.get("call_id") or self.start.call_sid or self.start.stream_sid
                   or self.stream_sid)


class MediaPayload(_Platform):
    track: Literal["inbound", "outbound"] = "inbound"
    payload: str = Field(max_length=1 << 20)
    timestamp: int | None = None


class TelephonyMedia(_Platform):
    event: Literal["media"]
    media: MediaPayload


class TelephonyStop(_Platform):
    event: Literal["stop"]


TELEPHONY_MESSAGES: dict[str, type[_Platform]] = {
    "start": TelephonyStart, "media": TelephonyMedia, "stop": TelephonyStop,
}
IGNORED_EVENTS = ("connected", "mark", "dtmf")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PcmStart(_Strict):
    """First message of the raw PCM mode; binary int16 frames follow."""

    event: Literal["start"] = "start"
    call_id: str = Field(pattern=CALL_ID_PATTERN)
    sample_rate: int = Field(description=f"One of {PCM_RATES_HZ}.")
    channels: Literal[1, 2] = 2
    channel_map: tuple[Literal["customer", "agent"], ...] = ("customer", "agent")
    encoding: Literal["pcm_s16le"] = "pcm_s16le"

    @model_validator(mode="after")
    def _consistent(self) -> "PcmStart":
        if len(self.channel_map) != self.channels:
            raise ValueError(f"channel_map names {len(self.channel_map)} speakers for "
                             f"{self.channels} channels")
        if len(set(self.channel_map)) != len(self.channel_map):
            raise ValueError("channel_map names a speaker twice")
        return self

    def problem(self) -> str:
        if self.sample_rate not in PCM_RATES_HZ:
            return f"sample rate {self.sample_rate} Hz is not supported (one of {PCM_RATES_HZ})"
        return ""


class ClassifyRequest(_Strict):
    text: str = Field(max_length=4000)


class ClassifyResponse(BaseModel):
    v: int
    intent: str
    intent_score: float
    top_intents: list[tuple[str, float]]
    sentiment: str
    sentiment_score: float
    unsure: bool
    model: str


class KbHit(BaseModel):
    article_id: str
    version: int
    title: str
    say: str
    why: str
    score: float


class CallInfo(BaseModel):
    call_id: str
    state: Literal["live", "ended", "interrupted"]
    mode: str
    started_at: float
    ended_at: float | None = None
    last_seq: int
    disposition: str | None = None
    summary: dict[str, Any] | None = Field(None, description="The saved call summary (redacted).")


class FeedbackRequest(_Strict):
    article_id: str = Field(min_length=1, max_length=200)
    kind: Literal["used", "up", "down"]
    agent: str = Field("", max_length=200)


class TranscriptIn(_Strict):
    """One turn from a platform that transcribes itself; a final replaces the partials before it."""

    speaker: Literal["customer", "agent"]
    text: str = Field(max_length=4000)
    is_final: bool = True
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)
    segment_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                                   description="Omit: partials of one speaker share an id "
                                   "until their final.")

    @model_validator(mode="after")
    def _ordered(self) -> "TranscriptIn":
        if self.end_s < self.start_s:
            raise ValueError("end_s is before start_s")
        return self


class EventOut(BaseModel):
    """Envelope of every event sent out; the other fields are those of ``type``
    (see ``GET /v1/events/schema``)."""

    model_config = ConfigDict(extra="allow")
    seq: int
    v: int
    type: Literal["TranscriptEvent", "InsightEvent", "Suggestions", "StageChange",
                  "ChecklistState", "Alert", "CallSummary"]
    call_id: str


class ErrorOut(BaseModel):
    event: Literal["error"] = "error"
    code: str
    message: str


def valid_call_id(value: str) -> bool:
    return bool(_CALL_ID.match(value))
