"""Live calls of the app on the real engine: ownership per login, replay, end, autosave, idle end."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from assist.config import Settings, UiOptions
from assist.evaluate.calls import expected_for
from assist.session.deps import SessionDeps
from assist.session.log import CallLog
from assist.session.replay import read_transcript
from assist.ui.calls import CallHub
from assist.ui.deps import AppDeps
from assist.ui.sources import demo_calls, paced_turns

REPO = Path(__file__).resolve().parents[2]


def _hub(tmp_path: Path, deps: SessionDeps, idle_s: float = 300.0) -> CallHub:
    """A call hub on the real NLU, KB search and scripts; its call log in ``tmp_path``."""
    settings = Settings(root=tmp_path, kb_dir=REPO / "kb", demo_dir=REPO / "demo",
                        ui=UiOptions(idle_call_s=idle_s, warm_asr=False))
    app = AppDeps(settings, deps, None, None, CallLog(settings.data_path / "calls.sqlite3"))
    return CallHub(app, settings.ui)


def test_a_replayed_call_is_owned_by_its_login_and_saved_once(tmp_path: Path,
                                                               session_deps: SessionDeps) -> None:
    hub = _hub(tmp_path, session_deps)
    demo = demo_calls(hub.deps.settings)[0]
    expected = expected_for(demo.path)
    call = hub.start("token-a", "kim", "demo")
    turns = read_transcript(demo.path, call.call_id)
    hub.run(call, lambda live: hub.feed(live, paced_turns(turns, 1000.0, live.stop)))
    call.thread.join(60)
    assert hub.get("token-b", call.call_id) is None
    assert hub.get("token-a", call.call_id) is call
    view = call.view
    assert view.status == "ended" and view.summary is not None
    assert view.cards and view.stage and view.checklist
    assert expected["intents"][0] in view.summary.intents
    card = view.cards[0].article_id
    hub.feedback(call, card, "up")
    hub.save(call, "요약을 고쳤습니다.", "billing_inquiry:resolved")
    with sqlite3.connect(tmp_path / "var" / "calls.sqlite3") as db:
        assert db.execute("SELECT summary, disposition FROM calls").fetchall() == [
            ("요약을 고쳤습니다.", "billing_inquiry:resolved")]
        assert db.execute("SELECT kind, agent, article_id FROM feedback").fetchall() == [
            ("up", "kim", card)]
    hub.close()


def test_a_new_call_ends_and_saves_the_previous_one(tmp_path: Path,
        session_deps: SessionDeps) -> None:
    hub = _hub(tmp_path, session_deps)
    first = hub.start("token-a", "kim", "mic")
    second = hub.start("token-a", "kim", "mic")
    assert first.view.status == "saved" and second.live
    assert hub.latest("token-a") is second
    other = hub.start("token-b", "lee", "mic")
    assert second.live and hub.latest("token-b") is other
    hub.close()


def test_a_call_nobody_feeds_is_ended_and_saved(tmp_path: Path,
        session_deps: SessionDeps) -> None:
    hub = _hub(tmp_path, session_deps, idle_s=1.0)
    call = hub.start("token-a", "kim", "mic")
    hub.reap(now=call.last_activity + 5.0)
    assert call.view.status == "saved"
    assert "입력이 없어" in call.view.notice


def test_a_failing_feeder_ends_its_call_with_a_korean_notice(tmp_path: Path,
        session_deps: SessionDeps) -> None:
    from assist.config import AssistError

    hub = _hub(tmp_path, session_deps)
    done = threading.Event()

    def broken(live) -> None:
        done.set()
        raise AssistError("broken.wav: decoding failed after 100 frames")

    call = hub.start("token-a", "kim", "upload")
    hub.run(call, broken)
    call.thread.join(10)
    assert done.is_set() and call.view.status == "ended"
    assert call.view.notice.startswith("통화 입력을 끝까지 읽지 못했습니다")
    assert call.view.alerts[-1].kind == "system"
    hub.close()
