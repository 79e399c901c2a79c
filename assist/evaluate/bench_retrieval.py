"""Dense index speed at KB sizes far beyond the shipped one: build time, query latency, HNSW recall.

Synthetic articles are random unit vectors drawn around cluster centres (real embeddings are
clustered by topic; uniform random vectors are the worst case for a graph index and are kept
as an option). Query encoding is excluded: one encoder pass costs the same at any KB size.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from assist.config import RetrieveOptions
from assist.retrieve.index import VectorIndex

__all__ = ["BenchRow", "BenchReport", "synthetic_vectors", "run_bench"]


@dataclass(frozen=True, slots=True)
class BenchRow:
    articles: int
    kind: str
    build_s: float
    p50_ms: float
    p95_ms: float
    recall_at_10: float  # against exact search; 1.0 for flat by definition


@dataclass(frozen=True, slots=True)
class BenchReport:
    dim: int
    queries: int
    data: str
    ef_search: int
    rows: tuple[BenchRow, ...]

    def to_dict(self) -> dict:
        return {"dim": self.dim, "queries": self.queries, "data": self.data,
                "ef_search": self.ef_search, "rows": [asdict(row) for row in self.rows]}

    def markdown(self) -> str:
        lines = [f"dense index, {self.dim}-d {self.data} vectors, {self.queries} single queries, "
                 f"k=10, HNSW efSearch={self.ef_search}, query encoding excluded",
                 "", "| articles | index | build s | p50 ms | p95 ms | recall@10 vs flat |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| {r.articles:,} | {r.kind} | {r.build_s:.2f} | {r.p50_ms:.3f} | {r.p95_ms:.3f} | "
                  f"{r.recall_at_10:.4f} |" for r in self.rows]
        return "\n".join(lines)


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator, data: str = "clustered") -> np.ndarray:
    """Unit vectors; 'clustered' draws around n/100 random topic centres."""
    if data == "uniform":
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
    else:
        centres = rng.standard_normal((max(16, n // 100), dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        noise = rng.standard_normal((n, dim)).astype(np.float32) * (1.0 / np.sqrt(dim))
        vectors = centres[rng.integers(0, len(centres), n)] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def run_bench(sizes: Sequence[int], opts: RetrieveOptions, dim: int = 384, queries: int = 300,
              data: str = "clustered", seed: int = 0,
              progress: Callable[[str], None] = lambda message: None) -> BenchReport:
    rng = np.random.default_rng(seed)
    rows: list[BenchRow] = []
    for size in sizes:
        both = synthetic_vectors(size + queries, dim, rng, data)
        corpus, probes = both[:size], both[size:]
        ids = [f"a{i}" for i in range(size)]
        exact: list[list[str]] = []
        for kind in ("flat", "hnsw"):
            progress(f"{size:,} articles: building {kind}")
            started = time.perf_counter()
            index = VectorIndex.build(ids, [1] * size, corpus, opts, dim, kind=kind)
            build_s = time.perf_counter() - started
            latencies, found = _time_queries(index, probes)
            if kind == "flat":
                exact = found
            recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
            rows.append(BenchRow(size, kind, build_s, float(np.percentile(latencies, 50)),
                                 float(np.percentile(latencies, 95)), recall))
            progress(f"{size:,} {kind}: p95 {rows[-1].p95_ms:.3f} ms, recall@10 {recall:.4f}")
    return BenchReport(dim, queries, data, opts.hnsw_ef_search, tuple(rows))


def _time_queries(index: VectorIndex, probes: np.ndarray) -> tuple[list[float], list[list[str]]]:
    for probe in probes[:10]:  # warm caches
        index.search(probe, 10)
    latencies, found = [], []
    for probe in probes:
        started = time.perf_counter()
        hits = index.search(probe, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append([article_id for article_id, _score in hits])
    return latencies, found
