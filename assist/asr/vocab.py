"""Domain vocabulary: bias Whisper toward KB terms and repair near-misses in vosk output.

Whisper takes the terms as an initial prompt and hotwords. Vosk's small graph cannot be
biased at run time without losing open vocabulary, so its output is corrected instead: a word
whose start is within one jamo (two for long terms) of a term becomes the term.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein

__all__ = ["DomainVocabulary", "to_jamo"]

_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"


def to_jamo(text: str) -> str:
    """Hangul syllables decomposed to jamo, so edit distance counts sounds, not syllables."""
    out = []
    for ch in text:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out += [_CHO[code // 588], _JUNG[(code % 588) // 28], _JONG[code % 28].strip()]
        else:
            out.append(ch)
    return "".join(out)


def _is_hangul(text: str) -> bool:
    return all("\uac00" <= ch <= "\ud7a3" for ch in text)


@dataclass(frozen=True, slots=True)
class DomainVocabulary:
    terms: tuple[str, ...]

    @classmethod
    def from_file(cls, path: Path) -> "DomainVocabulary":
        """One term per line; ``#`` starts a comment."""
        if not path.is_file():
            return cls(())
        lines = (line.split("#")[0].strip() for line in path.read_text("utf-8").splitlines())
        return cls.from_terms(line for line in lines if line)

    @classmethod
    def from_terms(cls, terms: Iterable[str]) -> "DomainVocabulary":
        return cls(tuple(dict.fromkeys(t.strip() for t in terms if t.strip())))

    def whisper_prompt(self) -> str:
        """A short natural in-domain sentence. Lists of terms make Whisper copy them as text."""
        return "네, 한빛텔레콤 고객센터입니다. 요금제, 위약금, 유심 관련 문의 도와드리겠습니다."

    def hotwords(self, limit: int = 12) -> str:
        return " ".join(self.terms[:limit])

    def correct(self, text: str) -> str:
        """Replace near-miss spellings of Hangul terms at word starts (particles kept)."""
        hangul_terms = [(t, to_jamo(t)) for t in self.terms if len(t) >= 2 and _is_hangul(t)]
        return " ".join(self._fix_word(word, hangul_terms) for word in text.split())

    @staticmethod
    def _fix_word(word: str, terms: list[tuple[str, str]]) -> str:
        if any(word.startswith(term) for term, _ in terms):
            return word
        best, best_dist = word, None
        for term, term_jamo in terms:
            n = len(term)
            head = word[:n]
            if len(head) < n or not _is_hangul(head):
                continue
            allowed = 1 if n <= 3 else 2
            dist = Levenshtein.distance(to_jamo(head), term_jamo, score_cutoff=allowed)
            if dist <= allowed and (best_dist is None or dist < best_dist):
                best, best_dist = term + word[n:], dist
        return best
