"""BM25 over Korean content morphemes (kiwipiepy): nouns, verb/adjective stems, roots, foreign
words and numbers.

Matching morphemes rather than words makes '요금이', '요금을' and '요금조회' meet on '요금', and
kiwi segments unspaced recognizer output ('집인터넷이안돼요') into the same morphemes as
written text, so ASR-style queries still find their articles.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from assist.kb import Article
from assist.text.spacing import kiwi

__all__ = ["content_morphemes", "char_bigrams", "ArticleTerms", "article_terms", "KeywordIndex"]

_CONTENT_TAGS = ("NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SN", "SH")
_STOP = frozenset({"하", "되", "있", "없", "같", "보", "주", "이", "그", "저", "것", "수", "때", "좀"})
_lock = threading.Lock()
_cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
_CACHE_SIZE = 4096
# Title and tags say what an article is about; repeating their terms weighs them in BM25.
# Example questions count ``question_repeat`` times (RetrieveOptions), 1 by default.
FIELD_REPEAT = {"title": 2, "tags": 2, "answer": 1, "steps": 1, "questions": 1}


def content_morphemes(text: str) -> tuple[str, ...]:
    """Content morphemes of ``text`` in order (foreign words lowercased); cached."""
    with _lock:
        found = _cache.get(text)
        if found is not None:
            _cache.move_to_end(text)
            return found
        tokens = kiwi().tokenize(text)
    terms = tuple(tok.form.lower() for tok in tokens
                  if tok.tag.startswith(_CONTENT_TAGS) and tok.form not in _STOP)
    with _lock:
        _cache[text] = terms
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return terms


def char_bigrams(text: str) -> tuple[str, ...]:
    """Bigrams of letters and digits with spaces and punctuation removed.

    A second, spelling-level view for what morphemes miss: recognizer spacing ('위약 금'),
    near-miss spellings ('데이타') and compounds kiwi splits differently.
    """
    letters = [ch for ch in text.lower() if ch.isalnum()]
    return tuple(a + b for a, b in zip(letters, letters[1:]))


@dataclass(frozen=True, slots=True)
class ArticleTerms:
    """An article's morphemes per field, for BM25 and for saying which part matched."""

    title: tuple[str, ...]
    tags: tuple[str, ...]
    answer: tuple[str, ...]
    steps: tuple[str, ...]
    chars: tuple[str, ...]  # char bigrams of all fields, title and tags repeated like terms
    questions: tuple[str, ...] = ()
    question_repeat: int = 1

    def document(self) -> list[str]:
        repeat = {**FIELD_REPEAT, "questions": self.question_repeat}
        return [term for name, times in repeat.items() for term in getattr(self, name) * times]


def article_terms(article: Article, question_repeat: int = 1) -> ArticleTerms:
    fields = {"title": [article.title], "tags": list(article.tags), "answer": [article.answer],
              "steps": list(article.steps), "questions": list(article.questions)}
    repeat = {**FIELD_REPEAT, "questions": question_repeat}
    chars = [gram for name, texts in fields.items() for text in texts
             for gram in char_bigrams(text) * repeat[name]]
    return ArticleTerms(
        title=content_morphemes(article.title),
        tags=tuple(t for tag in article.tags for t in content_morphemes(tag)),
        answer=content_morphemes(article.answer),
        steps=tuple(t for step in article.steps for t in content_morphemes(step)),
        chars=tuple(chars),
        questions=tuple(t for q in article.questions for t in content_morphemes(q)),
        question_repeat=question_repeat)


class KeywordIndex:
    """BM25 over a changing set of articles; the BM25 model is rebuilt lazily after a change."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._docs: dict[str, list[str]] = {}
        self._ids: list[str] = []
        self._model: BM25Okapi | None = None

    def __len__(self) -> int:
        return len(self._docs)

    def set(self, article_id: str, document: list[str]) -> None:
        self._docs[article_id] = document
        self._model = None

    def remove(self, article_id: str) -> None:
        if self._docs.pop(article_id, None) is not None:
            self._model = None

    def _ready(self) -> BM25Okapi | None:
        if self._model is None and self._docs:
            self._ids = sorted(self._docs)
            self._model = BM25Okapi([self._docs[i] or ["\0"] for i in self._ids],
                                    k1=self.k1, b=self.b)
        return self._model

    def scores(self, queries: Sequence[tuple[str, ...]], weights: Sequence[float]) -> dict[str, float]:
        """Weighted sum of BM25 scores of several queries; only articles scoring above 0."""
        model = self._ready()
        if model is None:
            return {}
        total = np.zeros(len(self._ids))
        for terms, weight in zip(queries, weights):
            if terms:
                total += weight * model.get_scores(list(terms))
        return {self._ids[i]: float(total[i]) for i in np.flatnonzero(total > 0)}
