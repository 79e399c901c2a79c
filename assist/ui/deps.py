"""What the app loads once and shares across browser sessions: models, KB, call log, users.

The encoder is loaded once and shared by the classifier and KB search (one searcher serves
the agent panel, the KB editor and evaluation, so a saved edit is found on the next search).
Recognizers load at start when ``ui.warm_asr`` is on, else on the first audio call.
``DepsLoader`` loads all of it in parallel threads (start time: ``assist app --check-start``).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assist.config import Settings
from assist.session.deps import SessionDeps
from assist.session.loader import open_call_log, session_search
from assist.session.log import CallLog

if TYPE_CHECKING:
    from assist.asr import Engines
    from assist.kb import KbStore
    from assist.nlu.model import NluModel
    from assist.retrieve.search import Searcher

__all__ = ["AppDeps", "DepsLoader", "load_app_deps"]

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
    """Classifier, KB searcher (seeds an empty KB from kb/), scripts, call log, and the
    recognizers when ``ui.warm_asr`` is on; loaded side by side (see ``DepsLoader``)."""
    return DepsLoader(settings, warm_asr).result()


class DepsLoader:
    """Loads what the app needs in three threads, so their waits overlap on a small machine:

    * ``kb``: seed an empty KB from kb/, copy in the KB vectors made at build time, load the
      Korean analyzer and cut the articles into keyword terms;
    * ``nlu``: encoder and heads (fp32 ONNX by default, ``ui.nlu_backend``), then, once
      ``kb`` is done, the searcher over the KB, then one classification and one search so
      both are warm;
    * ``asr``: the recognizers (vosk and Whisper), when ``warm_asr``.

    ``timings`` holds each step's seconds, for ``assist app --check-start``.
    """

    def __init__(self, settings: Settings, warm_asr: bool | None = None) -> None:
        from assist.ui.warm import app_backend, app_settings

        self.original = settings
        self.backend = app_backend(settings)  # the app's encoder runtime
        self.settings = settings = app_settings(settings)
        self.warm_asr = settings.ui.warm_asr if warm_asr is None else warm_asr
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self._errors: dict[str, BaseException] = {}
        self._values: dict[str, Any] = {}
        self._deps: AppDeps | None = None
        self._started = time.perf_counter()
        # Light modules the threads share, imported here first: two threads importing one
        # package at once can see it half initialized (circular imports).
        import assist.asr  # noqa: F401
        import assist.kb  # noqa: F401
        import assist.nlu.model  # noqa: F401
        import assist.retrieve.keyword  # noqa: F401
        import assist.retrieve.search  # noqa: F401
        import assist.ui.warm  # noqa: F401

        self._threads = {name: threading.Thread(target=self._run, args=(name, job),
                                                name=f"load-{name}", daemon=True)
                         for name, job in (("kb", self._kb), ("nlu", self._nlu),
                                           ("asr", self._asr)) if name != "asr" or self.warm_asr}
        for thread in self._threads.values():
            thread.start()

    def _run(self, name: str, job) -> None:
        try:
            self._values[name] = job()
        except BaseException as exc:  # re-raised by result()
            self._errors[name] = exc
        self.timings[f"{name} ready"] = time.perf_counter() - self._started

    def _step(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.timings[name] = now - started
        return now

    def _kb(self) -> None:
        from assist.kb import seed_from_folder
        from assist.text.spacing import kiwi
        from assist.ui.warm import prefill_vectors, warm_terms

        mark = time.perf_counter()
        seeded = seed_from_folder(self.settings)
        mark = self._step("kb seed", mark)
        copied = prefill_vectors(self.settings)
        if seeded is not None or copied:
            self.notes.append(("fresh data dir: KB seeded from kb/, " if seeded is not None else "")
                              + f"{copied} article vectors copied from build time")
        mark = self._step("kb vectors copy", mark)
        kiwi()
        mark = self._step("kiwi load", mark)
        warm_terms(self.settings)
        self._step("kb keyword terms", mark)

    def _nlu(self) -> tuple:
        from assist.kb.scripts import load_scripts
        from assist.retrieve.search import Searcher
        from assist.text import redact
        from assist.ui.warm import load_app_nlu

        mark = time.perf_counter()
        nlu = load_app_nlu(self.original)
        mark = self._step("nlu load", mark)
        encoder = nlu.encoder if hasattr(nlu.encoder, "encode_passages") else None
        self._threads["kb"].join()
        if "kb" in self._errors:
            raise self._errors["kb"]
        mark = self._step("wait for kb", mark)
        searcher = Searcher.open(self.settings, encoder=encoder)
        if searcher.rebuilt_because:
            self.notes.append(f"article index rebuilt: {searcher.rebuilt_because}")
        mark = self._step("searcher open", mark)
        nlu.classify("요금이 왜 이렇게 많이 나왔어요")
        searcher.search(["요금이 왜 이렇게 많이 나왔어요"], k=self.settings.retrieve.top_k)
        self._step("warm-up", mark)
        scripts = load_scripts(self.settings.kb_path / "scripts")
        return nlu, searcher, scripts, redact

    def _asr(self) -> Any:
        from assist.asr import load_engines

        mark = time.perf_counter()
        log.info("loading recognizers (%s)", self.settings.asr.mode)
        engines = load_engines(self.settings)
        self._step("asr load", mark)
        return engines

    def result(self) -> AppDeps:
        """The loaded deps (waits); raises what a loading thread raised."""
        if self._deps is not None:
            return self._deps
        for thread in self._threads.values():
            thread.join()
        for name in ("kb", "nlu", "asr"):
            if name in self._errors:
                if name != "asr" and "asr" in self._values:
                    self._values["asr"].close()
                raise self._errors[name]
        nlu, searcher, scripts, redact = self._values["nlu"]
        settings = self.settings
        session = SessionDeps(classify=nlu.classify, search=session_search(settings, searcher),
                              scripts=scripts, redact=redact, retrieve=settings.retrieve,
                              guide=settings.guide, model_name=getattr(nlu, "name", ""))
        self._deps = AppDeps(settings, session, nlu, searcher, open_call_log(settings),
                             _engines=self._values.get("asr"))
        return self._deps
