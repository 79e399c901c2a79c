"""``assist bench api``: N simulated stereo calls streamed over the telephony websocket in real time.

A plain network client (it imports nothing from ``assist.api``): each call is a stereo
recording built from real ko_speech_dev utterances (``bench_asr.simulated_call``), resampled to
8 kHz, mu-law encoded and sent as media messages of ``frame_ms`` per track, paced to call time
from one asyncio loop on 127.0.0.1 (two sockets per call: media in, events out; every message
is built before the clock starts). Per N it reports:

- whether the server kept up with real time: partial lag (partial emitted vs when its audio
  was sent), final lag per engine, drain (last audio sent -> summary received);
- final -> suggestion latency, as percentiles within the run: from a customer final's
  ``emitted_at`` (server clock, same machine) to the client receiving what the session made of
  it. "result" covers every customer final with text (its InsightEvent and, when the card
  changed, its Suggestions arrive in the same batch); "suggestion" only the finals that produced
  a new Suggestions card (the session sends none when nothing changed);
- dropped events: per call, sequence numbers missing between 1 and the summary's ``seq``
  (a missing summary and duplicates count too); media sockets that did not close with 1000
  are counted apart;
- the server's CPU time and peak RSS (with its worker processes), and how much CPU other
  processes used meanwhile (the bench machine may be shared).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soxr

from assist.config import Settings
from assist.evaluate.bench_asr import BenchConfig, _load_utterances, simulated_call

__all__ = ["ApiBenchConfig", "ApiBenchRow", "ApiBenchReport", "run_api_bench", "mulaw_bytes",
           "call_metrics", "TARGET_MS"]

TARGET_MS = 150.0  # final -> suggestion p95 target (issue 8)
# "Keeps up with real time" (all must hold): the client paced itself (send lag p95), partials
# trail their audio by under PARTIAL_MAX_S, first-pass finals come within FIRST_PASS_MAX_S of
# the segment end (350 ms of it is the VAD endpoint), Whisper finals within WHISPER_MAX_S of the
# utterance end (up to 2 s of it is waiting for the utterance to end), and everything is
# delivered within DRAIN_MAX_S after the last audio.
SEND_LAG_MAX_S = 0.2
PARTIAL_MAX_S = 1.0
FIRST_PASS_MAX_S = 1.5
WHISPER_MAX_S = 6.0
DRAIN_MAX_S = 6.0


@dataclass(frozen=True, slots=True)
class ApiBenchConfig:
    url: str  # ws://127.0.0.1:PORT
    token: str
    calls: tuple[int, ...] = (1, 2, 4, 6)
    seconds: float = 30.0
    frame_ms: int = 20
    drain_timeout_s: float = 90.0
    server_pid: int | None = None
    speech_dir: Path | None = None
    keep_going: bool = False  # also run the N after one that did not keep up
    dump: Path | None = None  # every received event, one JSON line each


@dataclass(frozen=True, slots=True)
class ApiBenchRow:
    calls: int
    realtime: bool
    meets_target: bool  # real time, 0 dropped, final -> result/suggestion p95 <= TARGET_MS
    send_lag_p95_ms: float  # the client's own pacing (must stay small for a fair test)
    partial_lag_p95_s: float  # nan: no partials
    first_pass_lag_p95_s: float  # vosk final vs the end of its segment
    whisper_lag_p95_s: float  # whisper final vs the end of its utterance (includes endpointing)
    drain_s: float
    customer_finals: int
    result_p50_ms: float  # customer final emitted -> its insight (+ suggestions) received
    result_p95_ms: float
    suggestions: int
    suggest_p50_ms: float  # customer final emitted -> its new Suggestions received
    suggest_p95_ms: float
    nlu_p95_ms: float  # server side, from Suggestions.timings_ms
    search_p95_ms: float
    first_pass_share: float  # customer segments that got a vosk first pass (nan: no vosk)
    events: int
    dropped: int
    errors: int  # media sockets closed with another code than 1000
    server_cpu_s: float
    cpu_per_call_s: float  # server CPU-seconds per second of call audio
    rss_peak_mb: float
    other_cpu_pct: float  # CPU used by other processes during the run, % of the machine
    load1: float
    failures: tuple[str, ...] = ()  # why media sockets failed
    other_niced_pct: float = 0.0  # the part of other_cpu_pct run at lower priority (nice > 0)


@dataclass
class ApiBenchReport:
    seconds: float
    frame_ms: int
    rows: list[ApiBenchRow] = field(default_factory=list)
    rss_idle_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def sustained(self) -> int:
        """The most concurrent calls that kept up with real time with 0 dropped events."""
        return max((r.calls for r in self.rows if r.realtime and r.dropped == 0 and not r.errors),
                   default=0)

    def on_target(self) -> int:
        """The most concurrent calls that also met final -> suggestion p95 <= TARGET_MS."""
        return max((r.calls for r in self.rows if r.meets_target), default=0)

    def cost(self) -> dict | None:
        """Per-call cost from a straight-line fit over the rows that kept up (at least two N):
        server CPU-seconds per second of call audio, and RSS per call."""
        rows = [r for r in self.rows if r.realtime] or self.rows
        if len({r.calls for r in rows}) < 2:
            return None
        n = np.array([r.calls for r in rows], dtype=float)
        cpu = np.array([r.server_cpu_s / self.seconds for r in rows])
        rss = np.array([r.rss_peak_mb for r in rows])
        cpu_slope, cpu_base = np.polyfit(n, cpu, 1)
        rss_slope, rss_base = np.polyfit(n, rss, 1)
        return {"cpu_per_call": float(cpu_slope), "cpu_base": float(cpu_base),
                "rss_per_call_mb": float(rss_slope), "rss_base_mb": float(rss_base),
                "fitted_calls": [int(c) for c in n]}

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "frame_ms": self.frame_ms, "rss_idle_mb": self.rss_idle_mb,
                "sustained": self.sustained(), "on_target": self.on_target(), "cost": self.cost(),
                "notes": self.notes,
                "rows": [{k: getattr(r, k) for k in r.__slots__} for r in self.rows]}

    HEADER = ("| calls | real time | partial lag p95 s | 1st-pass / whisper final lag p95 s | drain s | "
              "customer finals | final->result p50/p95 ms | suggestions | final->suggestion p50/p95 ms "
              "| NLU / search p95 ms | 1st-pass share | events | dropped / failed sockets | CPU-s per call-s | "
              "RSS peak MB | other load (niced) |")

    @staticmethod
    def row_line(r: ApiBenchRow) -> str:
        def f(value: float, digits: int = 0) -> str:
            return "-" if value != value else f"{value:.{digits}f}"

        return (f"| {r.calls} | {'yes' if r.realtime else 'no'} | {f(r.partial_lag_p95_s, 2)} | "
                f"{f(r.first_pass_lag_p95_s, 2)} / {f(r.whisper_lag_p95_s, 2)} | {f(r.drain_s, 1)} | "
                f"{r.customer_finals} | {f(r.result_p50_ms)}/{f(r.result_p95_ms)} | {r.suggestions} | "
                f"{f(r.suggest_p50_ms)}/{f(r.suggest_p95_ms)} | {f(r.nlu_p95_ms)} / {f(r.search_p95_ms)} | "
                f"{f(100 * r.first_pass_share)}{'' if r.first_pass_share != r.first_pass_share else '%'} | "
                f"{r.events} | {r.dropped} / {r.errors} | {r.cpu_per_call_s:.3f} | {r.rss_peak_mb:.0f} | "
                f"{r.other_cpu_pct:.0f}% ({r.other_niced_pct:.0f}%), load {r.load1:.1f} |")

    def markdown(self) -> str:
        lines = [self.HEADER, "|" + "---|" * 16] + [self.row_line(r) for r in self.rows]
        lines += ["", f"- {self.seconds:.0f} s stereo calls of real ko_speech_dev utterances, 8 kHz "
                  f"mu-law, {self.frame_ms} ms media messages per track, paced to real time",
                  f"- keeps up with real time: {self.sustained()} concurrent calls with 0 dropped "
                  f"events; also final -> suggestion p95 <= {TARGET_MS:.0f} ms: {self.on_target()}",
                  f"- server RSS idle {self.rss_idle_mb:.0f} MB (with worker processes)"]
        cost = self.cost()
        if cost is not None:
            lines.append(f"- per-call cost (line through N = {', '.join(map(str, cost['fitted_calls']))}"
                         f"): {cost['cpu_per_call']:.3f} CPU-s per call-second + {cost['cpu_base']:.3f} "
                         f"base; RSS {cost['rss_per_call_mb']:.0f} MB per call + {cost['rss_base_mb']:.0f} MB")
        lines += [f"- {r.calls} calls: {r.errors} media sockets failed ({'; '.join(r.failures)})"
                  for r in self.rows if r.errors]
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


def _connect(config: ApiBenchConfig, path: str):
    from websockets.asyncio.client import connect

    return connect(f"{config.url}{path}", additional_headers={"Authorization": f"Bearer {config.token}"},
                   proxy=None, compression=None, max_size=None, open_timeout=30)


async def _events(config: ApiBenchConfig, call_id: str, out: dict) -> None:
    from websockets.exceptions import ConnectionClosed

    async with _connect(config, f"/v1/calls/{call_id}/events") as ws:
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
    try:
        await _send_call(config, call_id, frames, t0, out)
    except Exception as exc:  # e.g. the server stopped reading (it is > 10 s behind) and the
        out["failure"] = f"{type(exc).__name__}: {exc}"[:120]  # keepalive ping timed out


async def _send_call(config: ApiBenchConfig, call_id: str, frames: list[list[str]], t0: float,
                     out: dict) -> None:
    frame_s = config.frame_ms / 1000
    async with _connect(config, "/v1/media") as ws:
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
        out["close_code"] = ws.close_code


async def _run_calls(config: ApiBenchConfig, calls: list[tuple[str, list[list[str]]]]) -> list[dict]:
    results = [{"call_id": cid, "events": [], "send_lag": [], "t0": 0.0, "audio_end": 0.0,
                "close_code": None} for cid, _ in calls]
    readers = [asyncio.create_task(_events(config, cid, out)) for (cid, _), out in zip(calls, results)]
    await asyncio.sleep(0.3)  # event streams wait for their call to start
    t0 = time.time() + 0.5
    for out in results:
        out["t0"] = t0
    senders = [asyncio.create_task(_media(config, cid, frames, t0, out))
               for (cid, frames), out in zip(calls, results)]
    await asyncio.gather(*senders, return_exceptions=True)
    await asyncio.wait(readers, timeout=config.drain_timeout_s)
    for task in readers:
        task.cancel()
    return results


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def call_metrics(out: dict) -> dict:
    """One call's figures from the events it received (``_rx``: client receive time)."""
    events = out["events"]
    seqs = [e["seq"] for e in events]
    summary = next((e for e in events if e["type"] == "CallSummary"), None)
    expected = summary["seq"] if summary else max(seqs, default=0) + 1  # no summary: >= 1 lost
    transcripts = [e for e in events if e["type"] == "TranscriptEvent"]

    def lags(keep) -> list[float]:
        return [e["emitted_at"] - (out["t0"] + e["end_s"]) for e in transcripts if keep(e)]

    customer = [e for e in transcripts if e["speaker"] == "customer"]
    first_passed = {e["segment_id"] for e in customer if e["engine"] == "vosk"}
    whisper_only = {s for e in customer if e["engine"] == "whisper" for s in (e.get("replaces") or
                                                                                [e["segment_id"]])}
    segments = first_passed | whisper_only
    # What the session makes of a final directly follows it (one batch per recognition event),
    # so an InsightEvent or Suggestions belongs to the customer final just before it.
    entries, entry = [], None
    for event in events:
        kind = event["type"]
        if kind == "TranscriptEvent":
            entry = None
            if event["is_final"] and event["text"].strip() and event["speaker"] == "customer":
                entry = {"final": event, "rx": [], "suggest": None, "timings": {}}
                entries.append(entry)
        elif entry is not None and kind in ("InsightEvent", "Suggestions") \
                and event.get("segment_id") == entry["final"]["segment_id"]:
            entry["rx"].append(event["_rx"])
            if kind == "Suggestions" and entry["suggest"] is None:
                entry["suggest"] = event["_rx"]
                entry["timings"] = dict(event.get("timings_ms") or ())
    done = [e for e in entries if e["rx"]]
    result_ms = [(max(e["rx"]) - e["final"]["emitted_at"]) * 1000 for e in done]
    suggested = [e for e in done if e["suggest"] is not None]
    suggest_ms = [(e["suggest"] - e["final"]["emitted_at"]) * 1000 for e in suggested]
    nlu_ms = [e["timings"]["nlu"] for e in suggested if "nlu" in e["timings"]]
    search_ms = [e["timings"]["retrieval"] for e in suggested if "retrieval" in e["timings"]]
    customer_finals = len(entries)
    return {"dropped": max(0, expected - len(set(seqs))) + (len(seqs) - len(set(seqs))),
            "events": len(events),
            "partial_lags": lags(lambda e: not e["is_final"]),
            "first_pass_lags": lags(lambda e: e["is_final"] and e["engine"] == "vosk"),
            "whisper_lags": lags(lambda e: e["is_final"] and e["engine"] == "whisper"),
            "result_ms": result_ms, "suggest_ms": suggest_ms, "nlu_ms": nlu_ms, "search_ms": search_ms,
            "finals": customer_finals, "send_lag": out["send_lag"],
            "first_passed": len(first_passed), "segments": len(segments),
            "error": out.get("close_code") != 1000,
            "failure": out.get("failure") or (f"media socket closed {out.get('close_code')}"
                                              if out.get("close_code") != 1000 else ""),
            "drain": (summary["_rx"] - out["audio_end"]) if summary and out["audio_end"] else float("inf")}


