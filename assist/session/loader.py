"""Load what sessions need once per process: NLU model, KB searcher, scripts, call log."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assist.config import Settings
from assist.session.deps import SessionDeps
from assist.session.log import CallLog

__all__ = ["build_deps", "open_call_log", "open_search", "session_search"]


def open_call_log(settings: Settings) -> CallLog:
    return CallLog(settings.data_path / "calls.sqlite3")


def open_search(settings: Settings) -> Callable[[list[str], str | None], Sequence[Any]]:
    """Hybrid KB search over the store (seeded from kb/ on first start); sees edits at once."""
    from assist.retrieve.search import Searcher

    return session_search(settings, Searcher.open(settings))


def session_search(settings: Settings, searcher: Any) -> Callable[[list[str], str | None], Sequence[Any]]:
    """What a call session searches with."""
    # More candidates than the panel shows, so the card on screen is scored against new words.
    k = max(settings.retrieve.top_k, 10)

    def search(utterances: list[str], intent: str | None) -> Sequence[Any]:
        return searcher.search(utterances, k=k, intent=intent)

    return search


def build_deps(settings: Settings) -> SessionDeps:
    from assist.kb.scripts import load_scripts
    from assist.nlu.model import load_nlu
    from assist.text import redact

    nlu = load_nlu(settings)
    return SessionDeps(
        classify=nlu.classify,
        search=open_search(settings),
        scripts=load_scripts(settings.kb_path / "scripts"),
        redact=redact,
        retrieve=settings.retrieve,
        guide=settings.guide,
        model_name=getattr(nlu, "name", ""),
    )
