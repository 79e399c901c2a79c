"""REST: classify text, search the KB, list and read calls, feedback, transcript in, end a call.

Handlers are plain functions, so FastAPI runs them in its thread pool (the engines never run
on the event loop). Every one needs a tenant token; a call is visible to its own tenant only
(anyone else gets 404, as for a call that does not exist).
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import TypeAdapter

from assist.api.auth import Principal, require_principal
from assist.api.limits import POLICY, ApiRefusal
from assist.api.schemas import (
    CALL_ID_PATTERN, CallInfo, ClassifyRequest, ClassifyResponse, EventOut, FeedbackRequest, KbHit,
    TranscriptIn,
)
from assist.api.store import CallMeta
from assist.asr.events import TranscriptEvent
from assist.guide.events import Alert, ChecklistState, StageChange, Suggestions
from assist.session.events import CallSummary, InsightEvent
from assist.session.serialize import SCHEMA_VERSION

__all__ = ["router", "EVENT_TYPES"]

router = APIRouter(prefix="/v1")
CallId = Path(pattern=CALL_ID_PATTERN, description="The platform's call id.")
EVENT_TYPES = (TranscriptEvent, InsightEvent, Suggestions, StageChange, ChecklistState, Alert,
               CallSummary)
_JSON_COLUMNS = ("intents", "checklist", "stages", "alerts", "follow_ups")


@router.post("/classify", response_model=ClassifyResponse, tags=["nlu"])
def classify(body: ClassifyRequest, request: Request,
             principal: Principal = Depends(require_principal)) -> ClassifyResponse:
    """Intent and sentiment of one utterance (the model the live calls use)."""
    insight = request.app.state.api.classifier.classify(body.text)
    return ClassifyResponse(
        v=SCHEMA_VERSION, intent=insight.intent, intent_score=float(insight.intent_score),
        top_intents=[(c, float(s)) for c, s in insight.top_intents], sentiment=insight.sentiment,
        sentiment_score=float(insight.sentiment_score), unsure=bool(getattr(insight, "unsure", False)),
        model=str(getattr(insight, "model", "")))


@router.get("/kb/search", response_model=list[KbHit], tags=["kb"])
def kb_search(request: Request, q: str = Query(min_length=1, max_length=2000),
              intent: str | None = Query(None, max_length=64),
              principal: Principal = Depends(require_principal)) -> list[KbHit]:
    """The best KB articles for a text, as suggestion cards rank them."""
    hits = request.app.state.api.deps.search([q], intent)
    return [KbHit(article_id=h.article_id, version=h.version, title=h.title, say=h.say, why=h.why,
                  score=round(float(h.score), 4)) for h in hits]


@router.get("/calls", response_model=list[CallInfo], tags=["calls"])
def list_calls(request: Request, limit: int = Query(50, ge=1, le=500),
               principal: Principal = Depends(require_principal)) -> list[CallInfo]:
    """This tenant's calls, newest first (live, ended, interrupted)."""
    api = request.app.state.api
    return [_info(api, meta, with_summary=False) for meta in api.store.calls(principal.tenant, limit)]


@router.get("/calls/{call_id}", response_model=CallInfo, tags=["calls"])
def get_call(request: Request, call_id: str = CallId,
             principal: Principal = Depends(require_principal)) -> CallInfo:
    """One call: state, last event seq, and its saved summary once it ended."""
    api = request.app.state.api
    return _info(api, api.hub.owned(call_id, principal), with_summary=True)


@router.post("/calls/{call_id}/feedback", status_code=204, tags=["calls"])
def post_feedback(body: FeedbackRequest, request: Request, call_id: str = CallId,
                  principal: Principal = Depends(require_principal)) -> Response:
    """The agent used / liked / disliked a suggested article."""
    api = request.app.state.api
    api.hub.owned(call_id, principal)
    api.call_log.feedback(call_id, body.article_id, body.kind, body.agent)
    return Response(status_code=204)


@router.post("/calls/{call_id}/transcript", response_model=list[EventOut], tags=["calls"])
def post_transcript(body: TranscriptIn, request: Request, call_id: str = CallId,
                    principal: Principal = Depends(require_principal)) -> list[dict[str, Any]]:
    """Transcript in (platforms that transcribe): the first turn starts the call. Returns the
    events this turn produced (they also go to the call's event streams)."""
    api = request.app.state.api
    call = api.hub.text_call(call_id, principal)
    return [json.loads(r.body) for r in api.hub.transcript(call, body)]


@router.post("/calls/{call_id}/end", response_model=EventOut, tags=["calls"])
def end_call(request: Request, call_id: str = CallId,
             principal: Principal = Depends(require_principal)) -> dict[str, Any]:
    """End a live call now: its CallSummary (saved to the call log)."""
    api = request.app.state.api
    meta = api.hub.owned(call_id, principal)
    call = api.hub.live(call_id, principal)
    record = api.hub.close(call) if call is not None else None
    if record is None:
        raise ApiRefusal(POLICY, f"call {call_id} is not live ({meta.state})")
    return json.loads(record.body)


@router.get("/events/schema", tags=["events"])
def event_schema(principal: Principal = Depends(require_principal)) -> dict[str, Any]:
    """JSON schema of every event type sent on event streams (envelope: seq, v, type)."""
    return {"v": SCHEMA_VERSION, "envelope": EventOut.model_json_schema(),
            "types": {cls.__name__: TypeAdapter(cls).json_schema() for cls in EVENT_TYPES}}


def _info(api, meta: CallMeta, with_summary: bool) -> CallInfo:
    saved = api.call_log.call(meta.call_id) if meta.state == "ended" else None
    summary = None
    if saved is not None and with_summary:
        summary = {k: (json.loads(v) if k in _JSON_COLUMNS and isinstance(v, str) else v)
                   for k, v in saved.items()}
    return CallInfo(call_id=meta.call_id, state=meta.state, mode=meta.mode or "",
                    started_at=meta.started_at, ended_at=meta.ended_at, last_seq=meta.last_seq,
                    disposition=saved["disposition"] if saved else None, summary=summary)
