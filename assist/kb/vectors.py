"""Article embeddings, cached in the KB file per encoder fingerprint, and near-duplicate checks.

Encoding the whole KB takes seconds to minutes on CPU, so each article text is encoded once
(keyed by a digest of the text: a restore or revert reuses the old vector); index rebuilds and
duplicate checks then only encode what changed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from assist.kb.article import Article
from assist.kb.store import KbStore

__all__ = ["PassageEncoder", "NearDuplicate", "article_vectors", "question_vectors",
           "near_duplicates"]


class PassageEncoder(Protocol):
    """What assist.nlu.encoder.Encoder offers for KB text."""

    dim: int

    @property
    def fingerprint(self) -> str: ...

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    article_id: str
    title: str
    cosine: float

    def __str__(self) -> str:
        return (f"very similar to {self.article_id} ({self.title}), cosine {self.cosine:.3f}; "
                "consider editing that article instead")


def article_vectors(store: KbStore, encoder: PassageEncoder, articles: Sequence[Article],
                    view: Literal["full", "head"] = "full") -> np.ndarray:
    """Normalized passage embeddings, one row per article; saved articles are cached.

    ``full`` embeds the whole article (title, answer, tags, steps); ``head`` only the title and
    tags, the short description of what the article is about.
    """
    fingerprint = f"{encoder.fingerprint}:{view}"
    text = Article.passage_text if view == "full" else Article.heading_text
    digests = {a.id: hashlib.sha256(text(a).encode()).hexdigest()[:32] for a in articles}
    wanted = {a.id: digests[a.id] for a in articles if a.version > 0}
    found = store.cached_vectors(fingerprint, wanted)
    found = {key: vec for key, vec in found.items() if vec.shape == (encoder.dim,)}
    missing = [a for a in articles if a.version <= 0 or a.id not in found]
    if missing:
        fresh = encoder.encode_passages([text(a) for a in missing])
        store.cache_vectors(fingerprint, [(a.id, digests[a.id], vec) for a, vec in zip(missing, fresh)
                                          if a.version > 0])
        unsaved = {}
        for article, vec in zip(missing, fresh):
            (found if article.version > 0 else unsaved)[article.id] = vec
        found = {**found, **unsaved}
    if not articles:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([found[a.id] for a in articles]).astype(np.float32, copy=False)


def question_vectors(store: KbStore, encoder: PassageEncoder, articles: Sequence[Article],
                     prefix: Literal["query", "passage"] = "query") -> list[np.ndarray]:
    """Normalized embeddings of each article's example questions: one (n_questions, dim) array
    per article (n may be 0). Cached like ``article_vectors``, all of an article's questions in
    one row keyed by a digest of the questions and the prefix.

    ``query`` encodes them as what a caller says (the questions are queries), ``passage`` as KB
    text; an encoder without ``encode_queries`` always gets ``passage``.
    """
    encode = getattr(encoder, "encode_queries", None) if prefix == "query" else None
    if encode is None:
        encode, prefix = encoder.encode_passages, "passage"
    fingerprint = f"{encoder.fingerprint}:questions-{prefix}"
    digests = {a.id: hashlib.sha256("\n".join(a.questions).encode()).hexdigest()[:32] for a in articles}
    wanted = {a.id: digests[a.id] for a in articles if a.version > 0 and a.questions}
    counts = {a.id: len(a.questions) for a in articles}
    found: dict[str, np.ndarray] = {}
    for key, flat in store.cached_vectors(fingerprint, wanted).items():
        count = counts[key]
        if flat.size == count * encoder.dim:
            found[key] = flat.reshape(count, encoder.dim)
    missing = [a for a in articles if a.questions and (a.version <= 0 or a.id not in found)]
    if missing:
        texts = [q for a in missing for q in a.questions]
        fresh = np.asarray(encode(texts), dtype=np.float32)
        start = 0
        for article in missing:
            found[article.id] = fresh[start:start + len(article.questions)]
            start += len(article.questions)
        store.cache_vectors(fingerprint, [(a.id, digests[a.id], found[a.id]) for a in missing
                                          if a.version > 0])
    empty = np.zeros((0, encoder.dim), dtype=np.float32)
    return [found.get(a.id, empty) if a.questions else empty for a in articles]


def near_duplicates(store: KbStore, encoder: PassageEncoder, article: Article,
                    threshold: float) -> tuple[NearDuplicate, ...]:
    """Other live articles whose embedding cosine with ``article`` is above ``threshold``."""
    others = [a for a in store.articles() if a.id != article.id]
    if not others:
        return ()
    mine = article_vectors(store, encoder, [article])[0]
    scores = article_vectors(store, encoder, others) @ mine
    order = np.argsort(-scores)
    return tuple(NearDuplicate(others[i].id, others[i].title, float(scores[i]))
                 for i in order if scores[i] > threshold)
