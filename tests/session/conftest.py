"""Session fixtures: the shared real dependencies under their short name, transcript events."""
from __future__ import annotations

import time

import pytest

from assist.asr.events import TranscriptEvent


@pytest.fixture(scope="session")
def deps(session_deps):
    return session_deps


@pytest.fixture(scope="session")
def final():
    """Builds a transcript event: final(call_id, text, segment=..., speaker=..., is_final=...)."""
    return _final


def _final(call_id: str, text: str, segment: str = "customer-0001", revision: int = 1,
          speaker: str = "customer", is_final: bool = True, at: float = 1.0) -> TranscriptEvent:
    return TranscriptEvent(call_id, speaker, segment, revision, is_final, text, at, at + 1.0, None,
                           "test", time.time())
