"""The agent tab: a narrow side panel to keep beside the CRM during a call.

Top to bottom, in the order an agent glances at it: call status and alerts, the rolling
transcript, what the customer wants and how they feel, the next line to say, up to three
answer cards, call stage and checklist; after the call, the editable summary.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from assist.kb.taxonomy import INTENTS
from assist.ui.agent_actions import CARD_SLOTS, AgentActions, demo_choices
from assist.ui.ctx import Ctx
from assist.ui.labels import OUTCOMES
from assist.ui.render import IDLE_STATUS, flow_html, insight_html, transcript_html

__all__ = ["AgentTab", "build_agent_tab"]

COPY_JS = "() => window.caCopy && window.caCopy('ca-say-{slot}')"
SPEEDS = [("실제 속도", 1.0), ("2배속", 2.0), ("5배속", 5.0), ("20배속", 20.0), ("60배속", 60.0)]


@dataclass
class AgentTab:
    tab: gr.Tab
    tick: Callable  # ``timer`` calls it with ``tick_outputs``
    tick_outputs: list
    timer: gr.Timer


def _start_box(actions: AgentActions) -> dict:
    c: dict = {}
    with gr.Accordion("통화 시작", open=True, elem_id="start-box") as c["box"]:
        c["source"] = gr.Radio([("데모 통화", "demo"), ("녹음 파일", "upload"), ("마이크", "mic")],
                               value="demo", label="통화 소스", elem_id="call-source")
        choices = demo_choices(actions)
        with gr.Group(visible=True) as c["demo_box"]:
            c["demo"] = gr.Dropdown(choices, value=choices[0][1] if choices else None,
                                    label="데모 통화", elem_id="demo-pick")
            with gr.Row():
                c["mode"] = gr.Radio([("대본 재생", "transcript"), ("음성 인식", "audio")],
                                     value="transcript", label="재생 방식", elem_id="demo-mode",
                                     min_width=0)
                c["speed"] = gr.Dropdown(SPEEDS, value=1.0, label="재생 속도", elem_id="demo-speed",
                                         min_width=0)
        with gr.Group(visible=False) as c["upload_box"]:
            c["upload"] = gr.File(label="녹음 파일 (WAV·FLAC·MP3·OGG, 모노 또는 스테레오)",
                                  type="filepath", elem_id="call-upload", height=120)
        with gr.Group(visible=False) as c["mic_box"]:
            c["mic"] = gr.Audio(sources=["microphone"], streaming=True, type="numpy",
                                label="마이크", elem_id="call-mic")
            gr.HTML('<div class="ca-hint">마이크 권한을 허용해야 합니다. 스테레오 녹음의 왼쪽은 '
                    '고객, 오른쪽은 상담사로 인식합니다.</div>')
        c["start"] = gr.Button("통화 시작", variant="primary", elem_id="call-start")
    c["msg"] = gr.HTML(elem_id="call-msg")
    return c


def _cards() -> dict:
    c: dict = {"groups": [], "bodies": [], "copy": [], "up": [], "down": []}
    for slot in range(CARD_SLOTS):
        with gr.Group(visible=False, elem_classes="ca-card", elem_id=f"card-{slot}") as group:
            c["bodies"].append(gr.HTML(elem_id=f"card-body-{slot}"))
            with gr.Row(elem_classes="ca-card-actions"):
                c["copy"].append(gr.Button("복사", size="sm", min_width=0, elem_id=f"copy-{slot}"))
                c["up"].append(gr.Button("👍 도움 됨", size="sm", min_width=0, elem_id=f"up-{slot}"))
                c["down"].append(gr.Button("👎 안 맞음", size="sm", min_width=0, elem_id=f"down-{slot}"))
        c["groups"].append(group)
    c["msg"] = gr.HTML(elem_id="feedback-msg")
    return c


def _after_call() -> dict:
    c: dict = {}
    with gr.Group(visible=False, elem_id="after-call") as c["box"]:
        gr.HTML('<div class="ca-section">통화 후 정리</div>')
        c["summary"] = gr.Textbox(label="통화 요약", lines=4, max_lines=10, elem_id="summary-text")
        c["intent"] = gr.Dropdown([(name, code) for code, name in INTENTS.items()],
                                  label="주 문의", elem_id="summary-intent", min_width=0)
        c["outcome"] = gr.Radio([(name, code) for code, name in OUTCOMES.items()],
                                label="처리 결과", elem_id="summary-outcome", min_width=0)
        c["save"] = gr.Button("요약 저장", variant="primary", elem_id="summary-save")
        c["msg"] = gr.HTML(elem_id="summary-msg")
    return c


def _kb_search() -> dict:
    c: dict = {}
    with gr.Accordion("지식 검색", open=False, elem_id="agent-kb"):
        with gr.Row():
            c["query"] = gr.Textbox(show_label=False, placeholder="예: 해외 로밍 요금제",
                                    elem_id="agent-kb-query", scale=4, min_width=0)
            c["go"] = gr.Button("검색", elem_id="agent-kb-go", scale=1, min_width=0)
        c["out"] = gr.HTML(elem_id="agent-kb-out")
    return c


def build_agent_tab(ctx: Ctx, timer: gr.Timer) -> AgentTab:
    """The tab inside the app's Tabs; ``timer`` (made outside them) drives the panel."""
    actions = AgentActions(ctx)
    with gr.Tab("상담 지원", id="agent", visible=False) as tab:
        with gr.Column(elem_id="agent-panel"):
            with gr.Row(elem_id="status-row"):
                status = gr.HTML(IDLE_STATUS, elem_id="call-status", scale=5, min_width=0)
                end = gr.Button("통화 종료", variant="stop", size="sm", elem_id="call-end",
                                scale=0, min_width=84, visible=False)
            after = _after_call()
            alerts = gr.HTML(elem_id="call-alerts")
            start = _start_box(actions)
            transcript = gr.HTML(transcript_html([]), elem_id="call-transcript")
            insight = gr.HTML(insight_html(None, []), elem_id="call-insight")
            line = gr.HTML(elem_id="call-line")  # short, so kept above the cards
            cards = _cards()
            flow = gr.HTML(flow_html(None, [], ()), elem_id="call-flow")
            search = _kb_search()
    start["timer"] = timer
    outputs = [status, end, alerts, transcript, insight, *cards["groups"], *cards["bodies"], line,
               flow, after["box"], after["summary"], after["intent"], after["outcome"], timer]
    start["end"] = end
    _wire(ctx, actions, start, cards, after, search)
    return AgentTab(tab, actions.tick, outputs, timer)


