"""``assist bench api``: its event accounting, and a short real run against a live server."""
from __future__ import annotations

import numpy as np
import pytest
from api_helpers import TOKEN_A, api_settings

from assist.api.codec import mulaw_decode, mulaw_encode
from assist.api.limits import ApiRefusal, FrameRate
from assist.evaluate.bench_api import ApiBenchConfig, call_metrics, mulaw_bytes, run_api_bench


def _event(seq: int, kind: str, rx: float, **fields) -> dict:
    return {"seq": seq, "type": kind, "_rx": rx, **fields}


def _final(seq: int, segment: str, emitted: float, engine: str = "vosk") -> dict:
    return _event(seq, "TranscriptEvent", emitted + 0.001, speaker="customer", segment_id=segment,
                  is_final=True, text="요금이 많이 나왔어요", engine=engine, end_s=1.0,
                  emitted_at=emitted, revision=1 if engine == "vosk" else 2, replaces=[])


def test_metrics_count_sequence_gaps_duplicates_and_a_missing_summary():
    out = {"t0": 0.0, "send_lag": [], "audio_end": 10.0, "close_code": 1000, "events": [
        _final(1, "customer-0001", 2.0),
        _event(2, "InsightEvent", 2.05, segment_id="customer-0001"),
        _event(3, "Suggestions", 2.08, segment_id="customer-0001",
               timings_ms=[["nlu", 20.0], ["retrieval", 30.0]]),
        _final(5, "customer-0002", 4.0, "whisper"),  # 4 never arrived
        _event(6, "InsightEvent", 4.12, segment_id="customer-0002"),
        _event(6, "InsightEvent", 4.12, segment_id="customer-0002"),  # delivered twice
        _event(8, "CallSummary", 11.0),  # 7 never arrived
    ]}
    metrics = call_metrics(out)
    assert metrics["dropped"] == 3  # 4 and 7 missing, 6 repeated
    assert metrics["finals"] == 2
    assert np.allclose(sorted(metrics["result_ms"]), [80.0, 120.0])
    assert np.allclose(metrics["suggest_ms"], [80.0]) and metrics["nlu_ms"] == [20.0]
    assert metrics["drain"] == 1.0 and not metrics["error"]
    assert metrics["first_passed"] == 1 and metrics["segments"] == 2

    no_summary = dict(out, events=out["events"][:3], close_code=1011)
    assert call_metrics(no_summary)["dropped"] == 1 and call_metrics(no_summary)["error"]


def test_bench_client_sends_what_the_server_decodes():
    samples = np.sin(np.linspace(0, 200, 1600)).astype(np.float32) * 0.5
    assert mulaw_bytes(samples) == mulaw_encode(samples)
    assert np.abs(mulaw_decode(mulaw_bytes(samples)) - samples).max() < 0.02


def test_bench_runs_real_time_calls_against_a_live_server(server, speech_dev, tmp_path):
    config = ApiBenchConfig(f"ws://127.0.0.1:{server.port}", TOKEN_A, calls=(2,), seconds=12,
                            speech_dir=speech_dev, dump=tmp_path / "events.jsonl")
    report = run_api_bench(api_settings(tmp_path), config, progress=lambda line: None)
    row = report.rows[0]
    assert row.calls == 2 and row.dropped == 0 and row.errors == 0
    assert row.customer_finals >= 1 and row.result_p95_ms == row.result_p95_ms  # measured
    assert row.send_lag_p95_ms < 200  # the client kept its own pace
    assert (tmp_path / "events.jsonl").read_text().count('"CallSummary"') == 2
    assert "| 2 |" in report.markdown()
    assert not [c for c in server.hub.live_calls() if c.startswith("bench-")]


def test_frame_rate_limit_credits_time_the_server_did_not_read():
    now = [0.0]
    rate = FrameRate(100, clock=lambda: now[0])
    for _ in range(100):
        rate.take()
    with pytest.raises(ApiRefusal):
        rate.take()  # a flood: 101 messages at once
    now[0] = 10.0
    rate.credit(10.0)  # the audio queue was full for 10 s: 1,000 messages piled up meanwhile
    for _ in range(1000):
        rate.take()
    with pytest.raises(ApiRefusal) as refused:
        rate.take()
    assert refused.value.code == 1008
