"""Settings for every stage in one place: defaults here, then a TOML file, then ASSIST_* env.

The TOML file is ``assist.toml`` in the working directory, or the path in ``ASSIST_CONFIG``.
Nested env vars use ``__``: ``ASSIST_ASR__MODE=vosk``. Unknown keys are errors, never ignored.
Relative paths are resolved against ``root`` (default: the working directory).
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "AssistError",
    "AudioOptions",
    "VadOptions",
    "AsrOptions",
    "NluOptions",
    "RetrieveOptions",
    "KbOptions",
    "GuideOptions",
    "ServerOptions",
    "UiOptions",
    "TenantOptions",
    "ApiOptions",
    "Settings",
    "get_settings",
]

Speaker = Literal["customer", "agent"]


class AssistError(Exception):
    """Base of every error the user should see as one clear sentence, not a traceback."""


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _split_speakers(value: object) -> object:
    """Speaker lists from env/TOML: a JSON list or comma-separated names."""
    if isinstance(value, str) and value.strip().startswith("["):
        return tuple(json.loads(value))
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class AudioOptions(_Options):
    sample_rate_hz: int = Field(16000, description="Rate every stage after audio works at.")
    chunk_ms: int = Field(100, ge=10, le=1000, description="Size of streamed chunks.")
    channel_map: Annotated[tuple[Speaker, ...], NoDecode] = Field(
        ("customer", "agent"), description="Speaker of each channel of a stereo recording."
    )
    mono_speaker: Speaker = Field("customer", description="Speaker of a mono recording.")
    max_file_channels: int = Field(2, description="More channels than this need a channel_map.")

    _split = field_validator("channel_map", mode="before")(_split_speakers)


class VadOptions(_Options):
    enabled: bool = Field(True, description="Gate recognizers with silero VAD (off: all audio).")
    threshold: float = Field(0.5, description="Speech probability that starts speech.")
    neg_threshold: float = Field(0.35, description="Probability below which audio is silence.")
    min_silence_ms: int = Field(350, description="Silence that closes a first-pass segment.")
    min_speech_ms: int = Field(200, description="Shorter bursts are dropped as noise.")
    speech_pad_ms: int = Field(300, description="Audio kept before speech so no word is clipped.")
    max_segment_s: float = Field(20.0, description="A longer segment is cut here.")


class AsrOptions(_Options):
    mode: Literal["hybrid", "vosk", "whisper"] = "hybrid"
    partial_interval_ms: int = Field(200, description="How often partials are polled.")
    first_pass_speakers: Annotated[tuple[Speaker, ...], NoDecode] = Field(
        ("customer",), description="Hybrid mode: speakers that get vosk partials and a first "
        "pass; the others get Whisper finals only (vosk is the costly engine, and the agent does "
        "not need to watch their own words appear).")
    language: str = "ko"
    whisper_compute_type: str = "int8"
    whisper_threads: int = Field(2, ge=1)
    whisper_nice: int = Field(
        5, ge=0, le=19, description="Whisper decoding threads run this much lower in CPU priority "
        "than the rest of the process (first pass, NLU, KB search), so under load finals wait a "
        "little instead of partials and suggestions (0: same priority; Linux threads only).")
    whisper_beam_size: int = Field(1, ge=1)
    whisper_max_batch_s: float = Field(
        24.0, description="Queued segments are packed into one decode up to this audio length."
    )
    whisper_gap_s: float = Field(0.8, description="Silence placed between packed segments.")
    utterance_silence_ms: int = Field(
        2000, description="Whisper decodes whole utterances: first-pass segments closer than "
        "this are decoded together unless the other side starts speaking (cutting at every "
        "VAD pause cost 5 CER points on ko_speech_dev).")
    utterance_max_s: float = Field(15.0, description="An utterance longer than this is decoded.")
    _split = field_validator("first_pass_speakers", mode="before")(_split_speakers)
    first_pass_shed: bool = Field(
        True, description="Hybrid mode under load (assist/asr/shed.py): a segment that starts "
        "while recognition is behind gets no vosk first pass, only its Whisper final, so a "
        "busy process degrades to whisper-only instead of every call falling behind. Live "
        "audio only: a file fed faster than real time never sheds.")
    first_pass_shed_lag_ms: int = Field(
        500, ge=0, description="Shed while this call's audio is recognized more than this "
        "far behind real time.")
    first_pass_shed_whisper_s: float = Field(
        3.0, ge=0, description="Shed while a Whisper final has waited longer than this to be "
        "decoded.")
    first_pass_max_active: int = Field(
        0, ge=0, description="At most this many vosk first passes open at once per process; "
        "more simultaneous speakers get Whisper finals only (0: no cap).")
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    vocab_bias: bool = Field(True, description="Correct vosk near-misses to domain terms.")
    whisper_prompt: bool = Field(
        False, description="In-domain prompt + hotwords for Whisper (off: on ko_speech_dev it "
        "raised CER and decode time; see docs/RESULTS.md).")
    respace: bool = Field(True, description="Re-space vosk morpheme output with kiwipiepy.")


class NluOptions(_Options):
    encoder_dir_name: str = "e5-small-ko"
    unsure_threshold: float | None = Field(
        None, description="Intent score below which the answer is 'unsure' (None: the "
        "threshold tuned at training, stored in the model card).")
    backend: Literal["torch", "onnx"] = Field(
        "onnx", description="Encoder runtime: onnx (the ONNX export, onnxruntime: fp32, or int8 "
        "when it keeps intent and sentiment within 0.5 points; 2.4x faster than torch per "
        "utterance in `assist bench nlu`), or torch. Training always encodes with torch.")
    onnx_int8: bool = Field(False, description="Let the ONNX export select its int8 model when "
                            "intent and sentiment stay within 0.5 points of torch. Off by default: "
                            "KB search shares the encoder and int8 lowered its dev recall@1 "
                            "0.837 -> 0.792.")
    intent_model: str = Field("", description="Intent model folder ('': the heads bundled in "
                              "assist/nlu/trained, or models/nlu/intent when `make models` had "
                              "to retrain them for other encoder weights).")
    sentiment_model: str = Field("", description="Sentiment model folder (same rule).")
    max_chars: int = Field(512, ge=16, description="Longer utterances are cut before encoding.")


class RetrieveOptions(_Options):
    top_k: int = 3
    query_window: int = Field(3, description="Customer utterances joined into one query.")
    approximate_above: int = Field(20000, description="Use HNSW above this many articles.")
    candidates: int = Field(30, ge=1, description="Hits each method hands to hybrid fusion.")
    rrf_k: float = Field(5.0, gt=0, description="Reciprocal rank fusion constant: 1/(rrf_k + rank) "
                         "(small: the top places of each ranking count most; tuned on "
                         "data/retrieval).")
    dense_weight: float = Field(1.5, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the morpheme BM25 ranking in fusion.")
    char_weight: float = Field(1.0, ge=0, description="Weight of the character-bigram BM25 "
                               "ranking in fusion (robust to recognizer spacing and spelling).")
    title_weight: float = Field(0.5, ge=0, description="Share of the title+tags embedding added "
                                "to the whole-article embedding in the dense index.")
    question_prefix: Literal["query", "passage", "off"] = Field(
        "query", description="How an article's example questions are embedded (each one its "
        "own vector; the article's dense score is the best of its vectors): as queries, as "
        "passages, or not at all.")
    question_weight: float = Field(0.95, ge=0, description="Scale of an example-question "
                                   "vector's similarity against the article vector's (query-query "
                                   "cosines run higher than query-passage ones; tuned on the dev "
                                   "split data/retrieval/queries_a.tsv).")
    question_repeat: int = Field(1, ge=0, description="Times example questions count in the BM25 "
                                 "text (0: not at all).")
    intent_mode: Literal["boost", "filter", "off"] = Field(
        "boost", description="What the detected intent does: raise matching articles, keep only "
        "them, or nothing.")
    intent_boost: float = Field(0.1, ge=0, description="Fusion score added to articles that "
                                "answer the detected intent (a first place adds "
                                "weight/(rrf_k+1)).")
    recency_decay: float = Field(0.35, gt=0, le=1, description="Weight of each older utterance "
                                 "in the window relative to the next newer one (at 0.5 a strong "
                                 "older topic still outranked a new one).")
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_construction: int = Field(80, ge=8, description="HNSW build-time search depth.")
    hnsw_ef_search: int = Field(128, ge=8, description="HNSW query-time search depth (recall "
                                "vs latency; see `assist bench retrieval`).")


class KbOptions(_Options):
    busy_timeout_s: float = Field(10.0, gt=0, description="How long a KB write waits for "
                                  "another writer before failing.")
    near_duplicate_cosine: float = Field(0.95, description="Warn when a new or edited article's "
                                         "embedding is this close to another article.")


class GuideOptions(_Options):
    team: str = Field("고객상담팀", description="Team name filled into script lines.")
    agent_name: str = Field("상담사", description="Agent name filled into script lines.")
    hysteresis: float = Field(0.15, description="A new top card must score this much higher.")
    topic_min_score: float = Field(
        0.75, ge=0.0, le=1.0, description="An intent under this calibrated score neither opens "
        "a new topic card nor makes the identity check required.")
    session_timeout_s: float = Field(1800.0, description="A call with no event this long is ended.")


class ServerOptions(_Options):
    host: str = "127.0.0.1"
    port: int = 7860


class UiOptions(_Options):
    users_file: Path = Field(Path("users.json"), description="Users, roles and salted password "
                             "hashes (relative: inside data_dir); made with random passwords, "
                             "printed once, on the first start when missing.")
    session_hours: float = Field(12.0, gt=0, description="A login lasts this long.")
    max_upload_mb: float = Field(50.0, gt=0, description="Larger uploads are refused.")
    poll_ms: int = Field(400, ge=100, le=5000, description="How often the agent panel refreshes.")
    warm_asr: bool = Field(True, description="Load the recognizers when the app starts "
                           "(off: on the first audio call).")
    idle_call_s: float = Field(300.0, gt=0, description="A live call with no audio or "
                               "transcript this long is ended and its summary saved.")
    max_login_failures: int = Field(5, ge=1, description="Failed logins before a 60 s pause.")
    nlu_backend: Literal["", "torch", "onnx", "onnx-fp32"] = Field(
        "onnx-fp32", description="Encoder runtime of the web app: onnx-fp32 (the fp32 ONNX "
        "export: the same vectors as torch without importing torch, so the app starts ~8 s "
        "sooner), onnx (the export's selected model, int8 when intent and sentiment stay within "
        "0.5 points; KB search loses some recall@1), torch, or '' to follow nlu.backend. "
        "Without an ONNX export the app uses nlu.backend.")


def _check_digests(value: object) -> object:
    """Token hashes must be SHA-256 hex digests (64 hex characters), never tokens."""
    items = (value,) if isinstance(value, str) else tuple(value or ())
    for item in items:
        if not (isinstance(item, str) and len(item) == 64 and all(c in "0123456789abcdef" for c in item.lower())):
            raise ValueError("token_sha256 holds SHA-256 hex digests of tokens (64 hex characters); "
                             "`assist serve --new-token TENANT` makes one")
    return tuple(i.lower() for i in items)


class TenantOptions(_Options):
    token_sha256: tuple[str, ...] = Field((), description="SHA-256 hex digests of this tenant's "
                                          "API tokens; the tokens themselves are never stored.")
    max_calls: int = Field(8, ge=1, description="Live calls at once per token.")

    _digests = field_validator("token_sha256", mode="before")(_check_digests)


class ApiOptions(_Options):
    port: int = Field(8765, description="Port of `assist serve` (host: server.host).")
    tenants: dict[str, TenantOptions] = Field(
        default_factory=dict, description="Tenant name -> tokens and limits (TOML [api.tenants.NAME] "
        "or ASSIST_API__TENANTS as JSON). No tenant: every request is refused.")
    max_message_bytes: int = Field(131072, ge=1024, description="Largest websocket message or REST "
                                   "body (bigger: close 1009 / HTTP 413).")
    max_frames_per_s: float = Field(200.0, gt=0, description="Websocket messages per second per "
                                    "connection (a stereo telephony stream sends 100).")
    event_buffer: int = Field(2000, ge=16, description="Events per call kept in memory for resume; "
                              "older ones are read back from the event store.")
    events_keep_h: float = Field(72.0, gt=0, description="Stored events of ended calls are deleted "
                                 "after this many hours.")
    subscribe_wait_s: float = Field(10.0, ge=0, description="An event stream opened before its call "
                                    "starts waits this long for it.")
    worker_threads: int = Field(16, ge=2, description="Threads that run recognition and NLU for "
                                "API calls (the event loop never does).")
    asr_processes: int = Field(0, ge=0, description="Recognition in this many worker processes "
                               "(0: in the server process).")
    nlu_processes: int = Field(0, ge=0, description="Intent/sentiment in this many worker "
                               "processes (0: in the server process).")
    save_calls: bool = Field(True, description="Save call summaries to the call log.")
    public_docs: bool = Field(True, description="Serve /docs and /openapi.json without a token.")


class Settings(BaseSettings):
    """Everything configurable. Build with ``get_settings()``; pass the parts to stages."""

    model_config = SettingsConfigDict(
        env_prefix="ASSIST_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    root: Path = Field(default_factory=Path.cwd, description="Base of relative paths.")
    data_dir: Path = Path("var")
    model_dir: Path = Path("models")
    kb_dir: Path = Path("kb")
    demo_dir: Path = Path("demo")
    log_level: str = "WARNING"
    audio: AudioOptions = AudioOptions()
    vad: VadOptions = VadOptions()
    asr: AsrOptions = AsrOptions()
    nlu: NluOptions = NluOptions()
    retrieve: RetrieveOptions = RetrieveOptions()
    kb: KbOptions = KbOptions()
    guide: GuideOptions = GuideOptions()
    server: ServerOptions = ServerOptions()
    ui: UiOptions = UiOptions()
    api: ApiOptions = ApiOptions()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("ASSIST_CONFIG", "assist.toml"))
        if "ASSIST_CONFIG" in os.environ and not toml_path.is_file():
            raise AssistError(f"Config file {toml_path} (from ASSIST_CONFIG) does not exist.")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_path))

    def path(self, value: Path) -> Path:
        """Resolve a configured path against ``root``."""
        return value if value.is_absolute() else self.root / value

    @property
    def models_path(self) -> Path:
        return self.path(self.model_dir)

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def kb_path(self) -> Path:
        return self.path(self.kb_dir)

    @property
    def demo_path(self) -> Path:
        return self.path(self.demo_dir)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; raises AssistError with the offending key on bad config."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AssistError(f"Bad setting '{where}': {first['msg']}.") from exc
