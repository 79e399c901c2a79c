"""String-to-string helpers for Korean text: spacing, normalization."""
from assist.text.normalize import strip_for_cer, words_for_wer
from assist.text.spacing import respace

__all__ = ["respace", "strip_for_cer", "words_for_wer"]
