"""The API app: ``create_app(settings)`` builds it on the shared engines, ``serve`` runs it.

The Gradio UI can be mounted on the same app (``gradio.mount_gradio_app(app, blocks, "/ui")``),
so one process serves both; ``assist serve`` runs the API alone. Engines and session deps are
loaded once per process and shared by every call (pass them in to share them with the UI).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from assist.api import events_out, media, rest
from assist.api.auth import Principal, TokenBook, require_principal
from assist.api.events_out import EventBus
from assist.api.hub import CallHub
from assist.api.limits import ApiRefusal
from assist.api.store import EventStore
from assist.api.workers import (
    Classifier, LocalClassifier, LocalRecognition, ProcessClassifier, ProcessRecognition, Recognition,
)
from assist.asr import Engines
from assist.config import Settings
from assist.session.deps import SessionDeps
from assist.session.log import CallLog

__all__ = ["ApiState", "build_state", "create_app", "server_config", "serve"]

log = logging.getLogger(__name__)
EXPIRE_EVERY_S = 30.0
WS_HARD_CAP_BYTES = 16 * 2**20


@dataclass
class ApiState:
    """Everything the handlers share, at ``app.state.api``."""

    settings: Settings
    tokens: TokenBook
    deps: SessionDeps
    classifier: Classifier
    recognition: Recognition
    store: EventStore
    bus: EventBus
    call_log: CallLog
    hub: CallHub
    owned: list[Any] = field(default_factory=list)  # closed at shutdown

    def close(self) -> None:
        for thing in reversed(self.owned):
            try:
                thing.close()
            except Exception:
                log.exception("closing %s failed", type(thing).__name__)


def build_state(settings: Settings, deps: SessionDeps | None = None,
                engines: Engines | None = None) -> ApiState:
    """Load (or take) session deps and engines; worker processes when configured."""
    from assist.session.loader import build_deps, open_call_log

    opts = settings.api
    owned: list[Any] = []
    deps = deps or build_deps(settings)
    classifier: Classifier = LocalClassifier(deps.classify)
    if opts.nlu_processes:
        classifier = ProcessClassifier(settings, opts.nlu_processes)
        owned.append(classifier)
        deps = replace(deps, classify=classifier.classify)
    if opts.asr_processes:
        recognition: Recognition = ProcessRecognition(settings, opts.asr_processes)
        owned.append(recognition)
    elif engines is None:
        from assist.asr import load_engines

        recognition = LocalRecognition(load_engines(settings), owns_engines=True)
        owned.append(recognition)
    else:
        recognition = LocalRecognition(engines)
    store = EventStore(settings.data_path / "api" / "events.sqlite3", opts.event_buffer,
                       opts.events_keep_h)
    bus = EventBus()
    store.notify = bus.notify
    call_log = open_call_log(settings)
    owned += [call_log, store]
    hub = CallHub(deps, recognition, store, call_log, opts.save_calls)
    return ApiState(settings, TokenBook(opts), deps, classifier, recognition, store, bus, call_log,
                    hub, owned)


def create_app(settings: Settings, deps: SessionDeps | None = None,
               engines: Engines | None = None) -> FastAPI:
    """The FastAPI app with audio-in websockets, event streams and REST; OpenAPI at /docs."""
    state = build_state(settings, deps, engines)
    public = settings.api.public_docs
    app = FastAPI(title="assist live call API", version="1", lifespan=_lifespan,
                  max_body_size=settings.api.max_message_bytes,
                  docs_url="/docs" if public else None, openapi_url="/openapi.json" if public else None,
                  description=(media.__doc__ or "") + "\n" + (events_out.__doc__ or ""))
    app.state.api = state
    app.include_router(rest.router)
    app.include_router(events_out.router)
    app.include_router(media.router)
    app.add_exception_handler(ApiRefusal, _refusal)

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi_with_token(principal: Principal = Depends(require_principal)) -> dict:
        return app.openapi()

    @app.get("/healthz", tags=["ops"])
    def health() -> dict:
        """Liveness (no token: it says nothing about calls)."""
        return {"ok": True}

    return app


async def _refusal(request: Request, exc: ApiRefusal) -> JSONResponse:
    return JSONResponse({"error": exc.code, "detail": exc.reason}, status_code=exc.http_status)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    state: ApiState = app.state.api
    loop = asyncio.get_running_loop()
    state.bus.bind(loop)
    executor = ThreadPoolExecutor(state.settings.api.worker_threads, thread_name_prefix="assist-api")
    loop.set_default_executor(executor)
    if not len(state.tokens):
        log.warning("no API tokens configured (api.tenants): every request will be refused")
    expiry = asyncio.create_task(_expire(state))
    try:
        yield
    finally:
        expiry.cancel()
        await asyncio.to_thread(state.hub.shutdown)
        state.close()
        executor.shutdown(wait=False)


async def _expire(state: ApiState) -> None:
    while True:
        await asyncio.sleep(EXPIRE_EVERY_S)
        try:
            await asyncio.to_thread(state.hub.expire, state.settings.guide.session_timeout_s)
        except RuntimeError as exc:
            if "after shutdown" in str(exc):  # the thread pool is gone: the server is stopping
                return
            log.exception("expiring idle calls failed")
        except Exception:
            log.exception("expiring idle calls failed")


def server_config(app: FastAPI, settings: Settings, host: str | None = None,
                  port: int | None = None):
    """uvicorn settings for the API (access log off: tokens may be in URLs).

    The app closes a message over ``api.max_message_bytes`` with 1009 after reading it; uvicorn's
    own cap is far higher (a message over it drops the connection without a close frame).
    """
    import uvicorn

    return uvicorn.Config(app, host=host or settings.server.host, port=port or settings.api.port,
                          ws_max_size=max(WS_HARD_CAP_BYTES, 4 * settings.api.max_message_bytes),
                          access_log=False, log_level=settings.log_level.lower(),
                          timeout_graceful_shutdown=15, lifespan="on")


def serve(settings: Settings, host: str | None = None, port: int | None = None,
          app: FastAPI | None = None) -> None:
    """Run the API with uvicorn until interrupted."""
    import uvicorn

    uvicorn.Server(server_config(app or create_app(settings), settings, host, port)).run()
