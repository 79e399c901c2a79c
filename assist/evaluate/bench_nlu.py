"""``assist bench nlu``: latency of intent + sentiment per utterance, single and batched.

One call of ``NluModel.classify`` is what a live call pays per customer final: cleaning,
one encoder pass and both heads. Batched numbers are what re-scoring a whole call costs.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["NluBench", "bench_nlu"]


@dataclass(frozen=True, slots=True)
class NluBench:
    model: str
    backend: str
    threads: int
    n: int
    single_p50_ms: float
    single_p95_ms: float
    single_mean_ms: float
    encoder_p50_ms: float
    heads_p50_ms: float
    batch_size: int
    batch_p50_ms: float
    batch_p95_ms: float
    batched_per_utterance_ms: float

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        return "\n".join([
            "| model | backend | threads | n | single p50 | single p95 | encoder p50 | heads p50 |"
            f" batch {self.batch_size} p50 | batch p95 | batched per utterance |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {self.model} | {self.backend} | {self.threads} | {self.n} | "
            f"{self.single_p50_ms:.1f} ms | {self.single_p95_ms:.1f} ms | "
            f"{self.encoder_p50_ms:.1f} ms | {self.heads_p50_ms:.2f} ms | "
            f"{self.batch_p50_ms:.1f} ms | {self.batch_p95_ms:.1f} ms | "
            f"{self.batched_per_utterance_ms:.2f} ms |",
        ])


def _ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)), 2) if samples else 0.0


def bench_nlu(model, texts: Sequence[str], backend: str, n: int = 300,
              batch_size: int = 16, warmup: int = 20) -> NluBench:
    """Time ``model.classify`` on ``n`` utterances (cycled), then batches of ``batch_size``."""
    import torch

    pool = [texts[i % len(texts)] for i in range(max(n, batch_size))]
    for text in pool[:warmup]:
        model.classify(text)
    single, encoder, heads = [], [], []
    for text in pool[:n]:
        start = time.perf_counter()
        model.classify(text)
        single.append((time.perf_counter() - start) * 1000)
    for text in pool[: min(n, 100)]:
        start = time.perf_counter()
        vec = model.encoder.encode_queries([text])
        mid = time.perf_counter()
        model.intent.head.probs(vec, [text])
        if model.sentiment is not None:
            model.sentiment.head.probs(vec, [text])
        encoder.append((mid - start) * 1000)
        heads.append((time.perf_counter() - mid) * 1000)
    batches = []
    for start in range(0, n - batch_size + 1, batch_size):
        t0 = time.perf_counter()
        model.classify_many(pool[start:start + batch_size], batch_size=batch_size)
        batches.append((time.perf_counter() - t0) * 1000)
    return NluBench(
        model=model.name, backend=backend, threads=torch.get_num_threads(), n=n,
        single_p50_ms=_ms(single, 50), single_p95_ms=_ms(single, 95),
        single_mean_ms=round(float(np.mean(single)), 2), encoder_p50_ms=_ms(encoder, 50),
        heads_p50_ms=_ms(heads, 50), batch_size=batch_size, batch_p50_ms=_ms(batches, 50),
        batch_p95_ms=_ms(batches, 95),
        batched_per_utterance_ms=round(float(np.median(batches)) / batch_size, 2) if batches else 0.0,
    )
