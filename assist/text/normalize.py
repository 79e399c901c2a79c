"""Text normalization for scoring recognition the way Korean CER is usually reported."""
from __future__ import annotations

import re
import unicodedata

__all__ = ["strip_for_cer", "words_for_wer"]

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)


def words_for_wer(text: str) -> list[str]:
    """NFC, punctuation removed, lower-cased, split on whitespace."""
    text = unicodedata.normalize("NFC", text).lower()
    return _PUNCT.sub(" ", text).split()


def strip_for_cer(text: str) -> str:
    """Characters only: spacing and punctuation do not count as errors in CER."""
    return "".join(words_for_wer(text))
