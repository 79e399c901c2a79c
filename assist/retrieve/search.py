"""Find the KB answer for what the customer just said: dense + BM25, fused by reciprocal rank.

Besides its text, an article's example caller questions are searched: each is one more dense
vector of the article (its best vector scores it) and part of its BM25 text, so a customer who
asks the way a question is written finds the article even with none of the article's words.

The query is the last few customer utterances, the newest weighted most (a customer often
states the topic once, then adds details). Before every search the searcher applies whatever
was saved to the KB since its last look, by this process or another, so an editor's fix is
served on the very next utterance.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from assist.config import RetrieveOptions, Settings
from assist.kb import (Article, KbStore, article_vectors, open_store, question_vectors,
                       seed_from_folder)
from assist.kb.vectors import PassageEncoder
from assist.retrieve.explain import explain
from assist.retrieve.index import VectorIndex, load_index, save_index
from assist.retrieve.keyword import KeywordIndex, article_terms, char_bigrams, content_morphemes
from assist.text.spacing import respace

__all__ = ["Hit", "Searcher", "Method", "METHODS"]

log = logging.getLogger(__name__)
Method = Literal["hybrid", "dense", "bm25"]
METHODS: tuple[Method, ...] = ("dense", "bm25", "hybrid")
_QUERY_CACHE = 1024


class QueryEncoder(PassageEncoder, Protocol):
    """The shared encoder as retrieval uses it (assist.nlu.encoder.Encoder)."""

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Hit:
    """One suggested article; ``say`` is the answer text as written (escape it when rendering)."""

    article_id: str
    version: int
    title: str
    say: str
    score: float
    method: str
    why: str
    rank: int
    keywords: tuple[str, ...] = ()
    sentence: str = ""
    intents: tuple[str, ...] = ()


class Searcher:
    """Dense index + two BM25 views over the live KB, kept in step with the store."""

    def __init__(self, store: KbStore, encoder: QueryEncoder, index_dir: Path,
                 opts: RetrieveOptions = RetrieveOptions()) -> None:
        self.store, self.encoder, self.index_dir, self.opts = store, encoder, Path(index_dir), opts
        self.rebuilt_because = ""
        self._lock = threading.RLock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._load()

    @classmethod
    def open(cls, settings: Settings, encoder: QueryEncoder | None = None) -> Searcher:
        """The product's searcher: seeds an empty KB from kb/, then loads or rebuilds the index."""
        if encoder is None:
            from assist.nlu.encoder import load_encoder

            encoder = load_encoder(settings.models_path / settings.nlu.encoder_dir_name)
        seed_from_folder(settings)
        return cls(open_store(settings), encoder, settings.data_path / "index", settings.retrieve)

    # keeping in step with the store ------------------------------------------------------

    def _load(self) -> None:
        with self._lock:
            seq = self.store.latest_seq()  # read first: later changes are applied again, harmlessly
            articles = self.store.articles()
            expected = {a.id: a.version for a in articles}
            index, why = load_index(self.index_dir, self.opts, self.encoder.fingerprint,
                                    self.encoder.dim, expected, self.recipe)
            if index is None:
                log.info("rebuilding the article index: %s", why)
                self.rebuilt_because = why
                index = self._build(articles)
                save_index(self.index_dir, index, self.encoder.fingerprint, self.recipe)
            self._dense = index
            self._articles: dict[str, Article] = {}
            self._terms, self._chars = KeywordIndex(), KeywordIndex()
            for article in articles:
                self._index_terms(article)
            self._seq = seq
        self.refresh()

    def _build(self, articles: list[Article]) -> VectorIndex:
        return VectorIndex.build([a.id for a in articles], [a.version for a in articles],
                                 self._vectors(articles), self.opts, self.encoder.dim)

    @property
    def recipe(self) -> str:
        """The settings that shape the dense vectors; a saved index made otherwise is rebuilt."""
        o = self.opts
        return f"article+title:{o.title_weight:g};questions:{o.question_prefix}*{o.question_weight:g}"

    def _vectors(self, articles: list[Article]) -> list[np.ndarray]:
        """Per article: the article vector (whole text blended with title and tags), then one
        vector per example question, scaled by ``question_weight``."""
        full = article_vectors(self.store, self.encoder, articles, "full")
        head = article_vectors(self.store, self.encoder, articles, "head")
        weight = self.opts.title_weight
        blended = (full + weight * head) / (1.0 + weight)
        if self.opts.question_prefix == "off":
            return [row[None, :] for row in blended]
        asked = question_vectors(self.store, self.encoder, articles, self.opts.question_prefix)
        return [np.concatenate([row[None, :], self.opts.question_weight * questions])
                for row, questions in zip(blended, asked)]

    def _index_terms(self, article: Article) -> None:
        terms = article_terms(article, self.opts.question_repeat)
        self._articles[article.id] = article
        self._terms.set(article.id, terms.document())
        self._chars.set(article.id, list(terms.chars))

    def reindex(self) -> None:
        """Rebuild everything from the store and save it (``assist kb reindex``)."""
        with self._lock:
            for path in (self.index_dir / "manifest.json",):
                path.unlink(missing_ok=True)
            self._load()

    def refresh(self) -> int:
        """Apply every change saved since the last look; returns how many articles changed."""
        with self._lock:
            if self.store.latest_seq() == self._seq:
                return 0
            seq, ids = self.store.changes_since(self._seq)
            current = {article_id: self.store.get(article_id) for article_id in ids}
            gone = [i for i, a in current.items() if a is None or a.deleted]
            live = [a for a in current.values() if a is not None and not a.deleted]
            self._dense.remove(gone)
            for article_id in gone:
                self._articles.pop(article_id, None)
                self._terms.remove(article_id)
                self._chars.remove(article_id)
            changed = [a for a in live if self._dense.versions.get(a.id) != a.version]
            if changed:
                self._dense.add([a.id for a in changed], [a.version for a in changed],
                                self._vectors(changed))
            for article in live:
                self._index_terms(article)
            self._seq = seq
            save_index(self.index_dir, self._dense, self.encoder.fingerprint, self.recipe)
            return len(ids)

    def __len__(self) -> int:
        return len(self._articles)

    @property
    def index_kind(self) -> str:
        """'flat' (exact) or 'hnsw' (approximate), chosen by KB size."""
        return self._dense.kind

    # searching ---------------------------------------------------------------------------

    def prime(self, texts: Sequence[str]) -> None:
        """Encode many queries in one batch (evaluation); later searches hit the cache."""
        spaced = [respace(t) for t in texts]
        todo = list(dict.fromkeys(t for t in spaced if t not in self._queries))
        for text, vector in zip(todo, self.encoder.encode_queries(todo)):
            self._remember(text, vector)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._queries[text] = vector
        self._queries.move_to_end(text)
        while len(self._queries) > max(_QUERY_CACHE, 1):
            self._queries.popitem(last=False)

    def _query_vector(self, texts: list[str], weights: list[float]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if todo:
            for text, vector in zip(todo, self.encoder.encode_queries(todo)):
                self._remember(text, vector)
        combined = sum(w * self._queries[t] for t, w in zip(texts, weights))
        return combined / (np.linalg.norm(combined) or 1.0)

    def search(self, query: str | Sequence[str], k: int | None = None, intent: str | None = None,
               method: Method = "hybrid", explain: bool = True) -> tuple[Hit, ...]:
        """Best ``k`` articles for one text or the recent customer utterances (oldest first).

        ``explain=False`` leaves ``why`` empty (evaluation ranks thousands of queries).
        """
        utterances = [query] if isinstance(query, str) else list(query)
        utterances = [u for u in utterances if u and u.strip()][-self.opts.query_window:]
        if not utterances:
            return ()
        if method not in METHODS:
            raise ValueError(f"unknown search method {method!r}; use one of {METHODS}")
        self.refresh()
        texts = [respace(u) for u in utterances]
        n = len(texts)
        weights = [self.opts.recency_decay ** (n - 1 - i) for i in range(n)]
        with self._lock:
            ranked = self._rank(texts, weights, method, intent)
            return tuple(self._hit(article_id, score, method, rank, texts if explain else None, semantic)
                         for rank, (article_id, score, semantic)
                         in enumerate(ranked[: k or self.opts.top_k], start=1))

    def _rank(self, texts: list[str], weights: list[float], method: Method,
              intent: str | None) -> list[tuple[str, float, bool]]:
        keep = self._intent_filter(intent)
        pool = self.opts.candidates if keep is None else max(self.opts.candidates * 20, 200)
        lists: dict[str, list[tuple[str, float]]] = {}
        if method in ("dense", "hybrid"):
            lists["dense"] = self._dense.search(self._query_vector(texts, weights), pool)
        if method in ("bm25", "hybrid"):
            lists["bm25"] = _top(self._terms.scores([content_morphemes(t) for t in texts], weights), pool)
        if method == "hybrid":
            lists["chars"] = _top(self._chars.scores([char_bigrams(t) for t in texts], weights), pool)
        if keep is not None:
            lists = {name: [(i, s) for i, s in hits if i in keep] for name, hits in lists.items()}
        dense_ids = {i for i, _ in lists.get("dense", [])[:self.opts.candidates]}
        if method != "hybrid":
            return [(i, s, method == "dense") for i, s in lists[method]]
        fused = self._fuse(lists, intent)
        return [(i, s, i in dense_ids) for i, s in fused]

    def _intent_filter(self, intent: str | None) -> set[str] | None:
        if not intent or self.opts.intent_mode != "filter":
            return None
        keep = {i for i, a in self._articles.items() if intent in a.intents}
        return keep or None  # an intent no article answers filters nothing

    def _fuse(self, lists: dict[str, list[tuple[str, float]]], intent: str | None) -> list[tuple[str, float]]:
        weight = {"dense": self.opts.dense_weight, "bm25": self.opts.bm25_weight,
                  "chars": self.opts.char_weight}
        scores: dict[str, float] = {}
        for name, hits in lists.items():
            for rank, (article_id, _score) in enumerate(hits[: self.opts.candidates], start=1):
                scores[article_id] = scores.get(article_id, 0.0) + weight[name] / (self.opts.rrf_k + rank)
        if intent and self.opts.intent_mode == "boost":
            for article_id in scores:
                if intent in self._articles[article_id].intents:
                    scores[article_id] += self.opts.intent_boost
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def _hit(self, article_id: str, score: float, method: str, rank: int, texts: list[str] | None,
             semantic: bool) -> Hit:
        article = self._articles[article_id]
        if texts is None:
            return Hit(article_id, article.version, article.title, article.answer, round(score, 6),
                       method, "", rank, intents=article.intents)
        why = explain(article, texts, semantic)
        return Hit(article_id, article.version, article.title, article.answer, round(score, 6),
                   method, why.text, rank, why.keywords, why.sentence, article.intents)


def _top(scores: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]