def _family(process: psutil.Process | None) -> list[psutil.Process]:
    """The server and its worker processes (``api.asr_processes`` / ``nlu_processes``)."""
    if process is None:
        return []
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for member in processes:
        try:
            times = member.cpu_times()
            total += times.user + times.system
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


def _busy_s() -> tuple[float, float]:
    """CPU-seconds all processes of the machine spent so far, and the niced part of it."""
    times = psutil.cpu_times()
    return (sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "steal", 0.0),
            getattr(times, "nice", 0.0))


async def _sample_rss(process: psutil.Process | None, peak: list[float], stop: asyncio.Event) -> None:
    while process is not None and not stop.is_set():
        peak[0] = max(peak[0], _rss_mb(process))
        await asyncio.sleep(0.5)


def _dump(path: Path, n: int, results: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for out in results:
            for event in out["events"]:
                handle.write(json.dumps({"calls": n, "call_id": out["call_id"], "t0": out["t0"],
                                         **event}, ensure_ascii=False) + "\n")


async def _measure(config: ApiBenchConfig, n: int, audio: list[np.ndarray], tag: str) -> ApiBenchRow:
    calls = [(f"bench-{tag}-{n}-{i}", _messages(f"bench-{tag}-{n}-{i}", audio[i], config.frame_ms))
             for i in range(n)]
    server = psutil.Process(config.server_pid) if config.server_pid else None
    family, me = _family(server), psutil.Process()
    cpu_before, mine_before, busy_before = _cpu_s(family), _cpu_s([me]), _busy_s()
    wall_before = time.monotonic()
    peak, stop = [_rss_mb(server)], asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(server, peak, stop))
    results = await _run_calls(config, calls)
    stop.set()
    await sampler
    wall = time.monotonic() - wall_before
    cpu = (_cpu_s(family) - cpu_before) if server else float("nan")
    busy_after = _busy_s()
    other = busy_after[0] - busy_before[0] - (cpu if server else 0.0) - (_cpu_s([me]) - mine_before)
    niced = busy_after[1] - busy_before[1]
    if config.dump is not None:
        _dump(config.dump, n, results)
    metrics = [call_metrics(out) for out in results]

    def pooled(key: str) -> list[float]:
        return [v for m in metrics for v in m[key]]

    drain = max(m["drain"] for m in metrics)
    send_lag = _pct(pooled("send_lag"), 95) * 1000
    partial95 = _pct(pooled("partial_lags"), 95)
    first95, whisper95 = _pct(pooled("first_pass_lags"), 95), _pct(pooled("whisper_lags"), 95)
    keeps_up = (send_lag < SEND_LAG_MAX_S * 1000 and drain < DRAIN_MAX_S
                and not partial95 > PARTIAL_MAX_S and not first95 > FIRST_PASS_MAX_S
                and not whisper95 > WHISPER_MAX_S and bool(pooled("result_ms")))
    dropped, errors = sum(m["dropped"] for m in metrics), sum(bool(m["error"]) for m in metrics)
    result95, suggest95 = _pct(pooled("result_ms"), 95), _pct(pooled("suggest_ms"), 95)
    segments = sum(m["segments"] for m in metrics)
    share = sum(m["first_passed"] for m in metrics) / segments if segments else float("nan")
    on_target = keeps_up and not dropped and not errors and result95 <= TARGET_MS \
        and not suggest95 > TARGET_MS
    return ApiBenchRow(
        n, bool(keeps_up), bool(on_target), send_lag, partial95, first95, whisper95, drain,
        sum(m["finals"] for m in metrics), _pct(pooled("result_ms"), 50), result95,
        len(pooled("suggest_ms")), _pct(pooled("suggest_ms"), 50), suggest95,
        _pct(pooled("nlu_ms"), 95), _pct(pooled("search_ms"), 95),
        share if pooled("first_pass_lags") or pooled("partial_lags") else float("nan"),
        sum(m["events"] for m in metrics), dropped, errors, cpu, cpu / (n * config.seconds), peak[0],
        100 * max(0.0, other) / (wall * (os.cpu_count() or 1)), os.getloadavg()[0],
        tuple(sorted({m["failure"] for m in metrics if m["failure"]})),
        100 * min(max(0.0, other), max(0.0, niced)) / (wall * (os.cpu_count() or 1)))


def run_api_bench(settings: Settings, config: ApiBenchConfig, progress=print) -> ApiBenchReport:
    """Each N in ``config.calls`` in turn; stops after the first N that does not keep up
    (unless ``keep_going``)."""
    utterances = _load_utterances(BenchConfig(speech_dir=config.speech_dir), settings)
    audio = [simulated_call(utterances, config.seconds, seed) for seed in range(max(config.calls))]
    server = psutil.Process(config.server_pid) if config.server_pid else None
    report = ApiBenchReport(config.seconds, config.frame_ms, rss_idle_mb=_rss_mb(server))
    tag = time.strftime("%H%M%S")
    for n in config.calls:
        progress(f"{n} concurrent calls, {config.seconds:.0f} s each")
        row = asyncio.run(_measure(config, n, audio, tag))
        report.rows.append(row)
        progress(ApiBenchReport.row_line(row))
        if not row.realtime and not config.keep_going:
            break
    return report
