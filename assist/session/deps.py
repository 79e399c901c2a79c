"""What a call session needs from the stages before it, loaded once per process."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assist.config import GuideOptions, RetrieveOptions
from assist.guide.lines import ScriptBook

__all__ = ["SessionDeps", "NluResult", "SearchHit"]


class NluResult(Protocol):
    intent: str
    intent_score: float
    top_intents: Sequence[tuple[str, float]]
    sentiment: str
    sentiment_score: float


class SearchHit(Protocol):
    article_id: str
    version: int
    title: str
    say: str
    why: str
    score: float


@dataclass(frozen=True)
class SessionDeps:
    classify: Callable[[str], Any]  # text -> NluResult
    search: Callable[[list[str], str | None], Sequence[Any]]  # utterances, intent -> SearchHits
    scripts: ScriptBook
    redact: Callable[[str], str]
    retrieve: RetrieveOptions
    guide: GuideOptions
    model_name: str = ""
