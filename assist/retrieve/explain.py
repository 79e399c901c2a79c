"""Say why an article came up: which query words matched which part, and the closest sentence.

An agent glancing at a card decides in a second whether it fits; showing the matching words
and the one sentence nearest to what the customer said makes that possible.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assist.kb import Article
from assist.retrieve.keyword import char_bigrams, content_morphemes

__all__ = ["Explanation", "explain", "sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")
FIELD_NAMES = (("title", "제목"), ("tags", "태그"), ("answer", "답변"), ("steps", "절차"),
               ("questions", "예상 질문"))
MAX_SENTENCE_CHARS = 90
# Words that match nearly every article and tell the agent nothing about why this one came up
# (they still count for BM25, whose idf already weighs them down).
GENERIC_WORDS = frozenset({"이번", "지난", "다음", "달", "월", "일", "오늘", "어제", "내일", "요즘",
                           "지금", "제", "저희", "우리", "고객", "번", "거", "때문", "혹시",
                           "얼마", "어떻게", "왜", "언제", "뭐", "확인", "문의", "가능"})


@dataclass(frozen=True, slots=True)
class Explanation:
    keywords: tuple[str, ...]
    fields: tuple[str, ...]
    sentence: str
    text: str


def sentences(article: Article) -> tuple[str, ...]:
    """Answer sentences, then steps: the units a 'closest sentence' is chosen from."""
    parts = [s.strip() for s in _SENTENCE_END.split(article.answer) if s.strip()]
    return tuple(parts + [step.strip() for step in article.steps if step.strip()])


def explain(article: Article, query_texts: Iterable[str], semantic: bool) -> Explanation:
    """Matched keywords (with the fields they are in) and the sentence sharing most with the query."""
    texts = list(query_texts)
    query_terms = list(dict.fromkeys(t for text in texts for t in content_morphemes(text)
                                     if t not in GENERIC_WORDS))
    query_grams = {g for text in texts for g in char_bigrams(text)}
    field_terms = {
        "title": set(content_morphemes(article.title)),
        "tags": {t for tag in article.tags for t in content_morphemes(tag)},
        "answer": set(content_morphemes(article.answer)),
        "steps": {t for step in article.steps for t in content_morphemes(step)},
        "questions": {t for q in article.questions for t in content_morphemes(q)},
    }
    keywords = tuple(t for t in query_terms if any(t in terms for terms in field_terms.values()))
    fields = tuple(label for name, label in FIELD_NAMES if field_terms[name] & set(keywords))
    sentence = _closest(article, set(query_terms), query_grams)
    return Explanation(keywords, fields, sentence, _describe(keywords, fields, sentence, semantic))


def _closest(article: Article, terms: set[str], grams: set[str]) -> str:
    best, best_score = "", 0.0
    for candidate in sentences(article):
        shared_terms = len(terms & set(content_morphemes(candidate)))
        own = set(char_bigrams(candidate))
        shared_grams = len(grams & own) / (len(own) ** 0.5 or 1.0)
        score = 2.0 * shared_terms + shared_grams
        if score > best_score:
            best, best_score = candidate, score
    return best


def _describe(keywords: tuple[str, ...], fields: tuple[str, ...], sentence: str,
              semantic: bool) -> str:
    parts = []
    if keywords:
        shown = ", ".join(keywords[:5])
        parts.append(f"키워드 {shown} ({'·'.join(fields)})")
    if semantic:
        parts.append("의미 유사")
    if sentence:
        short = sentence if len(sentence) <= MAX_SENTENCE_CHARS else sentence[:MAX_SENTENCE_CHARS] + "…"
        parts.append(f"가까운 문장: “{short}”")
    return " · ".join(parts) or "의미 유사"