def _wire(ctx: Ctx, actions: AgentActions, start: dict, cards: dict, after: dict,
          search: dict) -> None:
    state = ctx.state
    start["source"].change(lambda s: [gr.Group(visible=s == k) for k in ("demo", "upload", "mic")],
                           start["source"], [start["demo_box"], start["upload_box"], start["mic_box"]],
                           api_visibility="private", show_progress="hidden")
    start["start"].click(actions.start, [state, start["source"], start["demo"], start["mode"],
                                         start["speed"], start["upload"]],
                         [state, start["msg"], start["box"], start["timer"]], api_name="call_start")
    start["end"].click(actions.end, [state], [start["msg"]], api_name="call_end")
    start["mic"].stream(actions.mic_chunk, [state, start["mic"]], [state, start["timer"]],
                        stream_every=0.5,
                        time_limit=4 * 3600, concurrency_limit=None, api_visibility="private",
                        show_progress="hidden")
    start["mic"].stop_recording(actions.mic_stop, [state], None, api_visibility="private")
    for slot in range(CARD_SLOTS):
        cards["copy"][slot].click(None, None, None, js=COPY_JS.format(slot=slot))
        for kind, button in (("used", cards["copy"][slot]), ("up", cards["up"][slot]),
                             ("down", cards["down"][slot])):
            button.click(lambda s, _slot=slot, _kind=kind: actions.feedback(s, _slot, _kind),
                         [state], [cards["msg"]], api_visibility="private",
                         show_progress="hidden")
    after["save"].click(actions.save, [state, after["summary"], after["intent"], after["outcome"]],
                        [after["msg"]], api_name="call_save")
    for trigger in (search["go"].click, search["query"].submit):
        trigger(actions.kb_search, [state, search["query"]], [search["out"]],
                api_visibility="private")
