"""Audio in over websockets on a real server: a replayed call, then every fault and its close code.

Each fault runs while another call is live; that call must still end normally (1000) after.
"""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import defaultdict

import numpy as np
import pytest
import soxr
from api_helpers import (
    STOP, TOKEN_A, TOKEN_B, LiveServer, api_settings, closed_with, healthy_call, media_messages,
    silence_messages, start_message,
)

from assist.evaluate.synth import Turn, render_call

TURNS = [
    Turn("agent", "감사합니다. 한빛텔레콤 고객센터입니다. 무엇을 도와드릴까요?", 0.5),
    Turn("customer", "이번 달 요금이 너무 많이 나와서요. 확인 좀 해 주세요.", 5.0),
    Turn("agent", "네 고객님, 요금 내역을 바로 확인해 드리겠습니다.", 11.0),
]


@pytest.fixture(scope="module")
def call_8k() -> np.ndarray:
    audio, _ = render_call(TURNS, speakers=("customer", "agent"))
    return soxr.resample(audio, 16000, 8000).astype(np.float32)


class EventReader:
    """Reads a call's event stream in a thread, stamping each event with its arrival time."""

    def __init__(self, server, call_id: str, since: int = 0, token: str = TOKEN_A) -> None:
        self.server, self.path = server, f"/v1/calls/{call_id}/events?since={since}"
        self.token = token
        self.events: list[dict] = []
        self.close: tuple[int, str] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        with self.server.ws(self.path, token=self.token) as ws:
            try:
                while True:
                    event = json.loads(ws.recv(timeout=120))
                    event["_rx"] = time.time()
                    self.events.append(event)
            except (ConnectionClosed, TimeoutError):
                pass
            self.close = (ws.close_code, ws.close_reason or "")

    def join(self, timeout: float = 120) -> list[dict]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "event stream did not end"
        return self.events


def test_replayed_call_streams_transcripts_insights_and_suggestions(server, call_8k):
    reader = EventReader(server, "replay-1")
    messages = media_messages(call_8k, frame_ms=200)
    with server.ws("/v1/media") as ws:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(start_message("replay-1"))
        started = time.monotonic()
        for index, message in enumerate(messages):  # 200 ms per track, paced to call time
            delay = started + (index // 2) * 0.2 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ws.send(message)
        ws.send(STOP)
        assert closed_with(ws) == (1000, "call ended")
    events = reader.join()
    assert reader.close == (1000, "call ended")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["v"] == 1 for e in events) and events[-1]["type"] == "CallSummary"
    transcripts = [e for e in events if e["type"] == "TranscriptEvent"]
    assert {e["speaker"] for e in transcripts if e["is_final"]} == {"customer", "agent"}
    _finals_replace_partials(transcripts)
    _suggestions_follow_customer_finals(events)
    saved = server.http().get("/v1/calls/replay-1").json()
    assert saved["state"] == "ended" and saved["summary"]["call_id"] == "replay-1"


def _finals_replace_partials(transcripts: list[dict]) -> None:
    by_segment = defaultdict(list)
    for event in transcripts:
        by_segment[event["segment_id"]].append(event)
    partial_segments = [s for s, evs in by_segment.items() if not evs[0]["is_final"]]
    assert partial_segments, "no partials streamed"
    for segment_id, evs in by_segment.items():
        revisions = [e["revision"] for e in evs]
        assert revisions == sorted(revisions), segment_id
        first_final = next(i for i, e in enumerate(evs) if e["is_final"])
        assert all(not e["is_final"] for e in evs[:first_final])
        assert all(e["is_final"] for e in evs[first_final:]), "a partial after the final"
        assert evs[first_final]["revision"] > 0


def _suggestions_follow_customer_finals(events: list[dict]) -> None:
    """Each customer final is classified at once (its insight follows it); a Suggestions card, when
    the session has one (it needs a topical intent: robot speech through a phone codec is mostly
    heard as 'none'), belongs to the final just before it. Cards from in-domain text are tested
    through transcript-in (test_api_rest)."""
    finals = [e for e in events if e["type"] == "TranscriptEvent" and e["is_final"]
              and e["speaker"] == "customer" and e["text"]]
    assert finals
    for final in finals:
        insight = next(e for e in events if e["seq"] > final["seq"] and e["type"] == "InsightEvent")
        assert insight["segment_id"] == final["segment_id"]  # classified right after the final
        # How fast is `assist bench api`'s job (docs/RESULTS.md), not a timed test's.
    for suggestion in (e for e in events if e["type"] == "Suggestions"):
        final = [f for f in finals if f["seq"] < suggestion["seq"]][-1]
        assert final["segment_id"] == suggestion["segment_id"] and suggestion["answers"]


