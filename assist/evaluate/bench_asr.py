"""``assist bench asr``: real-time factor, concurrent real-time calls, latency, RSS per stream.

Simulated calls are stereo recordings built from real spontaneous Korean utterances
(ko_speech_dev): customer and agent alternate turns with 0.4-1.2 s gaps, so someone is
speaking about 85% of the call, as in a typical service call. N calls are streamed at once,
paced to real time, through one shared set of engines.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

from assist.asr import CallRecognizer, load_engines
from assist.asr.events import REVISION_FIRST_PASS, REVISION_PARTIAL, REVISION_WHISPER
from assist.audio import AudioChunk
from assist.config import Settings

__all__ = ["BenchConfig", "BenchRow", "BenchReport", "run_bench", "simulated_call"]

RATE_HZ = 16000


@dataclass(frozen=True, slots=True)
class BenchConfig:
    engines: tuple[str, ...] = ("hybrid", "vosk", "whisper")
    calls: tuple[int, ...] = (1, 2, 4, 5)
    seconds: float = 60.0
    speech_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class BenchRow:
    engine: str
    vad: bool
    calls: int
    realtime: bool
    lag_p95_s: float
    drain_s: float
    first_pass_p50_ms: float
    first_pass_p95_ms: float
    whisper_p50_ms: float
    whisper_p95_ms: float
    whisper_budget_met: float  # share of finals within 0.35 x segment + 300 ms
    partial_gap_p95_ms: float
    rss_mb: float


@dataclass
class BenchReport:
    rows: list[BenchRow] = field(default_factory=list)
    fast_rtf: dict[str, float] = field(default_factory=dict)
    rss_base_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def sustained(self, engine: str, vad: bool = True) -> int:
        ok = [r.calls for r in self.rows if r.engine == engine and r.vad == vad and r.realtime]
        return max(ok, default=0)

    def to_dict(self) -> dict:
        return {"rows": [_row_dict(r) for r in self.rows],
                "fast_rtf": self.fast_rtf, "rss_base_mb": self.rss_base_mb}

    def markdown(self) -> str:
        lines = ["| mode | VAD | calls | keeps up | lag p95 s | drain s | 1st pass p50/p95 ms | "
                 "whisper p50/p95 ms | whisper in budget | partial gap p95 ms | RSS MB |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(
                f"| {r.engine} | {'on' if r.vad else 'off'} | {r.calls} | {'yes' if r.realtime else 'no'} | "
                f"{r.lag_p95_s:.2f} | {r.drain_s:.1f} | {r.first_pass_p50_ms:.0f}/{r.first_pass_p95_ms:.0f} | "
                f"{r.whisper_p50_ms:.0f}/{r.whisper_p95_ms:.0f} | {r.whisper_budget_met:.0%} | "
                f"{r.partial_gap_p95_ms:.0f} | {r.rss_mb:.0f} |")
        lines.append("")
        lines += [f"- single-call RTF, not paced ({k}): {v:.3f}" for k, v in self.fast_rtf.items()]
        for engine in dict.fromkeys(r.engine for r in self.rows if r.vad):
            lines.append(f"- {engine}: sustains {self.sustained(engine)} concurrent real-time stereo calls (VAD on)")
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def _row_dict(row: BenchRow) -> dict:
    return {name: getattr(row, name) for name in row.__slots__}


def simulated_call(utterances: list[np.ndarray], seconds: float, seed: int) -> np.ndarray:
    """(frames, 2) stereo: turns alternate customer (left) / agent (right) with short gaps."""
    rng = np.random.default_rng(seed)
    total = int(seconds * RATE_HZ)
    out = np.zeros((total, 2), dtype=np.float32)
    cursor, channel = int(0.5 * RATE_HZ), int(rng.integers(2))
    while cursor < total:
        clip = utterances[int(rng.integers(len(utterances)))]
        end = min(total, cursor + len(clip))
        out[cursor:end, channel] = clip[: end - cursor]
        cursor = end + int(rng.uniform(0.4, 1.2) * RATE_HZ)
        channel = 1 - channel
    return out + rng.normal(0, 0.001, out.shape).astype(np.float32)


def _load_utterances(config: BenchConfig, settings: Settings) -> list[np.ndarray]:
    folder = config.speech_dir or settings.root.parent / "shared" / "data" / "ko_speech_dev"
    clips = [sf.read(p, dtype="float32")[0] for p in sorted(Path(folder).glob("*.wav"))]
    if not clips:
        from assist.config import AssistError

        raise AssistError(f"No speech clips in {folder}; pass a folder of 16 kHz WAV utterances.")
    return clips


def _chunks(audio: np.ndarray, chunk_ms: int = 100):
    step = RATE_HZ * chunk_ms // 1000
    for start in range(0, len(audio), step):
        part = audio[start:start + step]
        yield AudioChunk(start / RATE_HZ, ("customer", "agent"),
                         (np.ascontiguousarray(part[:, 0]), np.ascontiguousarray(part[:, 1])))


def _stream_call(recognizer: CallRecognizer, audio: np.ndarray, t0: float, paced: bool,
                 out: dict) -> None:
    events, lags = [], []
    for chunk in _chunks(audio):
        due = t0 + chunk.start_s + chunk.duration_s
        if paced and due > time.time():
            time.sleep(due - time.time())
        events += recognizer.feed(chunk)
        lags.append(max(0.0, time.time() - due))
    audio_end = time.time()
    events += recognizer.finish(timeout_s=120)
    out.update(events=events, lags=lags, drain=time.time() - audio_end)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _measure(engines, calls: list[np.ndarray], paced: bool) -> tuple[list[dict], float]:
    results = [dict() for _ in calls]
    t0 = time.time() + 0.2
    threads = [threading.Thread(target=_stream_call,
                                args=(CallRecognizer(f"bench{i}", ("customer", "agent"), engines),
                                      audio, t0, paced, results[i]))
               for i, audio in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, t0


def _row(engine: str, vad: bool, results: list[dict], t0: float) -> BenchRow:
    first, whisper, budget, gaps = [], [], [], []
    for result in results:
        last_partial: dict[str, float] = {}
        for e in result["events"]:
            latency = e.emitted_at - (t0 + e.end_s)
            if e.revision == REVISION_FIRST_PASS:
                first.append(latency * 1000)
            elif e.revision == REVISION_WHISPER:
                whisper.append(latency * 1000)
                budget.append(latency <= 0.35 * (e.end_s - e.start_s) + 0.3)
            elif e.revision == REVISION_PARTIAL:
                if e.segment_id in last_partial:
                    gaps.append((e.emitted_at - last_partial[e.segment_id]) * 1000)
                last_partial[e.segment_id] = e.emitted_at
    lag95 = max(_percentile(r["lags"], 95) for r in results)
    drain = max(r["drain"] for r in results)
    return BenchRow(engine, vad, len(results), lag95 < 1.0 and drain < 5.0, lag95, drain,
                    _percentile(first, 50), _percentile(first, 95), _percentile(whisper, 50),
                    _percentile(whisper, 95), float(np.mean(budget)) if budget else float("nan"),
                    _percentile(gaps, 95), psutil.Process(os.getpid()).memory_info().rss / 2**20)


def run_bench(settings: Settings, config: BenchConfig, progress=print) -> BenchReport:
    utterances = _load_utterances(config, settings)
    report = BenchReport(rss_base_mb=psutil.Process(os.getpid()).memory_info().rss / 2**20)
    calls = [simulated_call(utterances, config.seconds, seed) for seed in range(max(config.calls))]
    plans = [(e, True) for e in config.engines] + [("vosk", False), ("hybrid", False)]
    for engine, vad in plans:
        engines = load_engines(settings, settings.asr.model_copy(update={"mode": engine}),
                               settings.vad.model_copy(update={"enabled": vad}))
        try:
            started = time.perf_counter()
            _measure(engines, calls[:1], paced=False)
            report.fast_rtf[f"{engine}, VAD {'on' if vad else 'off'}"] = (
                (time.perf_counter() - started) / config.seconds)
            for n in (config.calls if vad else config.calls[:2]):
                progress(f"{engine} VAD={'on' if vad else 'off'}: {n} real-time calls")
                results, t0 = _measure(engines, calls[:n], paced=True)
                report.rows.append(_row(engine, vad, results, t0))
                if not report.rows[-1].realtime:
                    break
        finally:
            engines.close()
    report.notes.append(f"simulated calls: {config.seconds:.0f} s each, real ko_speech_dev "
                        "utterances alternating between channels, 0.4-1.2 s gaps")
    return report
