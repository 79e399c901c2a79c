"""The KB editor tab: find an article, edit it with a live preview and Korean validation,
see its history with diffs, revert, delete or restore, import and export."""
from __future__ import annotations

import gradio as gr

from assist.kb.taxonomy import INTENTS
from assist.ui.ctx import Ctx
from assist.ui.kb_actions import KbActions

__all__ = ["build_kb_tab"]


def _finder() -> dict:
    c: dict = {}
    with gr.Row():
        c["query"] = gr.Textbox(show_label=False, placeholder="제목, 태그, 본문, ID로 찾기",
                                elem_id="kb-query", scale=4, min_width=0)
        c["go"] = gr.Button("찾기", elem_id="kb-search", scale=1, min_width=0)
    c["new"] = gr.Button("새 문서 쓰기", elem_id="kb-new", size="sm")
    c["note"] = gr.HTML(elem_id="kb-note")
    c["results"] = gr.Radio([], label="문서", elem_id="kb-results", elem_classes="ca-list")
    return c


def _form() -> dict:
    c: dict = {}
    c["id"] = gr.Textbox(label="문서 ID", placeholder="예: roaming-07 (영문 소문자·숫자·-·_)",
                         elem_id="kb-id", max_lines=1)
    c["title"] = gr.Textbox(label="제목", elem_id="kb-title", max_lines=1)
    c["intents"] = gr.Dropdown([(f"{name} ({code})", code) for code, name in INTENTS.items()],
                               multiselect=True, label="의도", elem_id="kb-intents")
    c["tags"] = gr.Textbox(label="태그 (쉼표로 구분)", elem_id="kb-tags", max_lines=1)
    c["answer"] = gr.Textbox(label="답변 (상담사가 말할 문장)", lines=5, max_lines=12,
                             elem_id="kb-answer")
    c["steps"] = gr.Textbox(label="확인 및 절차 (한 줄에 하나)", lines=4, max_lines=12,
                            elem_id="kb-steps")
    c["related"] = gr.Textbox(label="관련 문서 ID (쉼표로 구분)", elem_id="kb-related", max_lines=1)
    c["questions"] = gr.Textbox(label="예상 질문 (고객이 물을 만한 말, 한 줄에 하나, 검색에만 쓰임)",
                                lines=3, max_lines=10, elem_id="kb-questions")
    c["note"] = gr.Textbox(label="변경 메모 (선택)", elem_id="kb-note-text", max_lines=1)
    with gr.Row():
        c["save"] = gr.Button("저장", variant="primary", elem_id="kb-save", min_width=0)
        c["delete"] = gr.Button("삭제", variant="stop", elem_id="kb-delete", min_width=0)
        c["restore"] = gr.Button("복원", elem_id="kb-restore", visible=False, min_width=0)
    c["msg"] = gr.HTML(elem_id="kb-msg")
    return c


def _side() -> dict:
    c: dict = {}
    gr.HTML('<div class="ca-section">미리 보기</div>')
    c["preview"] = gr.HTML(elem_id="kb-preview")
    c["problems"] = gr.HTML(elem_id="kb-problems")
    with gr.Accordion("버전 기록", open=True, elem_id="kb-history-box"):
        c["history"] = gr.Dataframe(headers=["버전", "작업", "작성자", "시각 (UTC)", "메모"],
                                    datatype="str", interactive=False, elem_id="kb-history",
                                    max_height=220, wrap=True,
                                    column_widths=["46px", "84px", "64px", "92px", "40%"])
        with gr.Row():
            c["from"] = gr.Dropdown([], label="이전 버전", elem_id="kb-from", min_width=0)
            c["to"] = gr.Dropdown([], label="비교할 버전", elem_id="kb-to", min_width=0)
        with gr.Row():
            c["diff_go"] = gr.Button("차이 보기", elem_id="kb-diff-go", min_width=0)
            c["revert"] = gr.Button("이전 버전으로 되돌리기", elem_id="kb-revert", min_width=0)
        c["diff"] = gr.HTML(elem_id="kb-diff")
    with gr.Accordion("가져오기 · 내보내기", open=False, elem_id="kb-io"):
        c["upload"] = gr.File(label="가져올 파일 (JSONL 또는 CSV)", type="filepath",
                              elem_id="kb-upload", height=120)
        c["import"] = gr.Button("가져오기", elem_id="kb-import")
        c["import_msg"] = gr.HTML(elem_id="kb-import-msg")
        with gr.Row():
            c["fmt"] = gr.Radio([("JSONL", "jsonl"), ("CSV", "csv")], value="jsonl",
                                label="내보낼 형식", min_width=0)
            c["export"] = gr.Button("내보내기", elem_id="kb-export", min_width=0)
        c["file"] = gr.File(label="내보낸 파일", interactive=False, elem_id="kb-export-file")
        c["export_msg"] = gr.HTML()
    return c


def build_kb_tab(ctx: Ctx) -> gr.Tab:
    actions = KbActions(ctx)
    with gr.Tab("지식 관리", id="kb", visible=False) as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=260):
                finder = _finder()
            with gr.Column(scale=3, min_width=320):
                form = _form()
            with gr.Column(scale=3, min_width=320):
                side = _side()
    _wire(ctx, actions, finder, form, side)
    tab.select(actions.search, [ctx.state, finder["query"]], [finder["results"], finder["note"]],
               api_visibility="private")
    return tab


def _wire(ctx: Ctx, actions: KbActions, finder: dict, form: dict, side: dict) -> None:
    state = ctx.state
    fields = [form[k] for k in ("id", "title", "intents", "tags", "answer", "steps", "related",
                                "questions")]
    tail = [side["history"], side["from"], side["to"], form["delete"], form["restore"]]
    fill = [*fields, side["preview"], side["problems"], *tail]
    for trigger in (finder["go"].click, finder["query"].submit):
        trigger(actions.search, [state, finder["query"]], [finder["results"], finder["note"]],
                api_visibility="private")
    finder["results"].input(actions.load, [state, finder["results"]], [state, *fill, form["msg"]],
                            api_visibility="private")
    finder["new"].click(actions.new, [state], [state, *fill, form["msg"]], api_visibility="private")
    gr.on([f.change for f in fields], actions.check, [state, *fields],
          [side["preview"], side["problems"]], api_visibility="private", show_progress="hidden",
          trigger_mode="always_last")
    # questions go last, after the note, so API callers that predate them still line up
    form["save"].click(actions.save, [state, *fields[:-1], form["note"], form["questions"]],
                       [state, form["id"], side["problems"], *tail, form["msg"]], api_name="kb_save")
    form["delete"].click(actions.delete, [state], [state, *tail, form["msg"]], api_name="kb_delete")
    form["restore"].click(lambda s: actions.delete(s, restore=True), [state],
                          [state, *tail, form["msg"]], api_name="kb_restore")
    side["diff_go"].click(actions.diff, [state, side["from"], side["to"]], [side["diff"]],
                          api_visibility="private")
    side["revert"].click(actions.revert, [state, side["from"]], [state, *fill, form["msg"]],
                         api_name="kb_revert")
    side["import"].click(actions.import_file, [state, side["upload"]], [side["import_msg"]],
                         api_name="kb_import")
    side["export"].click(actions.export, [state, side["fmt"]], [side["file"], side["export_msg"]],
                         api_name="kb_export")