def test_pcm_mode_streams_a_call(server, call_8k):
    pcm = (np.clip(call_8k[: 8000 * 8], -1, 1) * 32767).astype("<i2")
    reader = EventReader(server, "pcm-1")
    with server.ws("/v1/media/pcm") as ws:
        ws.send(json.dumps({"event": "start", "call_id": "pcm-1", "sample_rate": 8000, "channels": 2,
                            "channel_map": ["customer", "agent"]}))
        for start in range(0, len(pcm), 1600):  # 200 ms frames, faster than real time
            ws.send(pcm[start:start + 1600].tobytes())
            time.sleep(0.02)
        ws.send(json.dumps({"event": "stop"}))
        assert closed_with(ws) == (1000, "call ended")
    events = reader.join()
    assert events[-1]["type"] == "CallSummary"
    assert any(e["type"] == "TranscriptEvent" and e["is_final"] for e in events)


def _refused(server, path: str, messages: list, token: str = TOKEN_A) -> tuple[int, str]:
    from websockets.exceptions import ConnectionClosed

    with server.ws(path, token=token) as ws:
        try:
            for message in messages:
                ws.send(message)
        except (ConnectionClosed, OSError):
            pass
        return closed_with(ws)


@pytest.mark.parametrize("case, messages, code, reason", [
    ("malformed json", ["{not json"], 1003, "malformed JSON"),
    ("binary on json stream", [b"\x00\x01"], 1003, "binary message"),
    ("media before start", [json.dumps({"event": "media", "media": {"track": "inbound",
                                                                    "payload": ""}})], 1008, "before start"),
    ("invalid start", [json.dumps({"event": "start", "start": {"tracks": "both"}})], 1008, "invalid start"),
    ("wrong sample rate", [start_message("f-rate", rate=16000)], 1003, "sample rate 16000"),
    ("wrong encoding", [start_message("f-enc", encoding="audio/l16")], 1003, "encoding"),
    ("base64 garbage", [start_message("f-b64"), json.dumps(
        {"event": "media", "media": {"track": "inbound", "payload": "%%% not base64 ***"}})],
     1003, "not base64"),
    ("10 MB frame", [start_message("f-big"), "x" * (10 * 1024 * 1024)], 1009, ""),
])
def test_telephony_faults_close_with_their_code(server, case, messages, code, reason):
    with healthy_call(server, f"bystander-{case.replace(' ', '-')}"):
        got = _refused(server, "/v1/media", messages)
    assert got[0] == code and reason in got[1], (case, got)
    assert not [c for c in server.hub.live_calls() if c.startswith("f-")]


@pytest.mark.parametrize("case, messages, code, reason", [
    ("wrong sample rate", [json.dumps({"call_id": "p-rate", "sample_rate": 12345})], 1003, "12345"),
    ("audio before start", [b"\x00\x00" * 100], 1003, "before the JSON start"),
    ("odd bytes", [json.dumps({"call_id": "p-odd", "sample_rate": 16000}), b"\x00" * 3], 1003, "whole"),
    ("channel map mismatch", [json.dumps({"call_id": "p-map", "sample_rate": 16000, "channels": 1})],
     1008, "channel_map"),
])
def test_pcm_faults_close_with_their_code(server, case, messages, code, reason):
    with healthy_call(server, f"bystander-pcm-{case.replace(' ', '-')}"):
        got = _refused(server, "/v1/media/pcm", messages)
    assert got[0] == code and reason in got[1], (case, got)
    assert not [c for c in server.hub.live_calls() if c.startswith("p-")]


def test_unknown_event_is_answered_and_the_call_goes_on(server):
    with server.ws("/v1/media") as ws:
        ws.send(start_message("unknown-1"))
        ws.send(json.dumps({"event": "hologram", "data": 1}))
        error = json.loads(ws.recv(timeout=10))
        assert error["event"] == "error" and error["code"] == "unknown_event"
        for message in silence_messages(0.4):
            ws.send(message)
        ws.send(STOP)
        assert closed_with(ws) == (1000, "call ended")


def test_frame_rate_limit(server):
    with healthy_call(server, "bystander-rate"):
        flood = [start_message("f-flood")] + [json.dumps({"event": "mark"})] * 400
        assert _refused(server, "/v1/media", flood)[0] == 1008


