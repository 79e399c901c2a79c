"""The app's parts without a browser or models: passwords and roles, HTML escaping, the call
view's folding rules, Korean validation and upload checks."""
from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from assist.asr.events import TranscriptEvent
from assist.guide.events import Alert, Answer, Suggestions
from assist.kb import Article
from assist.ui.auth import (Auth, AuthError, Denied, User, ensure_users, hash_password,
                            verify_password, write_users)
from assist.ui.kb_forms import article_from_form, diff_html, korean_problems, preview_html
from assist.ui.labels import josa
from assist.ui.render import alerts_html, card_html, status_html, transcript_html
from assist.ui.uploads import AUDIO_TYPES, UploadError, check_upload, probe_audio, safe_extract
from assist.ui.view import CallView

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def _event(segment: str, text: str, final: bool = True, revision: int = 1, speaker: str = "customer",
           replaces: tuple[str, ...] = ()) -> TranscriptEvent:
    return TranscriptEvent("c1", speaker, segment, revision, final, text, 0.0, 1.0, None, "test",
                           time.time(), replaces=replaces)


# -- passwords and roles ---------------------------------------------------------------------
def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = hash_password("비밀번호-123"), hash_password("비밀번호-123")
    assert first.startswith("scrypt$") and first != second
    assert "비밀번호-123" not in first
    assert verify_password("비밀번호-123", first)
    assert not verify_password("비밀번호-124", first)
    assert not verify_password("x", "plain-text")


def test_first_start_makes_demo_users_with_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    made = ensure_users(path)
    assert {role for _, role, _ in made} == {"agent", "editor", "evaluator", "admin"}
    text = path.read_text()
    assert all(password not in text for _, _, password in made)
    assert ensure_users(path) == []  # never overwritten
    assert path.stat().st_mode & 0o077 == 0


