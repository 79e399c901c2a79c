"""``assist bench api``: N simulated stereo calls streamed over the telephony websocket in real time.

A plain network client (it imports nothing from ``assist.api``): each call is a stereo
recording built from real ko_speech_dev utterances (``bench_asr.simulated_call``), resampled to
8 kHz, mu-law encoded and sent as media messages of ``frame_ms`` per track, paced to call time,
while the call's event websocket is read. Per N it reports whether the server kept up (partial
lag behind real time, drain after the last audio), final -> suggestion latency, dropped events
(sequence gaps or a missing summary), and the server process's CPU time and peak RSS.
"""
from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soxr

from assist.config import Settings
from assist.evaluate.bench_asr import BenchConfig, _load_utterances, simulated_call

__all__ = ["ApiBenchConfig", "ApiBenchRow", "ApiBenchReport", "run_api_bench", "mulaw_bytes"]


@dataclass(frozen=True, slots=True)
class ApiBenchConfig:
    url: str  # ws://127.0.0.1:PORT
    token: str
    calls: tuple[int, ...] = (1, 2, 4)
    seconds: float = 45.0
    frame_ms: int = 20
    drain_timeout_s: float = 60.0
    server_pid: int | None = None
    speech_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class ApiBenchRow:
    calls: int
    realtime: bool
    send_lag_p95_ms: float  # the client's own pacing (must stay small for a fair test)
    partial_lag_p95_s: float  # partial emitted vs when its audio was sent (nan: no partials)
    final_lag_p95_s: float  # final emitted vs the end of its speech (includes endpointing)
    drain_s: float  # last audio sent -> summary received
    customer_finals: int
    insight_p95_ms: float  # customer final emitted -> its InsightEvent received
    suggestions: int
    suggest_p50_ms: float  # customer final emitted -> its Suggestions received
    suggest_p95_ms: float
    events: int
    dropped: int
    server_cpu_s: float
    cpu_per_call_s: float  # server CPU-seconds per second of call audio
    rss_peak_mb: float


