"""REST, SSE, tenants and tokens, and resume after a server restart, on a real server."""
from __future__ import annotations

import json
import time

from api_helpers import TOKEN_A, TOKEN_B, LiveServer, api_settings, closed_with

BILL = "이번 달 요금이 너무 많이 나왔어요. 왜 이렇게 많이 나왔는지 확인해 주세요."


def _turn(speaker: str, text: str, start_s: float, is_final: bool = True) -> dict:
    return {"speaker": speaker, "text": text, "is_final": is_final, "start_s": start_s,
            "end_s": start_s + 2.0}


def test_classify_matches_the_session_model(server, deps):
    response = server.http().post("/v1/classify", json={"text": BILL})
    assert response.status_code == 200
    body = response.json()
    local = deps.classify(BILL)
    assert body["v"] == 1 and body["intent"] == local.intent and body["sentiment"] == local.sentiment
    assert abs(body["intent_score"] - local.intent_score) < 1e-4


def test_kb_search(server):
    hits = server.http().get("/v1/kb/search", params={"q": BILL}).json()
    assert hits and hits[0]["article_id"] and hits[0]["say"]
    assert server.http().get("/v1/kb/search", params={"q": ""}).status_code == 422


def test_transcript_in_call_with_feedback_and_summary(server):
    http = server.http()
    partial = http.post("/v1/calls/text-1/transcript", json=_turn("customer", "이번 달 요금이", 1.0, False))
    assert partial.status_code == 200 and [e["type"] for e in partial.json()] == ["TranscriptEvent"]
    final = http.post("/v1/calls/text-1/transcript", json=_turn("customer", BILL, 1.0)).json()
    first, last = partial.json()[0], final[0]
    assert last["segment_id"] == first["segment_id"] and last["revision"] > first["revision"]
    types = [e["type"] for e in final]
    assert "InsightEvent" in types and "Suggestions" in types
    assert [e["seq"] for e in final] == list(range(2, 2 + len(final)))
    article = next(e for e in final if e["type"] == "Suggestions")["answers"][0]["article_id"]
    assert http.post("/v1/calls/text-1/feedback", json={"article_id": article, "kind": "used"}).status_code == 204
    assert http.post("/v1/calls/text-1/feedback", json={"article_id": article, "kind": "meh"}).status_code == 422
    summary = http.post("/v1/calls/text-1/end")
    assert summary.status_code == 200 and summary.json()["type"] == "CallSummary"
    call = http.get("/v1/calls/text-1").json()
    assert call["state"] == "ended" and call["summary"]["intents"] and call["last_seq"] == summary.json()["seq"]
    assert "text-1" in [c["call_id"] for c in http.get("/v1/calls").json()]
    assert http.post("/v1/calls/text-1/transcript", json=_turn("agent", "네", 5.0)).status_code == 409


def test_sse_resumes_from_last_event_id(server):
    http = server.http()
    for index, text in enumerate([BILL, "인터넷도 자꾸 끊겨요."]):
        http.post("/v1/calls/sse-1/transcript", json=_turn("customer", text, 3.0 * index))
    end_seq = http.post("/v1/calls/sse-1/end").json()["seq"]
    seen = []
    with http.stream("GET", "/v1/calls/sse-1/events", headers={"Last-Event-ID": "2"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                seen.append(int(line[4:]))
    assert seen == list(range(3, end_seq + 1))


def test_bad_token_and_missing_token(server):
    for token in ("wrong", None):
        client = server.http(token)
        assert client.get("/v1/calls").status_code == 401
        assert client.post("/v1/classify", json={"text": "hi"}).status_code == 401
        assert client.get("/v1/calls/text-1/events").status_code == 401
    assert server.http(None).get(f"/v1/calls?token={TOKEN_A}").status_code == 200


def test_another_tenant_cannot_see_a_call(server):
    http_a, http_b = server.http(), server.http(TOKEN_B)
    http_a.post("/v1/calls/private-1/transcript", json=_turn("customer", BILL, 0.0))
    assert http_b.get("/v1/calls/private-1").status_code == 404
    assert http_b.get("/v1/calls/private-1/events").status_code == 404
    assert http_b.post("/v1/calls/private-1/feedback", json={"article_id": "x", "kind": "up"}).status_code == 404
    assert http_b.post("/v1/calls/private-1/end").status_code == 404
    assert http_b.post("/v1/calls/private-1/transcript", json=_turn("agent", "네", 3.0)).status_code == 409
    assert "private-1" not in [c["call_id"] for c in http_b.get("/v1/calls").json()]
    with server.ws("/v1/calls/private-1/events", token=TOKEN_B) as ws:
        assert closed_with(ws)[0] == 4004
    assert http_a.post("/v1/calls/private-1/end").status_code == 200


def test_limits_and_validation(server):
    http = server.http()
    assert http.post("/v1/classify", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    big = json.dumps({"text": "가" * 100_000})
    assert http.post("/v1/classify", content=big, headers={"content-type": "application/json"}).status_code == 413
    assert http.post("/v1/calls/bad id!/transcript", json=_turn("agent", "네", 0.0)).status_code in (404, 422)
    assert http.post("/v1/calls/v-1/transcript", json={**_turn("agent", "네", 5.0), "end_s": 1.0}).status_code == 422


def test_openapi_and_event_schema(server):
    spec = server.http(None).get("/openapi.json").json()
    for path in ("/v1/classify", "/v1/kb/search", "/v1/calls", "/v1/calls/{call_id}",
                 "/v1/calls/{call_id}/feedback", "/v1/calls/{call_id}/transcript",
                 "/v1/calls/{call_id}/events"):
        assert path in spec["paths"], path
    schema = server.http().get("/v1/events/schema").json()
    assert schema["v"] == 1 and "Suggestions" in schema["types"] and "seq" in schema["envelope"]["properties"]


def test_restart_resumes_from_since(tmp_path, deps, engines):
    settings = api_settings(tmp_path)
    first = LiveServer(settings, deps, engines).start()
    http = first.http()
    for index, text in enumerate([BILL, "인터넷도 자꾸 끊겨요.", "해지하면 위약금이 있나요?"]):
        http.post("/v1/calls/restart-1/transcript", json=_turn("customer", text, 3.0 * index))
    with first.ws("/v1/calls/restart-1/events") as ws:
        seen = [json.loads(ws.recv(timeout=10))["seq"] for _ in range(3)]
    last_before = http.get("/v1/calls/restart-1").json()["last_seq"]
    first.stop()  # the call is interrupted, its events are on disk

    second = LiveServer(settings, deps, engines, port=first.port).start()
    try:
        http = second.http()
        assert http.get("/v1/calls/restart-1").json()["state"] == "interrupted"
        with second.ws(f"/v1/calls/restart-1/events?since={seen[-1]}") as ws:
            resumed = [json.loads(ws.recv(timeout=10))["seq"] for _ in range(seen[-1], last_before)]
            assert resumed == list(range(seen[-1] + 1, last_before + 1))
            more = http.post("/v1/calls/restart-1/transcript", json=_turn("customer", BILL, 12.0)).json()
            assert more[0]["seq"] == last_before + 1  # the reopened call numbers on
            end_seq = http.post("/v1/calls/restart-1/end").json()["seq"]
            deadline, tail = time.monotonic() + 20, []
            while (not tail or tail[-1] < end_seq) and time.monotonic() < deadline:
                tail.append(json.loads(ws.recv(timeout=10))["seq"])
            assert tail == list(range(last_before + 1, end_seq + 1))
            assert closed_with(ws) == (1000, "call ended")
    finally:
        second.stop()