def test_bad_or_missing_token_closes_4001(server):
    with healthy_call(server, "bystander-token"):
        assert _refused(server, "/v1/media", [start_message("f-tok")], token="wrong") == (4001, "unknown token")
        assert _refused(server, "/v1/media", [start_message("f-tok")], token=None)[0] == 4001
        assert _refused(server, "/v1/media/pcm", [b"\x00\x00"], token="wrong")[0] == 4001
        assert _refused(server, "/v1/calls/replay-1/events", [], token="wrong")[0] == 4001
    assert "f-tok" not in server.hub.live_calls()


def test_token_in_query_string_works(server):
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/v1/media?token={TOKEN_B}"
    with connect(url, proxy=None, compression=None) as ws:
        ws.send(start_message("query-token-1"))
        ws.send(STOP)
        assert closed_with(ws) == (1000, "call ended")


def test_too_many_calls_per_token_closes_4029(server):
    deadline = time.monotonic() + 60
    while server.hub.live_calls():  # calls of earlier tests may still be finishing
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(server.ws("/v1/media")) for _ in range(3)]
        for index, ws in enumerate(sockets):
            ws.send(start_message(f"many-{index}"))
        deadline = time.monotonic() + 10
        while sum(c.startswith("many-") for c in server.hub.live_calls()) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _refused(server, "/v1/media", [start_message("many-3")])[0] == 4029
        assert _refused(server, "/v1/media", [start_message("many-b"), STOP], token=TOKEN_B)[0] == 1000
        for ws in sockets:
            ws.send(STOP)
            closed_with(ws)


def test_client_disconnect_mid_call_ends_and_saves_the_call(server, call_8k):
    reader = EventReader(server, "drop-1")
    with healthy_call(server, "bystander-drop"):
        with server.ws("/v1/media") as ws:
            ws.send(start_message("drop-1"))
            for message in media_messages(call_8k[: 8000 * 6]):
                ws.send(message)
            ws.socket.shutdown(socket.SHUT_RDWR)  # the platform vanishes: no stop, no close frame
            ws.socket.close()
        events = reader.join()
    assert events[-1]["type"] == "CallSummary"
    assert "drop-1" not in server.hub.live_calls()
    assert "drop-1" not in server.hub.manager.live_calls()
    saved = server.http().get("/v1/calls/drop-1").json()
    assert saved["state"] == "ended" and saved["summary"] is not None


def test_media_call_across_a_server_restart_resumes_from_since(tmp_path, deps, engines, call_8k):
    """The server stops mid-call: the platform's socket is closed 1012 and the call is marked
    interrupted; after the restart the platform reconnects with the same call id, the desktop
    resumes its event stream from the last seq it saw, and nothing is lost or repeated."""
    settings = api_settings(tmp_path)
    first = LiveServer(settings, deps, engines).start()
    before = EventReader(first, "restart-media")
    half = int(8000 * 10.8)  # past the end of the customer's turn, before the agent's
    with first.ws("/v1/media") as ws:
        ws.send(start_message("restart-media"))
        for message in media_messages(call_8k[:half]):
            ws.send(message)
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while not any(e["type"] == "InsightEvent" for e in before.events):
            assert time.monotonic() < deadline, "no insight before the restart"
            time.sleep(0.1)
        first.stop()
        assert closed_with(ws)[0] == 1012  # service restart: reconnect, the call is not over
    seen = before.join()
    assert seen and all(e["type"] != "CallSummary" for e in seen)

    second = LiveServer(settings, deps, engines, port=first.port).start()
    try:
        assert second.http().get("/v1/calls/restart-media").json()["state"] == "interrupted"
        after = EventReader(second, "restart-media", since=seen[-1]["seq"])
        with second.ws("/v1/media") as ws:
            ws.send(start_message("restart-media"))
            for message in media_messages(call_8k[half:]):
                ws.send(message)
                time.sleep(0.02)
            ws.send(STOP)
            assert closed_with(ws) == (1000, "call ended")
        rest = after.join()
    finally:
        second.stop()
    seqs = [e["seq"] for e in seen + rest]
    assert seqs == list(range(1, len(seqs) + 1)), "events lost or repeated across the restart"
    assert rest[-1]["type"] == "CallSummary"
    assert any(e["type"] == "TranscriptEvent" and e["speaker"] == "agent" for e in rest)
