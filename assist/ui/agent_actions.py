"""Agent panel handlers: start and end calls, draw what changed, feedback, save the summary.

Each handler first checks the session's login (``Ctx.require``); a call is looked up by the
session's login token, so one browser session never reaches another's call.
"""
from __future__ import annotations

import shutil
import time

import gradio as gr

from assist.config import AssistError
from assist.session.replay import read_transcript
from assist.ui.calls import LiveCall
from assist.ui.ctx import Ctx, UiState, fail
from assist.ui.labels import OUTCOMES, intent_name, josa
from assist.ui.render import (IDLE_STATUS, alerts_html, card_html, flow_html, insight_html,
                              kb_results_html, line_html, message_html, status_html,
                              transcript_html)
from assist.ui.sources import demo_audio, demo_calls, paced_turns
from assist.ui.uploads import AUDIO_TYPES, check_upload, probe_audio

__all__ = ["AgentActions", "CARD_SLOTS", "TICK_OUTPUTS"]

CARD_SLOTS = 3
# tick() returns, in order: status, end button, alerts, transcript, insight, 3 card groups,
# 3 card bodies, next line, flow, after-call group, summary text, main intent, outcome, and
# the timer itself (stopped while there is nothing to follow, so idle sessions cost nothing).
TICK_OUTPUTS = 5 + 2 * CARD_SLOTS + 7


