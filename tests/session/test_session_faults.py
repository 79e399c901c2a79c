"""Bad input to a call session: order, duplicates, sizes, one speaker, timeouts, ids, isolation."""
from __future__ import annotations

import dataclasses
import time

import pytest

from assist.session.events import InsightEvent
from assist.session.log import CallLog
from assist.session.manager import DuplicateCall, SessionManager


def test_out_of_order_and_duplicate_finals(deps, final):
    manager = SessionManager(deps)
    manager.start("c1")
    newer = final("c1", "인터넷이 계속 끊겨요", revision=2)
    assert any(isinstance(e, InsightEvent) for e in manager.handle(newer))
    assert manager.handle(final("c1", "인터넷 이 계속 끊기 어요", revision=1)) == []  # stale
    assert manager.handle(newer) == []  # duplicate
    partial_after_final = final("c1", "인터넷", revision=0, is_final=False)
    assert manager.handle(partial_after_final) == []
    manager.end("c1", save=False)


def test_same_words_in_a_new_revision_do_not_rerun(deps, final):
    manager = SessionManager(deps)
    manager.start("c2")
    manager.handle(final("c2", "유심을 바꾸고 싶어요", revision=1))
    out = manager.handle(final("c2", "유심을  바꾸고 싶어요", revision=2))
    assert [type(e).__name__ for e in out] == ["TranscriptEvent"]
    manager.end("c2", save=False)


def test_empty_and_huge_utterances(deps, final):
    manager = SessionManager(deps)
    manager.start("c3")
    assert [type(e).__name__ for e in manager.handle(final("c3", "   ", segment="customer-0001"))] == ["TranscriptEvent"]
    huge = "요금이 너무 많이 나왔어요 " * 400  # about 5,600 characters
    out = manager.handle(final("c3", huge, segment="customer-0002"))
    assert any(isinstance(e, InsightEvent) for e in out)
    summary = manager.end("c3", save=False)
    assert summary.call_id == "c3"


def test_one_speaker_call_still_summarizes(deps, final, tmp_path):
    manager = SessionManager(deps, CallLog(tmp_path / "log.sqlite3"))
    manager.start("c4")
    for i, text in enumerate(["여보세요?", "요금제를 바꾸고 싶은데요", "더 싼 요금제 있나요?"]):
        manager.handle(final("c4", text, segment=f"customer-{i:04d}", at=i * 3.0))
    summary = manager.end("c4")
    assert "plan_change" in summary.intents
    assert dict(summary.checklist)["greet_team_name"] is False
    assert manager.call_log.call("c4")["disposition"] == summary.disposition


def test_call_that_never_ends_is_expired_and_saved(deps, final, tmp_path):
    manager = SessionManager(deps, CallLog(tmp_path / "log.sqlite3"))
    manager.start("c5")
    manager.handle(final("c5", "인터넷이 안 돼요"))
    assert manager.expire(now=time.monotonic() + deps.guide.session_timeout_s + 1)
    assert manager.live_calls() == [] and manager.call_log.call("c5") is not None


def test_two_calls_with_the_same_id(deps):
    manager = SessionManager(deps)
    manager.start("same")
    with pytest.raises(DuplicateCall, match="same"):
        manager.start("same")
    manager.end("same", save=False)


def test_one_failing_call_does_not_affect_another(deps, final):
    """Fault injection around the real classifier: one call's poisoned utterance raises."""
    real = deps.classify

    def classify(text: str):
        if "POISON" in text:
            raise RuntimeError("stage failure")
        return real(text)

    manager = SessionManager(dataclasses.replace(deps, classify=classify))
    manager.start("bad")
    manager.start("good")
    out = manager.handle(final("bad", "POISON 요금 문의"))
    assert [e.kind for e in out if type(e).__name__ == "Alert"] == ["system"]
    good = manager.handle(final("good", "로밍 요금이 궁금해요"))
    assert any(isinstance(e, InsightEvent) and e.intent == "roaming" for e in good)
    assert manager.end("bad", save=False).call_id == "bad"
    manager.end("good", save=False)
