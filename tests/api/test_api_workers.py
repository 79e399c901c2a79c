"""The engine boundary: NLU and recognition in 2 worker processes equal in-process (also behind the
websocket API); one call's failure stays there."""
from __future__ import annotations

import contextlib
import json
import os
import time

import numpy as np
import pytest
import soxr
from api_helpers import STOP, LiveServer, api_settings, closed_with, media_messages, start_message
from rapidfuzz.fuzz import ratio

from assist.api.auth import Principal
from assist.api.hub import CallHub
from assist.api.store import EventStore
from assist.api.workers import LocalRecognition, ProcessClassifier
from assist.audio import AudioChunk

TEXTS = ["이번 달 요금이 너무 많이 나왔어요", "인터넷이 안 돼요", "해지하면 위약금이 얼마예요?",
         "상담원 바꿔 주세요 정말 화나네요", "", "감사합니다"]


@pytest.fixture(scope="module")
def nlu_pool(api_root):
    pool = ProcessClassifier(api_settings(api_root), processes=2)
    yield pool
    pool.close()


def test_nlu_through_two_worker_processes_equals_in_process(nlu_pool, deps):
    pids = nlu_pool.warm()
    assert len(pids) == 2 and os.getpid() not in pids
    for text in TEXTS:
        remote, local = nlu_pool.classify(text), deps.classify(text)
        assert (remote.intent, remote.sentiment, remote.unsure) == (local.intent, local.sentiment, local.unsure)
        assert [c for c, _ in remote.top_intents] == [c for c, _ in local.top_intents]
        assert remote.intent_score == pytest.approx(local.intent_score, abs=1e-3)


class _Flaky:
    """Recognition that fails for one call only."""

    def __init__(self, inner: LocalRecognition, broken: str) -> None:
        self.inner, self.broken = inner, broken

    def open(self, call_id, speakers):
        self.inner.open(call_id, speakers)

    def feed(self, call_id, chunk):
        if call_id == self.broken:
            raise RuntimeError("recognizer crashed")
        return self.inner.feed(call_id, chunk)

    def flush(self, call_id):
        return self.inner.flush(call_id)

    def finish(self, call_id):
        return self.inner.finish(call_id)

    def cancel(self, call_id):
        self.inner.cancel(call_id)

    def drain(self, call_id):
        return self.inner.drain(call_id)

    def close(self):
        pass


def test_one_calls_engine_failure_is_a_system_alert_on_that_call_only(tmp_path, deps, engines, speech_clip):
    store = EventStore(tmp_path / "events.sqlite3", 100, 1.0)
    hub = CallHub(deps, _Flaky(LocalRecognition(engines), "broken"), store, None)
    who = Principal("acme", "t", 5)
    broken, fine = hub.open("broken", who, "pcm", ("customer",)), hub.open("fine", who, "pcm", ("customer",))
    audio = np.concatenate([np.zeros(8000, np.float32), speech_clip[0], np.zeros(16000, np.float32)])
    chunks = [AudioChunk(i / 16000, ("customer",), (audio[i:i + 1600],)) for i in range(0, len(audio), 1600)]
    broken_records = hub.feed(broken, chunks)
    fine_records = hub.feed(fine, chunks)
    alerts = [r for r in broken_records if r.type == "Alert"]
    assert 1 <= len(alerts) <= 1 + len(chunks) // 50  # alerts are rate-limited, not one per chunk
    assert all('"kind": "system"' in a.body for a in alerts)
    assert hub.close(broken).type == "CallSummary"
    fine_records += [hub.close(fine)]
    assert any(r.type == "TranscriptEvent" for r in fine_records)
    assert not any(r.type == "Alert" and '"system"' in r.body for r in fine_records)
    store.close()


def test_recognition_in_two_worker_processes_matches_in_process(api_root, engines, speech_clip):
    from assist.api.workers import ProcessRecognition

    audio = np.concatenate([np.zeros(8000, np.float32), speech_clip[0][: 16000 * 6],
                            np.zeros(16000, np.float32)])
    chunks = [AudioChunk(i / 16000, ("customer",), (audio[i:i + 1600],)) for i in range(0, len(audio), 1600)]

    def run(recognition, call_ids):
        for call_id in call_ids:
            recognition.open(call_id, ("customer",))
        events = {c: [e for chunk in chunks for e in recognition.feed(c, chunk)] for c in call_ids}
        return {c: events[c] + recognition.flush(c) + recognition.finish(c) for c in call_ids}

    local = run(LocalRecognition(engines), ["local"])["local"]
    local_text = [e.text for e in local if e.revision == 1]
    pool = ProcessRecognition(api_settings(api_root), processes=2)
    try:
        assert len(set(pool.pids())) == 2
        remote = run(pool, ["remote-a", "remote-b"])  # one call per process (least busy first)
        for call_id, events in remote.items():
            texts = [e.text for e in events if e.revision == 1]
            # the same engines; VAD scores may differ in the last float bits across processes
            assert len(texts) == len(local_text) >= 1, (call_id, texts, local_text)
            assert all(ratio(a, b) >= 75 for a, b in zip(texts, local_text)), (texts, local_text)
            assert any(e.revision == 2 and e.call_id == call_id for e in events)
    finally:
        pool.close()


def test_server_with_recognition_in_two_worker_processes_streams_calls(tmp_path, deps, speech_clip):
    """The same websocket API with ``api.asr_processes = 2``: two calls land on two processes."""
    settings = api_settings(tmp_path, asr_processes=2)
    server = LiveServer(settings, deps, None).start()
    try:
        recognition = server.app.state.api.recognition
        assert len(set(recognition.pids())) == 2 and os.getpid() not in recognition.pids()
        speech = soxr.resample(speech_clip[0][: 16000 * 6], 16000, 8000).astype(np.float32)
        stereo = np.zeros((len(speech) + 16000, 2), np.float32)
        stereo[4000:4000 + len(speech), 0] = speech  # the customer speaks, the agent listens
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(server.ws("/v1/media")) for _ in range(2)]
            for index, ws in enumerate(sockets):
                ws.send(start_message(f"pool-{index}"))
            deadline = time.monotonic() + 30
            while len(recognition._home) < 2:
                assert time.monotonic() < deadline, "calls did not open"
                time.sleep(0.05)
            assert sorted(recognition._home.values()) == [0, 1]  # one call per process
            for message in media_messages(stereo):
                for ws in sockets:
                    ws.send(message)
            for ws in sockets:
                ws.send(STOP)
                assert closed_with(ws) == (1000, "call ended")
        for index in range(2):
            with server.ws(f"/v1/calls/pool-{index}/events") as ws:
                events = [json.loads(ws.recv(timeout=30))]
                while events[-1]["type"] != "CallSummary":
                    events.append(json.loads(ws.recv(timeout=30)))
            finals = [e for e in events if e["type"] == "TranscriptEvent" and e["is_final"]]
            assert any(e["engine"] == "whisper" and e["text"] for e in finals), events
    finally:
        server.stop()