@dataclass
class ApiBenchReport:
    seconds: float
    frame_ms: int
    rows: list[ApiBenchRow] = field(default_factory=list)
    rss_idle_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def sustained(self) -> int:
        return max((r.calls for r in self.rows if r.realtime and r.dropped == 0), default=0)

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "frame_ms": self.frame_ms, "rss_idle_mb": self.rss_idle_mb,
                "sustained": self.sustained(), "notes": self.notes,
                "rows": [{k: getattr(r, k) for k in r.__slots__} for r in self.rows]}

    def markdown(self) -> str:
        lines = ["| calls | keeps up | partial lag p95 s | final lag p95 s | drain s | customer finals | "
                 "final->insight p95 ms | suggestions | final->suggestion p50/p95 ms | events | dropped | "
                 "server CPU s | CPU-s per call-s | RSS peak MB |", "|" + "---|" * 14]
        for r in self.rows:
            lines.append(
                f"| {r.calls} | {'yes' if r.realtime else 'no'} | {r.partial_lag_p95_s:.2f} | "
                f"{r.final_lag_p95_s:.2f} | {r.drain_s:.1f} | {r.customer_finals} | {r.insight_p95_ms:.0f} | "
                f"{r.suggestions} | {r.suggest_p50_ms:.0f}/{r.suggest_p95_ms:.0f} | {r.events} | "
                f"{r.dropped} | {r.server_cpu_s:.1f} | {r.cpu_per_call_s:.3f} | {r.rss_peak_mb:.0f} |")
        lines += ["", f"- {self.seconds:.0f} s stereo calls of real ko_speech_dev utterances, 8 kHz "
                  f"mu-law, {self.frame_ms} ms media messages per track, paced to real time",
                  f"- server RSS idle: {self.rss_idle_mb:.0f} MB; sustains {self.sustained()} "
                  "concurrent real-time calls with 0 dropped events"]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def mulaw_bytes(samples: np.ndarray) -> bytes:
    """float32 -> G.711 mu-law bytes (what a telephony platform sends)."""
    pcm = np.clip(np.asarray(samples, dtype=np.float32) * 32768.0, -32768, 32767).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _messages(call_id: str, audio_16k: np.ndarray, frame_ms: int) -> list[list[str]]:
    """Per frame time: the inbound and outbound media messages."""
    audio = soxr.resample(audio_16k, 16000, 8000).astype(np.float32)
    step = 8 * frame_ms
    frames = []
    for start in range(0, len(audio), step):
        frames.append([json.dumps({"event": "media", "streamSid": f"MZ{call_id}", "media": {
            "track": track, "timestamp": str(start // 8),
            "payload": base64.b64encode(mulaw_bytes(audio[start:start + step, column])).decode()}})
            for column, track in enumerate(("inbound", "outbound"))])
    return frames


def _start(call_id: str) -> str:
    return json.dumps({"event": "start", "streamSid": f"MZ{call_id}", "start": {
        "callSid": call_id, "streamSid": f"MZ{call_id}", "tracks": ["inbound", "outbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


async def _events(config: ApiBenchConfig, call_id: str, out: dict) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    headers = {"Authorization": f"Bearer {config.token}"}
    async with connect(f"{config.url}/v1/calls/{call_id}/events", additional_headers=headers,
                       proxy=None, compression=None, max_size=None) as ws:
        try:
            async for text in ws:
                event = json.loads(text)
                event["_rx"] = time.time()
                out["events"].append(event)
                if event["type"] == "CallSummary":
                    break
        except ConnectionClosed:
            pass


async def _media(config: ApiBenchConfig, call_id: str, frames: list[list[str]], t0: float,
                 out: dict) -> None:
    from websockets.asyncio.client import connect

    headers = {"Authorization": f"Bearer {config.token}"}
    frame_s = config.frame_ms / 1000
    async with connect(f"{config.url}/v1/media", additional_headers=headers, proxy=None,
                       compression=None) as ws:
        await ws.send(_start(call_id))
        for index, pair in enumerate(frames):
            due = t0 + index * frame_s
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            out["send_lag"].append(max(0.0, time.time() - due))
            for message in pair:
                await ws.send(message)
        out["audio_end"] = time.time()
        await ws.send(json.dumps({"event": "stop"}))
        try:
            await asyncio.wait_for(ws.wait_closed(), config.drain_timeout_s)
        except asyncio.TimeoutError:
            pass


async def _run_calls(config: ApiBenchConfig, calls: list[tuple[str, list[list[str]]]]) -> list[dict]:
    results = [{"call_id": cid, "events": [], "send_lag": [], "t0": 0.0, "audio_end": 0.0}
               for cid, _ in calls]
    readers = [asyncio.create_task(_events(config, cid, out)) for (cid, _), out in zip(calls, results)]
    await asyncio.sleep(0.3)  # event streams wait for their call to start
    t0 = time.time() + 0.5
    for out in results:
        out["t0"] = t0
    senders = [asyncio.create_task(_media(config, cid, frames, t0, out))
               for (cid, frames), out in zip(calls, results)]
    await asyncio.gather(*senders)
    await asyncio.wait(readers, timeout=config.drain_timeout_s)
    for task in readers:
        task.cancel()
    return results


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _call_metrics(out: dict) -> dict:
    events = out["events"]
    seqs = [e["seq"] for e in events]
    summary = next((e for e in events if e["type"] == "CallSummary"), None)
    expected = summary["seq"] if summary else max(seqs, default=0) + 1  # no summary: >= 1 lost
    transcripts = [e for e in events if e["type"] == "TranscriptEvent"]
    partial_lags = [e["emitted_at"] - (out["t0"] + e["end_s"]) for e in transcripts if not e["is_final"]]
    final_lags = [e["emitted_at"] - (out["t0"] + e["end_s"]) for e in transcripts if e["is_final"]]
    insight_ms, suggest_ms, customer_finals, final = [], [], 0, None
    for event in events:  # what a final causes comes right after it, before the next transcript
        kind = event["type"]
        if kind == "TranscriptEvent":
            final = event if event["is_final"] and event["text"] and event["speaker"] == "customer" else None
            customer_finals += final is not None
        elif final is not None and kind in ("InsightEvent", "Suggestions") \
                and event["segment_id"] == final["segment_id"]:
            (insight_ms if kind == "InsightEvent" else suggest_ms).append(
                (event["_rx"] - final["emitted_at"]) * 1000)
    return {"dropped": expected - len(set(seqs)), "events": len(events), "partial_lags": partial_lags,
            "final_lags": final_lags, "insight_ms": insight_ms, "suggest_ms": suggest_ms,
            "finals": customer_finals, "send_lag": out["send_lag"],
            "drain": (summary["_rx"] - out["audio_end"]) if summary else float("inf")}


def _family(process: psutil.Process | None) -> list[psutil.Process]:
    """The server and its worker processes (``api.asr_processes`` / ``nlu_processes``)."""
    return [process, *process.children(recursive=True)] if process is not None else []


def _cpu_s(process: psutil.Process | None) -> float:
    total = 0.0
    for member in _family(process):
        try:
            total += sum(member.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _rss_mb(process: psutil.Process | None) -> float:
    total = 0
    for member in _family(process):
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


async def _sample_rss(process: psutil.Process | None, peak: list[float], stop: asyncio.Event) -> None:
    while process is not None and not stop.is_set():
        peak[0] = max(peak[0], _rss_mb(process))
        await asyncio.sleep(0.5)


async def _measure(config: ApiBenchConfig, n: int, audio: list[np.ndarray], tag: str) -> ApiBenchRow:
    calls = [(f"bench-{tag}-{n}-{i}", _messages(f"bench-{tag}-{n}-{i}", audio[i], config.frame_ms))
             for i in range(n)]
    server = psutil.Process(config.server_pid) if config.server_pid else None
    cpu_before = _cpu_s(server)
    peak, stop = [0.0], asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(server, peak, stop))
    results = await _run_calls(config, calls)
    stop.set()
    await sampler
    cpu = (_cpu_s(server) - cpu_before) if server else float("nan")
    metrics = [_call_metrics(out) for out in results]

    def pooled(key: str) -> list[float]:
        return [v for m in metrics for v in m[key]]

    drain = max(m["drain"] for m in metrics)
    send_lag = _pct(pooled("send_lag"), 95) * 1000
    partial95, final95 = _pct(pooled("partial_lags"), 95), _pct(pooled("final_lags"), 95)
    keeps_up = send_lag < 200 and drain < 10.0 and (
        partial95 < 1.0 if pooled("partial_lags") else final95 < 6.0)
    return ApiBenchRow(
        n, bool(keeps_up), send_lag, partial95, final95, drain, sum(m["finals"] for m in metrics),
        _pct(pooled("insight_ms"), 95), len(pooled("suggest_ms")), _pct(pooled("suggest_ms"), 50),
        _pct(pooled("suggest_ms"), 95), sum(m["events"] for m in metrics),
        sum(m["dropped"] for m in metrics), cpu, cpu / (n * config.seconds), peak[0])


def run_api_bench(settings: Settings, config: ApiBenchConfig, progress=print) -> ApiBenchReport:
    """Each N in ``config.calls`` in turn; stops after the first N that does not keep up."""
    utterances = _load_utterances(BenchConfig(speech_dir=config.speech_dir), settings)
    audio = [simulated_call(utterances, config.seconds, seed) for seed in range(max(config.calls))]
    server = psutil.Process(config.server_pid) if config.server_pid else None
    report = ApiBenchReport(config.seconds, config.frame_ms,
                            rss_idle_mb=_rss_mb(server))
    tag = time.strftime("%H%M%S")
    for n in config.calls:
        progress(f"{n} concurrent calls, {config.seconds:.0f} s each")
        row = asyncio.run(_measure(config, n, audio, tag))
        report.rows.append(row)
        progress(report.markdown().splitlines()[len(report.rows) + 1])
        if not row.realtime:
            break
    return report
