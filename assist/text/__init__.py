"""String-to-string helpers for Korean text: spacing, normalization, PII redaction."""
from assist.text.normalize import strip_for_cer, words_for_wer
from assist.text.pii import MASKS, PII_KINDS, PiiSpan, find_pii, redact
from assist.text.spacing import respace

__all__ = ["MASKS", "PII_KINDS", "PiiSpan", "find_pii", "redact", "respace", "strip_for_cer",
           "words_for_wer"]
