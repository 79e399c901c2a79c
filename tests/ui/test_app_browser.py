"""The web app driven in headless Chromium: roles, a demo call, feedback, KB edits found by
the agent, evaluation uploads, hostile text, bad uploads, separate sessions, reconnects."""
from __future__ import annotations

import json
import re
import sqlite3
import wave
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect


pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword)")]
WAIT_MS = 30_000
HOSTILE_TITLE = '<img src=x onerror="window.__pwned=1">악성 제목'
HOSTILE_ANSWER = "해킹시도문구 <script>window.__pwned=1</script> <b>굵게</b> 입니다."


def login(browser, server, role: str, width: int = 420) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    page.goto(server.url)
    page.locator("#login-name input").fill(role)
    page.locator("#login-password input").fill(server.passwords[role])
    page.locator("#login-go").click()
    expect(page.locator("#main")).to_be_visible(timeout=WAIT_MS)
    return page


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick(page: Page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def field(page: Page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def clear(page: Page, elem_id: str) -> None:
    """Remove the file a gr.File holds, so another can be chosen."""
    page.locator(f"#{elem_id} button[aria-label]").last.click()
    expect(page.locator(f"#{elem_id} input[type=file]")).to_have_count(1)


def shot(page: Page, server, name: str) -> None:
    """A full-page PNG, reduced to 256 colors (exact for these flat colors) to stay small."""
    from PIL import Image

    path = server.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def test_each_role_sees_its_tabs_and_a_wrong_password_is_refused(browser, app_server) -> None:
    expected = {"agent": ["상담 지원"], "editor": ["상담 지원", "지식 관리"],
                "evaluator": ["상담 지원", "모델 평가"], "admin": ["상담 지원", "지식 관리", "모델 평가"]}
    for role, tabs in expected.items():
        page = login(browser, app_server, role)
        expect(page.locator("#user-label")).to_contain_text(role)
        # the tab bar is hidden when there is one tab only (agents): count the tab buttons
        expect(page.locator("#tabs [role=tablist] [role=tab]")).to_have_text(tabs)
        expect(page.locator("#agent-panel")).to_be_visible()
        page.context.close()
    page = browser.new_page(locale="ko-KR")
    page.goto(app_server.url)
    expect(page.locator("#login-go")).to_be_visible(timeout=WAIT_MS)
    shot(page, app_server, "login")
    page.locator("#login-name input").fill("agent")
    page.locator("#login-password input").fill("wrong-password")
    page.locator("#login-go").click()
    expect(page.locator("#login-msg")).to_contain_text("아이디 또는 비밀번호가 올바르지 않습니다")
    expect(page.locator("#main")).to_be_hidden()
    page.close()


def test_server_refuses_an_editor_function_to_an_agent(app_server) -> None:
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    article = ("agent-made-1", "제목", ["refund"], "", "답변", "", "", "")
    with pytest.raises(Exception, match="로그인이 필요합니다"):
        client.predict(*article, api_name="/kb_save")
    client.predict("agent", app_server.passwords["agent"], api_name="/login")
    with pytest.raises(Exception, match="권한이 없습니다"):
        client.predict(*article, api_name="/kb_save")
    with pytest.raises(Exception, match="권한이 없습니다"):
        client.predict(api_name="/feedback_report")
    assert app_server.served.deps.store.get("agent-made-1") is None


def test_demo_call_fills_the_panel_and_feedback_and_summary_are_stored(browser, app_server) -> None:
    page = login(browser, app_server, "agent")
    pick(page, "demo-speed", "20배속")
    page.locator("#call-start").click()
    expect(page.locator("#call-status .ca-status.live")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#card-0").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".ca-turn.customer").first).to_be_visible()
    expect(page.locator("#call-insight .ca-intent .val")).not_to_contain_text("아직")
    expect(page.locator("#call-flow .ca-stage.now")).to_have_count(1)
    expect(page.locator("#call-line .say")).not_to_be_empty()
    shot(page, app_server, "agent_call")
    page.locator("#up-0").click()
    expect(page.locator("#feedback-msg")).to_contain_text("도움이 됨을 기록했습니다")
    expect(page.locator("#after-call").first).to_be_visible(timeout=60_000)
    expect(page.locator("#call-flow .ca-check li.done").first).to_be_visible()
    expect(field(page, "summary-text")).not_to_have_value("")
    shot(page, app_server, "agent_after_call")
    page.locator("#summary-save").click()
    expect(page.locator("#summary-msg")).to_contain_text("요약을 저장했습니다")
    with sqlite3.connect(app_server.settings.data_path / "calls.sqlite3") as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM feedback WHERE agent='agent'")]
        calls = db.execute("SELECT call_id, disposition FROM calls").fetchall()
    assert "up" in kinds
    assert len(calls) >= 1 and ":" in calls[0][1]
    page.context.close()


def test_sessions_see_only_their_own_call_and_a_reload_brings_it_back(browser, app_server) -> None:
    first = login(browser, app_server, "agent")
    pick(first, "demo-pick", re.compile("^02 ·"))
    first.locator("#call-start").click()
    expect(first.locator("#call-status")).to_contain_text("데모 02", timeout=WAIT_MS)
    second = login(browser, app_server, "agent")
    second.wait_for_timeout(1500)
    expect(second.locator("#call-status")).to_contain_text("진행 중인 통화가 없습니다")
    pick(second, "demo-pick", re.compile("^03 ·"))
    second.locator("#call-start").click()
    expect(second.locator("#call-status")).to_contain_text("데모 03", timeout=WAIT_MS)
    first.wait_for_timeout(1000)
    expect(first.locator("#call-status")).not_to_contain_text("데모 03")
    first.reload()  # a lost connection: the page comes back with the same call
    expect(first.locator("#main")).to_be_visible(timeout=WAIT_MS)
    expect(first.locator("#call-status")).to_contain_text("데모 02", timeout=WAIT_MS)
    for page in (first, second):
        page.locator("#call-end").click()
        expect(page.locator("#after-call").first).to_be_visible(timeout=WAIT_MS)
        page.context.close()


def test_a_saved_kb_edit_is_found_at_once_in_the_agent_tab(browser, app_server, tmp_path) -> None:
    page = login(browser, app_server, "editor", width=1280)
    tab(page, "지식 관리")
    field(page, "kb-query").fill("로밍")
    page.locator("#kb-search").click()
    page.locator("#kb-results label", has_text="roaming-01").click()
    expect(field(page, "kb-id")).to_have_value("roaming-01", timeout=WAIT_MS)
    answer = field(page, "kb-answer")
    answer.fill(answer.input_value() + " 테스트전용요금제큐브는 하루 만 원입니다.")
    expect(page.locator("#kb-preview")).to_contain_text("테스트전용요금제큐브")
    page.locator("#kb-save").click()
    expect(page.locator("#kb-msg")).to_contain_text("저장했습니다 (버전 2)", timeout=WAIT_MS)
    page.locator("#kb-diff-go").click()
    expect(page.locator("#kb-diff .add").last).to_contain_text("테스트전용요금제큐브")
    shot(page, app_server, "kb_editor")
    tab(page, "상담 지원")
    page.locator("#agent-kb").click()
    field(page, "agent-kb-query").fill("테스트전용요금제큐브")
    page.locator("#agent-kb-go").click()
    expect(page.locator("#agent-kb-out")).to_contain_text("roaming-01", timeout=WAIT_MS)
    tab(page, "지식 관리")
    page.locator("#kb-revert").click()
    expect(page.locator("#kb-msg")).to_contain_text("되돌렸습니다 (새 버전 3)", timeout=WAIT_MS)
    page.locator("#kb-delete").click()
    expect(page.locator("#kb-msg")).to_contain_text("삭제했습니다")
    page.locator("#kb-restore").click()
    expect(page.locator("#kb-msg")).to_contain_text("복원했습니다")
    _import_and_export(page, tmp_path)
    page.context.close()


def _import_and_export(page: Page, tmp_path: Path) -> None:
    good = {"id": "imported-01", "title": "가져온 문서", "intents": ["roaming"], "tags": [],
            "answer": "가져온 답변입니다.", "steps": [], "related": []}
    bad = dict(good, id="Bad Id", intents=["no_such_intent"])
    page.locator("#kb-io").get_by_text("가져오기 · 내보내기").click()
    upload = page.locator("#kb-upload input[type=file]")
    for rows, message in (([good, bad], "가져오지 않았습니다"), ([good], "새 문서 1개")):
        source = tmp_path / f"import-{len(rows)}.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        upload.set_input_files(source)
        expect(page.locator("#kb-upload")).to_contain_text(source.stem, timeout=WAIT_MS)
        page.locator("#kb-import").click()
        expect(page.locator("#kb-import-msg")).to_contain_text(message, timeout=WAIT_MS)
        clear(page, "kb-upload")
    page.locator("#kb-export").click()
    expect(page.locator("#kb-export-file")).to_contain_text(".jsonl", timeout=WAIT_MS)


def test_hostile_article_text_shows_as_text_and_runs_nothing(browser, app_server) -> None:
    page = login(browser, app_server, "editor", width=1280)
    tab(page, "지식 관리")
    page.locator("#kb-new").click()
    # the blank form arrives from the server: fill it only after that, or it is wiped
    expect(page.locator("#kb-msg")).to_contain_text("새 문서를 씁니다", timeout=WAIT_MS)
    field(page, "kb-id").fill("hostile-01")
    field(page, "kb-title").fill(HOSTILE_TITLE)
    pick(page, "kb-intents", "환불 (refund)")
    page.keyboard.press("Escape")
    field(page, "kb-answer").fill(HOSTILE_ANSWER)
    field(page, "kb-note-text").fill('<img src=x onerror="window.__pwned=2">')
    expect(page.locator("#kb-preview")).to_contain_text("<script>window.__pwned=1</script>")
    page.locator("#kb-save").click()
    expect(page.locator("#kb-msg")).to_contain_text("저장했습니다 (버전 1)", timeout=WAIT_MS)
    expect(page.locator("#kb-history")).to_contain_text("onerror")
    assert page.evaluate("() => window.__pwned") is None
    tab(page, "상담 지원")
    page.locator("#agent-kb").click()
    field(page, "agent-kb-query").fill("해킹시도문구")
    page.locator("#agent-kb-go").click()
    out = page.locator("#agent-kb-out")
    expect(out).to_contain_text("<b>굵게</b>", timeout=WAIT_MS)
    expect(out).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert out.locator("script, img, b").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    page.context.close()


def _intent_file(repo: Path, tmp_path: Path, rows: int = 40) -> Path:
    lines = (repo / "data" / "nlu" / "dev_g1.jsonl").read_text("utf-8").splitlines()
    path = tmp_path / "intent_eval.jsonl"
    hostile = json.dumps({"text": '<img src=x onerror="window.__pwned=3"> 요금 문의',
                          "intent": "roaming", "sentiment": "neutral"}, ensure_ascii=False)
    picked = lines[::max(1, len(lines) // rows)][:rows]
    path.write_text("\n".join([hostile, *picked]) + "\n", "utf-8")
    return path


def test_evaluation_upload_shows_metrics_plot_and_reports(browser, app_server, tmp_path) -> None:
    page = login(browser, app_server, "evaluator", width=1280)
    tab(page, "모델 평가")
    page.locator("#eval-upload input[type=file]").set_input_files(_intent_file(app_server.repo, tmp_path))
    expect(page.locator("#eval-upload")).to_contain_text("intent_eval", timeout=WAIT_MS)
    page.locator("#eval-run").click()
    expect(page.locator("#eval-summary")).to_contain_text("정확도", timeout=60_000)
    expect(page.locator("#eval-plot")).to_be_visible()
    expect(page.locator("#eval-files")).to_contain_text(".html")
    expect(page.locator("#eval-files")).to_contain_text(".csv")
    expect(page.locator("#eval-errors")).to_be_visible()
    expect(page.locator("#eval-errors")).to_contain_text("onerror")
    assert page.evaluate("() => window.__pwned") is None
    shot(page, app_server, "evaluator")
    page.locator("#eval-golden-box").click()  # the accordion starts closed
    field(page, "eval-golden-name").fill("테스트 골든셋")
    page.locator("#eval-golden-save").click()
    expect(page.locator("#eval-golden-msg")).to_contain_text("골든셋으로 저장했습니다")
    page.locator("#eval-feedback").click()
    page.locator("#eval-feedback-go").click()
    expect(page.locator("#eval-feedback")).to_contain_text("피드백")
    page.context.close()


def test_retrieval_evaluation_reports_recall(browser, app_server, tmp_path) -> None:
    rows = [("이번 달에 제가 얼마 내야 하는지 알고 싶어서 전화했어요", "billing_inquiry-01"),
            ("어제 저녁부터 집 인터넷이 아예 안 돼요", "internet_outage-01"),
            ("해외여행 가는데 로밍 요금제 뭐가 좋아요", "roaming-01"),
            ("휴대폰을 잃어버렸어요 분실 신고 해주세요", "lost_device-01|lost_device-02"),
            ('<img src=x onerror="window.__pwned=4"> 위약금 얼마예요', "termination_fee-01")]
    queries = tmp_path / "queries.tsv"
    queries.write_text("query\tarticle_ids\n" + "".join(f"{q}\t{ids}\n" for q, ids in rows),
                       "utf-8")
    page = login(browser, app_server, "evaluator", width=1280)
    tab(page, "모델 평가")
    page.locator("#eval-kind").get_by_text("지식 검색").click()
    # choosing a kind clears the upload box: upload only once the help has changed
    expect(page.locator("#eval-help")).to_contain_text("article_ids", timeout=WAIT_MS)
    expect(page.locator("#eval-model-a")).to_be_hidden()
    page.locator("#eval-upload input[type=file]").set_input_files(queries)
    expect(page.locator("#eval-upload")).to_contain_text("queries", timeout=WAIT_MS)
    page.locator("#eval-run").click()
    summary = page.locator("#eval-summary")
    expect(summary).to_contain_text("recall@3", timeout=60_000)
    expect(summary).to_contain_text("혼합 검색")
    expect(summary).to_contain_text("MRR")
    expect(page.locator("#eval-msg")).to_contain_text("지식 검색 · queries.tsv")
    expect(page.locator("#eval-files")).to_contain_text(".csv")
    assert page.evaluate("() => window.__pwned") is None
    page.context.close()


def test_wrong_corrupt_and_oversize_uploads_get_korean_messages(browser, app_server, tmp_path) -> None:
    page = login(browser, app_server, "admin")
    page.locator("#call-source").get_by_text("녹음 파일").click()
    upload = page.locator("#call-upload input[type=file]")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 50)
    big = tmp_path / "big.wav"
    with wave.open(str(big), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\1\0" * 16000 * 40)
    for path, message in ((notes, "지원하지 않는 파일 형식입니다 (.txt)"),
                          (corrupt, "녹음 파일을 읽을 수 없습니다"), (big, "파일이 너무 큽니다")):
        upload.set_input_files(path)
        expect(page.locator("#call-upload")).to_contain_text(path.stem, timeout=WAIT_MS)
        page.locator("#call-start").click()
        expect(page.locator("#call-msg")).to_contain_text(message, timeout=WAIT_MS)
        clear(page, "call-upload")
    expect(page.locator("#call-status")).to_contain_text("진행 중인 통화가 없습니다")
    tab(page, "모델 평가")
    page.locator("#eval-upload input[type=file]").set_input_files(notes)
    expect(page.locator("#eval-upload")).to_contain_text("notes", timeout=WAIT_MS)
    page.locator("#eval-run").click()
    expect(page.locator("#eval-msg")).to_contain_text("지원하지 않는 파일 형식입니다", timeout=WAIT_MS)
    page.context.close()


def test_denied_microphone_gets_a_korean_banner(browser, app_server) -> None:
    page = login(browser, app_server, "agent")
    page.locator("#call-source").get_by_text("마이크").click()
    page.locator("#call-mic button", has_text=re.compile("녹음|Record|record")).first.click()
    expect(page.locator("#ca-banner")).to_contain_text("마이크", timeout=WAIT_MS)
    page.context.close()


def test_uploaded_stereo_recording_runs_through_recognition(browser, app_server, tmp_path) -> None:
    import soundfile as sf

    from assist.evaluate.synth import Turn, render_call

    audio, _ = render_call([Turn("customer", "인터넷이 자꾸 끊겨요. 확인해 주세요.", 0.0),
                            Turn("agent", "네, 바로 확인해 드리겠습니다.", 0.0)])
    recording = tmp_path / "call.wav"
    sf.write(recording, audio, 16000, subtype="PCM_16")
    page = login(browser, app_server, "agent")
    page.locator("#call-source").get_by_text("녹음 파일").click()
    page.locator("#call-upload input[type=file]").set_input_files(recording)
    expect(page.locator("#call-upload")).to_contain_text("call.wav", timeout=WAIT_MS)
    page.locator("#call-start").click()
    expect(page.locator("#call-status")).to_contain_text("스테레오", timeout=WAIT_MS)
    expect(page.locator(".ca-turn.customer").first).to_be_visible(timeout=60_000)
    expect(page.locator("#after-call").first).to_be_visible(timeout=90_000)
    expect(page.locator(".ca-turn.agent").first).to_be_visible()
    page.context.close()