class AgentActions:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.demos = {d.name: d for d in demo_calls(ctx.settings)}

    # -- starting and ending ---------------------------------------------------------------
    def start(self, state: UiState, source: str, demo: str, mode: str, speed: float,
              upload: object) -> tuple:
        login = self.ctx.require(state, "call")
        try:
            if source == "upload":
                call = self._start_upload(state, login.name, upload)
            elif source == "mic":
                call = self.ctx.hub.start(state.token, login.name, "마이크")
            else:
                call = self._start_demo(state, login.name, demo, mode, float(speed or 1.0))
        except Exception as exc:
            return state, fail(exc, "통화를 시작하지 못했습니다."), gr.skip(), gr.skip()
        state.call_id, state.seen, state.cards = call.call_id, {}, ()
        hint = message_html("마이크 아래의 녹음 버튼을 눌러 말씀해 주세요.", "info") if source == "mic" else ""
        return state, hint, gr.Accordion(open=source == "mic"), gr.Timer(active=True)

    def _start_demo(self, state: UiState, owner: str, name: str, mode: str,
                    speed: float) -> LiveCall:
        demo = self.demos.get(name or "")
        if demo is None:
            raise AssistError("데모 통화를 골라 주세요.")
        hub = self.ctx.hub
        if mode == "audio":
            call = hub.start(state.token, owner, f"데모 {demo.label} · 음성 인식")
            call.view.note("합성 음성을 준비하고 음성 인식을 시작하는 중입니다…")

            def feed(live: LiveCall) -> None:
                path = demo_audio(self.ctx.settings, demo.path)
                with live.lock:
                    live.view.note("")
                hub.play_audio(live, path, ("customer", "agent"))
        else:
            pace = f"{speed:g}배속" if speed != 1 else "실제 속도"
            call = hub.start(state.token, owner, f"데모 {demo.label} · {pace}")
            turns = read_transcript(demo.path, call.call_id)

            def feed(live: LiveCall) -> None:
                hub.feed(live, paced_turns(turns, speed, live.stop))
        hub.run(call, feed)
        return call

    def _start_upload(self, state: UiState, owner: str, upload: object) -> LiveCall:
        settings = self.ctx.settings
        path = check_upload(upload, AUDIO_TYPES, settings.ui.max_upload_mb)
        info = probe_audio(path, settings.audio.max_file_channels)
        speakers = ((settings.audio.mono_speaker,) if info.channels == 1
                    else tuple(settings.audio.channel_map))
        kept = settings.data_path / "uploads" / f"{time.time_ns()}{path.suffix.lower()}"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, kept)
        mode = "모노" if info.channels == 1 else "스테레오"
        hub = self.ctx.hub
        call = hub.start(state.token, owner, f"녹음 파일 · {mode} · {info.duration_s:.0f}초")

        def feed(live: LiveCall) -> None:
            try:
                hub.play_audio(live, kept, speakers)
            finally:
                kept.unlink(missing_ok=True)

        hub.run(call, feed)
        return call

    def end(self, state: UiState) -> str:
        self.ctx.require(state, "call")
        call = self.ctx.hub.get(state.token, state.call_id)
        if call is None or not call.live:
            return message_html("진행 중인 통화가 없습니다.", "info")
        self.ctx.hub.end(call)
        return message_html("통화를 종료했습니다. 요약을 확인하고 저장해 주세요.", "ok")

    # -- microphone ------------------------------------------------------------------------
    def mic_chunk(self, state: UiState, chunk: tuple | None) -> tuple:
        login = self.ctx.require(state, "call")
        if chunk is None:
            return state, gr.skip()
        hub = self.ctx.hub
        call = hub.get(state.token, state.call_id)
        if call is None or not call.live or call.thread is not None or call.ending:
            call = hub.start(state.token, login.name, "마이크")
            state.call_id, state.seen, state.cards = call.call_id, {}, ()
        try:
            hub.mic_chunk(call, int(chunk[0]), chunk[1])
        except AssistError as exc:
            hub._fail(call, f"마이크 음성을 인식하지 못했습니다: {exc}")
        return state, gr.Timer(active=True)

    def mic_stop(self, state: UiState) -> None:
        self.ctx.require(state, "call")
        call = self.ctx.hub.get(state.token, state.call_id)
        if call is not None and call.live and call.thread is None:
            self.ctx.hub.end(call)

    # -- drawing ---------------------------------------------------------------------------
    def tick(self, state: UiState) -> list:
        """Only the parts that changed since this session last drew them."""
        stop = [gr.skip()] * (TICK_OUTPUTS - 1) + [gr.Timer(active=False)]
        if state is None or self.ctx.auth.lookup(state.token) is None:
            return stop
        call = self.ctx.hub.get(state.token, state.call_id)
        if call is None:
            if state.seen.get("idle"):
                return stop
            state.seen = {"idle": 1}
            state.cards = ()
            return self._idle()
        self.ctx.hub.pump(call)
        with call.lock:
            out = self._draw(state, call)
            done = call.view.status == "saved"
        return out + [gr.Timer(active=not done)]

    def _idle(self) -> list:
        hidden = [gr.Group(visible=False)] * CARD_SLOTS
        return [IDLE_STATUS, gr.Button(visible=False), "", transcript_html([]),
                insight_html(None, []), *hidden,
                *[""] * CARD_SLOTS, "", flow_html(None, [], ()), gr.Group(visible=False),
                gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)]

    def _draw(self, state: UiState, call: LiveCall) -> list:
        view, seen = call.view, state.seen
        seen.pop("idle", None)
        changed = {part for part, version in view.versions.items() if seen.get(part) != version}
        seen.update(view.versions)

        def part(name: str, make):
            return make() if name in changed else gr.skip()

        out = [part("status", lambda: status_html(view)),
               part("status", lambda: gr.Button(visible=view.status == "live")),
               part("alerts", lambda: alerts_html(view.alerts)),
               part("transcript", lambda: transcript_html(view.ordered_transcript())),
               part("insight", lambda: insight_html(view.insight, view.trend_values))]
        if "cards" in changed:
            state.cards = view.cards
            out += [gr.Group(visible=i < len(view.cards)) for i in range(CARD_SLOTS)]
            out += [card_html(view.cards[i], i, f"ca-say-{i}") if i < len(view.cards) else ""
                    for i in range(CARD_SLOTS)]
        else:
            out += [gr.skip()] * (2 * CARD_SLOTS)
        live = view.status == "live"
        if seen.get("line-live") != live:  # the next line is for a live call only
            seen["line-live"] = live
            changed.add("line")
        out += [part("line", lambda: line_html(view.next_line if live else "")),
                part("flow", lambda: flow_html(view.stage, view.reached, view.checklist))]
        out += self._summary(view) if "summary" in changed else [gr.skip()] * 4
        return out

    @staticmethod
    def _summary(view) -> list:
        summary = view.summary
        if summary is None:
            return [gr.Group(visible=False), "", None, None]
        intent, _, outcome = summary.disposition.partition(":")
        return [gr.Group(visible=True), summary.summary, intent or None,
                outcome if outcome in OUTCOMES else None]

    # -- cards and after the call ----------------------------------------------------------
    def feedback(self, state: UiState, slot: int, kind: str) -> str:
        self.ctx.require(state, "call")
        call = self.ctx.hub.get(state.token, state.call_id)
        if call is None or slot >= len(state.cards):
            return message_html("피드백을 남길 카드가 없습니다.", "warn")
        card = state.cards[slot]
        try:
            self.ctx.hub.feedback(call, card.article_id, kind)
        except Exception as exc:
            return fail(exc, "피드백을 저장하지 못했습니다.")
        said = {"up": "👍 도움이 됨", "down": "👎 도움이 안 됨", "used": "답변 복사"}[kind]
        return message_html(f"‘{card.title}’ 카드에 {josa(said, '을', '를')} 기록했습니다.", "ok")

    def save(self, state: UiState, text: str, intent: str | None, outcome: str | None) -> str:
        self.ctx.require(state, "call")
        call = self.ctx.hub.get(state.token, state.call_id)
        if call is None:
            return message_html("저장할 통화가 없습니다.", "warn")
        if not (text or "").strip():
            return message_html("요약을 입력해 주세요.", "warn")
        if not intent or not outcome:
            return message_html("주 문의와 처리 결과를 골라 주세요.", "warn")
        try:
            self.ctx.hub.save(call, text, f"{intent}:{outcome}")
        except Exception as exc:
            return fail(exc, "요약을 저장하지 못했습니다.")
        return message_html(f"요약을 저장했습니다 ({intent_name(intent)} · {OUTCOMES[outcome]}).", "ok")

    def kb_search(self, state: UiState, query: str) -> str:
        self.ctx.require(state, "call")
        query = " ".join((query or "").split())[:300]
        if not query:
            return message_html("검색어를 입력해 주세요.", "warn")
        try:
            hits = self.ctx.deps.searcher.search(query, k=3)
        except Exception as exc:
            return fail(exc, "검색하지 못했습니다.")
        return kb_results_html(list(hits), query)


def demo_choices(actions: AgentActions) -> list[tuple[str, str]]:
    return [(d.label, d.name) for d in actions.demos.values()]
