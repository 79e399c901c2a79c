"""Korean re-spacing of recognizer output.

The vosk Korean model emits morphemes ("요금 이 많이 나오 았 어요"); agents must read
normal words ("요금이 많이 나왔어요"). Kiwi re-joins the morphemes (contracting endings)
and then re-spaces the sentence.
"""
from __future__ import annotations

import threading
import warnings
from functools import lru_cache

__all__ = ["respace", "kiwi"]

_lock = threading.Lock()


@lru_cache(maxsize=1)
def kiwi():  # -> kiwipiepy.Kiwi
    """One shared analyzer: loading costs about a second and 100 MB."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from kiwipiepy import Kiwi

        return Kiwi()


def respace(text: str) -> str:
    """Join morphemes and fix spacing; text without Hangul comes back unchanged."""
    text = " ".join(text.split())
    if not text or not any("\uac00" <= ch <= "\ud7a3" for ch in text):
        return text
    analyzer = kiwi()
    with _lock:
        tokens = analyzer.tokenize(text)
        joined = analyzer.join([(tok.form, tok.tag) for tok in tokens])
        return analyzer.space(joined, reset_whitespace=True)
