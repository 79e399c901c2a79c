"""What the app loads once and shares across browser sessions: models, KB, call log, users.

The encoder is loaded once and shared by the classifier and KB search (one searcher serves
the agent panel, the KB editor and evaluation, so a saved edit is found on the next search).
Recognizers load at start when ``ui.warm_asr`` is on, else on the first audio call.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assist.config import Settings
from assist.session.deps import SessionDeps
from assist.session.loader import open_call_log
from assist.session.log import CallLog

if TYPE_CHECKING:
    from assist.asr import Engines
    from assist.kb import KbStore
    from assist.nlu.model import NluModel
    from assist.retrieve.search import Searcher

__all__ = ["AppDeps", "load_app_deps"]

log = logging.getLogger(__name__)


@dataclass
class AppDeps:
    settings: Settings
    session: SessionDeps
    nlu: NluModel
    searcher: Searcher
    call_log: CallLog
    _engines: Any = None
    _engine_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> KbStore:
        return self.searcher.store

    def engines(self) -> Engines:
        """The shared recognizers, loaded on first use (raises AssistError when missing)."""
        with self._engine_lock:
            if self._engines is None:
                from assist.asr import load_engines

                log.info("loading recognizers (%s)", self.settings.asr.mode)
                self._engines = load_engines(self.settings)
            return self._engines

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()
        self.call_log.close()


def load_app_deps(settings: Settings, warm_asr: bool | None = None) -> AppDeps:
    """Classifier, KB searcher (seeds an empty KB from kb/), scripts and call log."""
    from assist.kb.scripts import load_scripts
    from assist.nlu.model import load_nlu
    from assist.retrieve.search import Searcher
    from assist.text import redact

    nlu = load_nlu(settings)
    encoder = nlu.encoder if hasattr(nlu.encoder, "encode_passages") else None
    searcher = Searcher.open(settings, encoder=encoder)
    top_k = settings.retrieve.top_k

    def search(utterances: list[str], intent: str | None):
        return searcher.search(utterances, k=top_k, intent=intent)

    session = SessionDeps(classify=nlu.classify, search=search,
                          scripts=load_scripts(settings.kb_path / "scripts"), redact=redact,
                          retrieve=settings.retrieve, guide=settings.guide,
                          model_name=getattr(nlu, "name", ""))
    deps = AppDeps(settings, session, nlu, searcher, open_call_log(settings))
    if settings.ui.warm_asr if warm_asr is None else warm_asr:
        deps.engines()
    return deps
