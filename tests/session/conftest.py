"""One set of real session dependencies (NLU, KB search over a fresh store, scripts) per run."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from assist.asr.events import TranscriptEvent
from assist.config import Settings
from assist.session.loader import build_deps

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def deps(tmp_path_factory):
    root = tmp_path_factory.mktemp("session")
    return build_deps(Settings(root=root, model_dir=REPO / "models", kb_dir=REPO / "kb",
                               demo_dir=REPO / "demo"))


@pytest.fixture(scope="session")
def final():
    """Builds a transcript event: final(call_id, text, segment=..., speaker=..., is_final=...)."""
    return _final


def _final(call_id: str, text: str, segment: str = "customer-0001", revision: int = 1,
          speaker: str = "customer", is_final: bool = True, at: float = 1.0) -> TranscriptEvent:
    return TranscriptEvent(call_id, speaker, segment, revision, is_final, text, at, at + 1.0, None,
                           "test", time.time())
