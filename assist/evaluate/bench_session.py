"""``assist bench session``: demo calls replayed concurrently through the real session engine.

Measures the wall time from a final transcript event to the suggestions it produced (NLU +
retrieval + coaching) and counts how often the top card was replaced per call (flicker).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from assist.config import Settings
from assist.guide.events import Suggestions
from assist.session.loader import build_deps
from assist.session.manager import SessionManager
from assist.session.replay import read_transcript, transcript_events

__all__ = ["SessionBench", "run_session_bench"]


@dataclass
class SessionBench:
    concurrent: int
    speed: float
    latencies_ms: list[float] = field(default_factory=list)
    replacements: dict[str, int] = field(default_factory=dict)
    finals: int = 0

    def to_dict(self) -> dict:
        lat = self.latencies_ms or [float("nan")]
        return {"calls": len(self.replacements), "concurrent": self.concurrent, "speed": self.speed,
                "finals": self.finals, "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p95_ms": round(float(np.percentile(lat, 95)), 1),
                "replacements_mean": round(float(np.mean(list(self.replacements.values()) or [0])), 2),
                "replacements_max": max(self.replacements.values(), default=0)}

    def markdown(self) -> str:
        d = self.to_dict()
        return (f"| calls | at once | speed | customer finals | final -> suggestions p50 / p95 ms | "
                f"top-card replacements per call (mean / max) |\n|---|---|---|---|---|---|\n"
                f"| {d['calls']} | {d['concurrent']} | {d['speed']}x | {d['finals']} | "
                f"{d['p50_ms']} / {d['p95_ms']} | {d['replacements_mean']} / {d['replacements_max']} |")


def _run_call(manager: SessionManager, path, speed: float, bench: SessionBench, lock: threading.Lock) -> None:
    call_id = f"bench-{path.stem}"
    manager.start(call_id)
    replaced, latencies, finals = 0, [], 0
    for event in transcript_events(read_transcript(path, call_id), realtime=True, speed=speed):
        out = manager.handle(event)
        if event.speaker == "customer":
            finals += 1
            latencies.append((time.time() - event.emitted_at) * 1000)
        replaced += sum(1 for e in out if isinstance(e, Suggestions) and e.replaced)
    manager.end(call_id, save=False)
    with lock:
        bench.latencies_ms += latencies
        bench.replacements[path.stem] = max(0, replaced - 1)  # the first card is not a replacement
        bench.finals += finals


def run_session_bench(settings: Settings, concurrent: int = 2, speed: float = 4.0) -> SessionBench:
    manager = SessionManager(build_deps(settings))
    calls = sorted((settings.demo_path / "calls").glob("*.jsonl"))
    bench, lock = SessionBench(concurrent, speed), threading.Lock()
    for start in range(0, len(calls), concurrent):
        threads = [threading.Thread(target=_run_call, args=(manager, path, speed, bench, lock))
                   for path in calls[start:start + concurrent]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return bench
