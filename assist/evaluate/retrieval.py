"""Retrieval quality: recall@1/3/5 and MRR of each search method on labeled queries.

Query files are TSV or CSV with a header ``query,article_ids``; several relevant ids are joined
with '|'. Recall@k is the share of a query's relevant articles found in the top k, averaged
over queries; MRR uses the first relevant article's rank (0 when not in the top 10).

The shipped query set is split: ``dev`` (queries_a.tsv) is the one settings may be tuned on,
``test`` (queries_b.tsv and queries_c.tsv) is only ever scored. ``hybrid+intent`` is hybrid
search given the intent the NLU model predicts for the query, as the live call passes it.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assist.config import AssistError, Settings

if TYPE_CHECKING:
    from assist.retrieve import Searcher

__all__ = ["LabeledQuery", "MethodScore", "RetrievalReport", "read_queries", "score_retrieval",
           "folder_searcher", "SPLITS", "split_paths", "predicted_intents", "INTENT_METHOD"]

DEPTH = 10
SPLITS = {"dev": ("queries_a.tsv",), "test": ("queries_b.tsv", "queries_c.tsv")}
INTENT_METHOD = "hybrid+intent"
NOT_A_TOPIC = frozenset({"none", "unsure", "out_of_scope"})  # as assist.session.call


def split_paths(folder: Path, split: str) -> list[Path]:
    """The query files of ``split`` ('dev', 'test' or 'all') in ``folder``."""
    folder = Path(folder)
    if split == "all":
        return sorted(folder.glob("queries_*.tsv"))
    if split not in SPLITS:
        raise AssistError(f"Unknown query split {split!r}; use dev, test or all.")
    return [folder / name for name in SPLITS[split]]


def predicted_intents(settings: Settings, texts: Sequence[str]) -> dict[str, str | None]:
    """The intent the NLU model gives each text, or None where the live call would pass none
    (none, unsure, out of scope, or a calibrated score under the topic threshold)."""
    from assist.nlu.model import load_nlu

    floor = getattr(settings.guide, "topic_min_score", 0.75)
    model = load_nlu(settings, with_sentiment=False)
    unique = list(dict.fromkeys(texts))
    found: dict[str, str | None] = {}
    for text, insight in zip(unique, model.classify_many(unique)):
        keep = (not insight.unsure and insight.intent not in NOT_A_TOPIC
                and insight.intent_score >= floor)
        found[text] = insight.intent if keep else None
    return found


@dataclass(frozen=True, slots=True)
class LabeledQuery:
    query: str
    article_ids: tuple[str, ...]
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class MethodScore:
    recall_at_1: float
    recall_at_3: float
    recall_at_5: float
    mrr: float


@dataclass(frozen=True, slots=True)
class RetrievalReport:
    n: int
    scores: tuple[tuple[str, MethodScore], ...]
    misses: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]  # method, query, want, got

    def to_dict(self) -> dict:
        return {"n": self.n, **{name: {key: round(value, 4) for key, value in asdict(score).items()}
                                for name, score in self.scores}}

    def markdown(self) -> str:
        rows = ["| method | recall@1 | recall@3 | recall@5 | MRR |", "|---|---|---|---|---|"]
        rows += [f"| {name} | {s.recall_at_1:.3f} | {s.recall_at_3:.3f} | {s.recall_at_5:.3f} | "
                 f"{s.mrr:.3f} |" for name, s in self.scores]
        return "\n".join(rows) + f"\n\n{self.n} queries"


def read_queries(paths: Iterable[Path]) -> list[LabeledQuery]:
    """Every labeled query of the files; bad rows raise one error listing file and line."""
    queries: list[LabeledQuery] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = Path(path).read_text("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError) as exc:
            raise AssistError(f"Cannot read query file {path}: {exc}.") from exc
        delimiter = "\t" if str(path).endswith(".tsv") or "\t" in text.split("\n", 1)[0] else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        if not {"query", "article_ids"} <= set(reader.fieldnames or []):
            raise AssistError(f"{path}: the header must have the columns query and article_ids.")
        for row in reader:
            ids = tuple(i.strip() for i in (row.get("article_ids") or "").split("|") if i.strip())
            if not (row.get("query") or "").strip() or not ids:
                problems.append(f"{path}:{reader.line_num}: empty query or article_ids")
                continue
            queries.append(LabeledQuery(row["query"].strip(), ids, str(path), reader.line_num))
    if problems:
        raise AssistError(f"{len(problems)} bad row(s) in the query files: " + "; ".join(problems[:5]))
    if not queries:
        raise AssistError("No labeled queries found.")
    return queries


def score_retrieval(queries: Sequence[LabeledQuery], methods: Sequence[str],
                    search: Callable[[str, str], Sequence[str]]) -> RetrievalReport:
    """``search(query, method)`` returns ranked article ids (at least the top 10)."""
    scores = []
    misses = []
    for method in methods:
        totals = {"recall_at_1": 0.0, "recall_at_3": 0.0, "recall_at_5": 0.0, "mrr": 0.0}
        for item in queries:
            ranked = list(search(item.query, method))[:DEPTH]
            wanted = set(item.article_ids)
            for k in (1, 3, 5):
                totals[f"recall_at_{k}"] += len(wanted & set(ranked[:k])) / len(wanted)
            first = next((rank for rank, aid in enumerate(ranked, start=1) if aid in wanted), None)
            totals["mrr"] += 1.0 / first if first else 0.0
            if not wanted & set(ranked[:3]):
                misses.append((method, item.query, item.article_ids, tuple(ranked[:3])))
        scores.append((method, MethodScore(**{key: value / len(queries) for key, value in totals.items()})))
    return RetrievalReport(len(queries), tuple(scores), tuple(misses))


def folder_searcher(settings: Settings, work_dir: Path, encoder: object | None = None) -> Searcher:
    """A searcher over exactly the kb/ folder's articles, in a scratch store under ``work_dir``.

    The scratch store keeps its embedding cache between runs, so only articles changed in the
    folder since the last evaluation are encoded again.
    """
    from assist.kb import KbStore, import_path
    from assist.retrieve import Searcher

    if encoder is None:
        from assist.nlu.encoder import load_encoder

        encoder = load_encoder(settings.models_path / settings.nlu.encoder_dir_name)
    store = KbStore(Path(work_dir) / "kb.sqlite3", settings.kb)
    batch, _result = import_path(store, settings.kb_path, "folder", author="eval")
    wanted = {article.id for article in batch.articles}
    for article in store.articles():
        if article.id not in wanted:
            store.delete(article.id, author="eval", note="not in the kb/ folder")
    return Searcher(store, encoder, Path(work_dir) / "index", settings.retrieve)