def test_roles_are_enforced_per_permission(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    write_users(path, [User("kim", "agent", hash_password("pw-agent")),
                       User("lee", "editor", hash_password("pw-editor"))])
    auth = Auth(path, max_failures=2)
    agent = auth.login("kim", "pw-agent")
    assert auth.require(agent.token, "call").name == "kim"
    with pytest.raises(Denied, match="지식 관리"):
        auth.require(agent.token, "kb")
    editor = auth.login("lee", "pw-editor")
    assert auth.require(editor.token, "kb").role == "editor"
    with pytest.raises(Denied):
        auth.require(editor.token, "eval")
    with pytest.raises(AuthError, match="로그인이 필요합니다"):
        auth.require("forged-token", "call")
    auth.logout(agent.token)
    with pytest.raises(AuthError):
        auth.require(agent.token, "call")


def test_repeated_wrong_passwords_pause_logins(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    write_users(path, [User("kim", "agent", hash_password("right"))])
    auth = Auth(path, max_failures=2)
    for _ in range(2):
        with pytest.raises(AuthError, match="올바르지 않습니다"):
            auth.login("kim", "wrong")
    with pytest.raises(AuthError, match="잠시 로그인할 수 없습니다"):
        auth.login("kim", "right")


# -- escaping --------------------------------------------------------------------------------
def test_hostile_text_is_escaped_everywhere() -> None:
    answer = Answer("a-1", 1, HOSTILE, HOSTILE, HOSTILE, 1.0)
    view = CallView("c1", HOSTILE)
    view.apply(_event("customer-0001", HOSTILE))
    view.apply(Alert("c1", "complaint", "critical", HOSTILE, 1.0, HOSTILE))
    article = Article("x-1", HOSTILE, ("refund",), (HOSTILE,), HOSTILE, (HOSTILE,))
    rendered = [card_html(answer, 0, 'x" onmouseover="1'), status_html(view), alerts_html(view.alerts),
                transcript_html(view.ordered_transcript()), preview_html(article),
                diff_html(f"+{HOSTILE}\n-{HOSTILE}")]
    for html in rendered:
        assert "<script" not in html and "<img" not in html and 'onmouseover="1' not in html
        assert "&lt;script&gt;" in html or "&lt;img" in html


# -- the call view ---------------------------------------------------------------------------
def test_finals_replace_partials_and_whisper_replaces_segments() -> None:
    view = CallView("c1", "test")
    view.apply(_event("customer-0001", "요금이", final=False, revision=0))
    assert 'partial' in transcript_html(view.ordered_transcript())
    view.apply(_event("customer-0001", "요금이 많이 나왔어요"))
    view.apply(_event("customer-0002", "왜 그런지"))
    view.apply(_event("customer-0001", "요금이 많이 나왔어요 왜 그런지", revision=2,
                      replaces=("customer-0001", "customer-0002")))
    texts = [e.text for e in view.ordered_transcript()]
    assert texts == ["요금이 많이 나왔어요 왜 그런지"]
    assert "partial" not in transcript_html(view.ordered_transcript())


def test_cards_change_only_on_replaced_suggestions() -> None:
    view = CallView("c1", "test")
    first = (Answer("a", 1, "A", "말씀", "근거", 1.0),)
    other = (Answer("b", 1, "B", "다른 말씀", "근거", 2.0),)
    view.apply(Suggestions("c1", "s1", first, "줄 1", "inquiry", (), True))
    version = view.versions["cards"]
    view.apply(Suggestions("c1", "s2", other, "줄 2", "inquiry", (), False))
    assert view.cards == first and view.versions["cards"] == version
    assert view.next_line == "줄 2"
    view.apply(Suggestions("c1", "s3", other, "줄 2", "inquiry", (), True))
    assert view.cards == other and view.versions["cards"] == version + 1


# -- KB form and uploads ---------------------------------------------------------------------
def test_kb_problems_are_korean_and_name_the_field() -> None:
    article = article_from_form("Bad ID", "", [], "", "x" * 2100, "", "bad id!")
    problems = dict(korean_problems(article))
    assert set(problems) >= {"id", "title", "intents", "answer"}
    assert problems["title"] == "제목을 입력해 주세요."
    assert "2100자" in problems["answer"]
    assert all(any("가" <= ch <= "힣" for ch in message) for message in problems.values())
    assert josa("문서 ID", "을", "를") == "문서 ID를" and josa("답변", "이", "가") == "답변이"
    assert korean_problems(article_from_form("ok-1", "제목", ["refund"], "태그", "답변", "", "")) == []


def test_uploads_refuse_wrong_type_size_and_corrupt_audio(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="먼저 올려"):
        check_upload(None, AUDIO_TYPES, 1)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UploadError, match=r"지원하지 않는 파일 형식입니다 \(\.txt\)"):
        check_upload(str(text), AUDIO_TYPES, 1)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 1_500_000)
    with pytest.raises(UploadError, match="너무 큽니다"):
        check_upload(str(big), AUDIO_TYPES, 1)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    with pytest.raises(UploadError, match="녹음 파일을 읽을 수 없습니다"):
        probe_audio(check_upload(str(corrupt), AUDIO_TYPES, 1))
    quad = tmp_path / "quad.wav"
    with wave.open(str(quad), "wb") as handle:
        handle.setnchannels(4)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\1\0" * 4 * 1600)
    with pytest.raises(UploadError, match="채널이 4개"):
        probe_audio(quad)


def test_zip_cannot_write_outside_its_folder(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("../../escaped.txt", "x")
    with pytest.raises(UploadError, match="허용되지 않는 경로"):
        safe_extract(archive, tmp_path / "out", 10)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_the_topic_stays_up_while_the_customer_only_says_yes() -> None:
    from assist.session.events import InsightEvent
    from assist.ui.render import flow_html, insight_html

    said_yes = InsightEvent("c1", "s2", "none", 0.97, (("none", 0.97),), "neutral", 0.8, 0.1,
                            "neutral", "m", topic="billing_inquiry")
    html = insight_html(said_yes, [0.0, 0.1])
    assert "요금 조회" in html and "방금: 정보 없는 발화 97%" in html
    on_topic = InsightEvent("c1", "s3", "refund", 0.91, (("refund", 0.91),), "neutral", 0.8, 0.1,
                            "neutral", "m", topic="refund")
    assert "신뢰도 91%" in insight_html(on_topic, [])
    flow = flow_html("inquiry", ["greeting"], (("greet_team_name", True),))
    assert "소속·이름 밝히기" in flow and 'title="첫인사에서 소속 팀과 이름 밝히기"' in flow
