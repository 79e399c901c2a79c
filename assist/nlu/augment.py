"""ASR-style noise for Korean training and test text.

Recognizers hand the classifier text that written examples never look like: vosk emits
morphemes ("요금 이 많이 나오 었 어요"), spacing is lost or wrong, particles vanish, fillers
("음", "어") appear and similar-sounding syllables get swapped (ㅐ/ㅔ, ㄴ/ㅇ finals, lax/
aspirated onsets). Training on such copies keeps intent accuracy up on real transcripts;
noisy copies of the dev split measure it. Everything is deterministic given the seed.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from assist.text.spacing import kiwi

__all__ = ["NoiseOptions", "asr_noise", "noisy_copies", "swap_syllable"]

_lock = threading.Lock()
_BASE, _LAST = 0xAC00, 0xD7A3
_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ",
         "ㅀ", "ㅁ", "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")
# Confusions a Korean recognizer makes: lax/tense/aspirated onsets, merged vowels
# (ㅐ/ㅔ), neutralized finals (ㅅㅈㅊㅌ -> ㄷ sound), nasal finals, dropped ㅎ/ㄹ finals.
_CHO_SWAP = {"ㄱ": "ㅋㄲ", "ㄲ": "ㄱ", "ㅋ": "ㄱ", "ㄷ": "ㅌㄸ", "ㅌ": "ㄷ", "ㄸ": "ㄷ",
             "ㅂ": "ㅍㅃ", "ㅍ": "ㅂ", "ㅃ": "ㅂ", "ㅈ": "ㅊㅉ", "ㅊ": "ㅈ", "ㅉ": "ㅈ",
             "ㅅ": "ㅆ", "ㅆ": "ㅅ", "ㄴ": "ㄹ", "ㄹ": "ㄴ", "ㅇ": "ㅎ", "ㅎ": "ㅇ"}
_JUNG_SWAP = {"ㅐ": "ㅔ", "ㅔ": "ㅐ", "ㅒ": "ㅖ", "ㅖ": "ㅒ", "ㅙ": "ㅞㅚ", "ㅞ": "ㅙㅚ",
              "ㅚ": "ㅙㅞ", "ㅓ": "ㅗ", "ㅗ": "ㅓ", "ㅕ": "ㅛ", "ㅛ": "ㅕ", "ㅜ": "ㅡ",
              "ㅡ": "ㅜ", "ㅢ": "ㅣㅡ", "ㅟ": "ㅣ"}
_JONG_SWAP = {"ㄴ": ("ㅇ", "ㅁ"), "ㅇ": ("ㄴ",), "ㅁ": ("ㄴ",), "ㅅ": ("ㄷ",), "ㄷ": ("ㅅ",),
              "ㅆ": ("ㅅ",), "ㅈ": ("ㅅ",), "ㅊ": ("ㅅ",), "ㅌ": ("ㅅ",), "ㅎ": ("",),
              "ㄹ": ("",), "ㄺ": ("ㄱ",), "ㄼ": ("ㄹ",), "ㄶ": ("ㄴ",), "ㅄ": ("ㅂ",),
              "ㄳ": ("ㄱ",), "ㅂ": ("ㅍ",), "ㄱ": ("ㄲ",)}
_FILLERS = ("음", "어", "아", "그", "저기요", "저", "그러니까", "뭐", "네", "그게")


@dataclass(frozen=True, slots=True)
class NoiseOptions:
    """Rates of each kind of recognizer noise (per utterance unless said otherwise)."""

    morphemes: float = 0.35  # vosk-style: every morpheme a separate word
    drop_particle: float = 0.5  # per particle (조사)
    filler: float = 0.3  # a filler at the start
    filler_inside: float = 0.03  # per word: a filler before it
    swap: float = 0.04  # per syllable: a similar-sounding syllable
    no_spaces: float = 0.2  # all spaces removed
    drop_space: float = 0.15  # per remaining space


def swap_syllable(syllable: str, rng: random.Random) -> str:
    """A similar-sounding Hangul syllable; anything else comes back unchanged."""
    code = ord(syllable) - _BASE
    if not 0 <= code <= _LAST - _BASE:
        return syllable
    cho, jung, jong = code // 588, (code % 588) // 28, code % 28
    for part in rng.sample(range(3), 3):
        if part == 0 and _CHO[cho] in _CHO_SWAP:
            cho = _CHO.index(rng.choice(_CHO_SWAP[_CHO[cho]]))
            break
        if part == 1 and _JUNG[jung] in _JUNG_SWAP:
            jung = _JUNG.index(rng.choice(_JUNG_SWAP[_JUNG[jung]]))
            break
        if part == 2 and _JONG[jong] in _JONG_SWAP:
            jong = _JONG.index(rng.choice(_JONG_SWAP[_JONG[jong]]))
            break
    return chr(_BASE + cho * 588 + jung * 28 + jong)


def _words(text: str, rng: random.Random, opts: NoiseOptions) -> list[str]:
    """Morpheme analysis -> drop punctuation and some particles -> morphemes or words."""
    analyzer = kiwi()
    with _lock:
        tokens = analyzer.tokenize(text)
    kept = [(t.form, t.tag) for t in tokens
            if not t.tag.startswith("S") or t.tag in ("SL", "SN", "SH")]
    kept = [(f, tag) for f, tag in kept
            if not (tag.startswith("J") and rng.random() < opts.drop_particle)]
    if not kept:
        return text.split()
    with _lock:
        if rng.random() < opts.morphemes:
            return _morphemes(analyzer, kept)
        return analyzer.join(kept).split()


def _morphemes(analyzer, kept: list[tuple[str, str]]) -> list[str]:
    """Morphemes as words; a bare final consonant (ᆫ, ᆯ) is joined to the morpheme before."""
    out: list[str] = []
    previous: tuple[str, str] | None = None
    for form, tag in kept:
        if previous is not None and form and "\u1100" <= form[0] <= "\u11ff":
            out[-1] = analyzer.join([previous, (form, tag)])
            previous = None
            continue
        out.append(form)
        previous = (form, tag)
    return out


def asr_noise(text: str, rng: random.Random, opts: NoiseOptions = NoiseOptions()) -> str:
    """One noisy copy of ``text`` as a recognizer might have written it."""
    words = _words(text, rng, opts)
    words = ["".join(swap_syllable(ch, rng) if rng.random() < opts.swap else ch for ch in w)
             for w in words]
    out: list[str] = []
    if rng.random() < opts.filler:
        out.append(rng.choice(_FILLERS))
    for i, word in enumerate(words):
        if i and rng.random() < opts.filler_inside:
            out.append(rng.choice(_FILLERS))
        out.append(word)
    if rng.random() < opts.no_spaces:
        return "".join(out)
    joined = out[0] if out else ""
    for word in out[1:]:
        joined += ("" if rng.random() < opts.drop_space else " ") + word
    return joined


def noisy_copies(texts: Sequence[str], seed: int = 0, copies: int = 1,
                 opts: NoiseOptions = NoiseOptions()) -> list[str]:
    """``copies`` noisy versions of each text, grouped per copy; same seed, same output."""
    out = []
    for copy in range(copies):
        for i, text in enumerate(texts):
            out.append(asr_noise(text, random.Random(f"{seed}:{copy}:{i}:{text}"), opts))
    return out
