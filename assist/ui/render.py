"""HTML for the agent panel. Every piece of call, KB or user text goes through ``esc``.

Pure functions of view data, so they are tested without a browser; class names match
``style.CSS``.
"""
from __future__ import annotations

import html

from assist.asr.events import TranscriptEvent
from assist.guide.events import Alert, Answer
from assist.session.events import InsightEvent
from assist.ui.labels import (ALERT_KINDS, CHECKLIST_ORDER, SENTIMENTS, SEVERITIES, SPEAKERS,
                              STAGE_ORDER, TRENDS, checklist_name, checklist_short, intent_name,
                              stage_name)
from assist.ui.view import CallView

__all__ = ["esc", "status_html", "alerts_html", "transcript_html", "insight_html", "card_html",
           "line_html", "flow_html", "message_html", "kb_results_html", "IDLE_STATUS"]

IDLE_STATUS = ('<div class="ca-status idle">진행 중인 통화가 없습니다. '
               '아래 ‘통화 시작’에서 통화를 골라 주세요.</div>')
MAX_TURNS = 40
_SEVERITY_ORDER = {"critical": 0, "warn": 1, "info": 2}


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def message_html(text: str, kind: str = "info") -> str:
    """An inline message (kind: info, ok, warn, error); empty text clears it."""
    if not text:
        return ""
    return f'<div class="ca-msg {esc(kind)}" role="status">{esc(text)}</div>'


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def status_html(view: CallView | None) -> str:
    if view is None:
        return IDLE_STATUS
    state = {"live": "통화 중", "ended": "통화 종료 · 요약을 확인해 주세요",
             "saved": "통화 종료 · 저장됨"}.get(view.status, view.status)
    out = (f'<div class="ca-status {esc(view.status)}"><span class="dot"></span>'
           f'<b>{esc(state)}</b><span class="clock">{_clock(view.call_s)}</span>'
           f'<span class="src">{esc(view.source)}</span></div>')
    if view.notice:
        out += f'<div class="ca-notice" role="alert">{esc(view.notice)}</div>'
    return out


def alerts_html(alerts: list[Alert], limit: int = 3) -> str:
    """The newest alerts, most severe first."""
    if not alerts:
        return ""
    recent = list(reversed(alerts))[:limit]
    recent.sort(key=lambda a: _SEVERITY_ORDER.get(a.severity, 3))
    items = []
    for alert in recent:
        head = f"{SEVERITIES.get(alert.severity, alert.severity)} · {ALERT_KINDS.get(alert.kind, alert.kind)}"
        tip = f'<div class="tip">💬 {esc(alert.suggestion)}</div>' if alert.suggestion else ""
        items.append(f'<div class="ca-alert sev-{esc(alert.severity)}" role="alert">'
                     f'<div class="head">{esc(head)}</div><div class="msg">{esc(alert.message)}'
                     f'</div>{tip}</div>')
    return '<div class="ca-alerts">' + "".join(items) + "</div>"


def transcript_html(events: list[TranscriptEvent]) -> str:
    """Newest turn at the bottom (the box is scrolled there by column-reverse)."""
    if not events:
        return '<div class="ca-transcript empty">대화가 시작되면 여기에 표시됩니다.</div>'
    turns = []
    for event in reversed(events[-MAX_TURNS:]):
        partial = "" if event.is_final else " partial"
        turns.append(f'<div class="ca-turn {esc(event.speaker)}{partial}">'
                     f'<span class="who">{esc(SPEAKERS.get(event.speaker, event.speaker))}</span>'
                     f'<span class="text">{esc(event.text) or "…"}</span></div>')
    return '<div class="ca-transcript" id="ca-transcript">' + "".join(turns) + "</div>"


def _sparkline(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    width, height = 84, 22
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{(1 - (v + 1) / 2) * height:.1f}"
                      for i, v in enumerate(values))
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
            f' aria-hidden="true"><line x1="0" y1="{height / 2}" x2="{width}" y2="{height / 2}" '
            f'class="mid"/><polyline points="{points}"/></svg>')


def insight_html(insight: InsightEvent | None, trend_values: list[float]) -> str:
    if insight is None:
        return ('<div class="ca-insight"><div class="ca-intent"><div class="lbl">고객 문의</div>'
                '<div class="val muted">아직 파악되지 않았습니다</div></div>'
                '<div class="ca-mood"><div class="lbl">고객 감정</div>'
                '<div class="val muted">고객이 말하면 표시됩니다</div></div></div>')
    pct = round(insight.intent_score * 100)
    value = max(-1.0, min(1.0, insight.trend_value))
    trend, arrow = TRENDS.get(insight.trend, (insight.trend, ""))
    mood = "neg" if value < -0.25 else "pos" if value > 0.25 else "neu"
    # The call's topic stays up while the customer says "네" or something unclear; this turn's
    # own reading is then shown under it.
    topic = getattr(insight, "topic", None) or insight.intent
    same = topic == insight.intent
    under = (f"신뢰도 {pct}%" if same
             else f"방금: {esc(intent_name(insight.intent))} {pct}%")
    return (
        '<div class="ca-insight">'
        f'<div class="ca-intent"><div class="lbl">고객 문의</div>'
        f'<div class="val">{esc(intent_name(topic))}</div>'
        f'<div class="conf{"" if same else " other"}" title="신뢰도 {pct}%">'
        f'<span style="width:{pct}%"></span></div><div class="pct">{under}</div></div>'
        f'<div class="ca-mood {mood}"><div class="lbl">고객 감정</div>'
        f'<div class="val">{esc(SENTIMENTS.get(insight.sentiment, insight.sentiment))}'
        f' <span class="trend">{esc(arrow)} {esc(trend)}</span></div>'
        f'<div class="gauge" title="감정 추이 {value:+.2f}"><span class="marker" '
        f'style="left:{(value + 1) * 50:.0f}%"></span></div>{_sparkline(trend_values)}</div>'
        "</div>")


def card_html(answer: Answer, index: int, say_id: str = "") -> str:
    say_attr = f' id="{esc(say_id)}"' if say_id else ""
    return (f'<div class="ca-card-body rank-{index + 1}">'
            f'<div class="title"><span class="rank">{index + 1}</span>{esc(answer.title)}</div>'
            f'<div class="say"{say_attr}>{esc(answer.say)}</div>'
            f'<div class="why">근거: {esc(answer.why)}</div></div>')


def line_html(line: str) -> str:
    if not line:
        return ""
    return f'<div class="ca-line"><div class="lbl">다음 멘트</div><div class="say">{esc(line)}</div></div>'


def flow_html(stage: str | None, reached: list[str],
              checklist: tuple[tuple[str, bool | None], ...]) -> str:
    pills = []
    for code in STAGE_ORDER:
        state = "now" if code == stage else "done" if code in reached else ""
        pills.append(f'<span class="ca-stage {state}" title="{esc(stage_name(code))}">'
                     f'{esc(stage_name(code))}</span>')
    done = dict(checklist)
    ticks = []
    for item in CHECKLIST_ORDER:
        value = done.get(item, False)
        mark, cls = ("✓", "done") if value else ("–", "na") if value is None else ("○", "todo")
        ticks.append(f'<li class="{cls}" title="{esc(checklist_name(item))}">'
                     f'<span class="mark">{mark}</span>{esc(checklist_short(item))}</li>')
    return ('<div class="ca-flow"><div class="ca-stages">' + "".join(pills) + '</div>'
            '<ul class="ca-check">' + "".join(ticks) + "</ul></div>")


def kb_results_html(hits: list, query: str) -> str:
    """Search results in the agent's KB search box (the same card look, no feedback)."""
    if not hits:
        return message_html(f"‘{query}’에 맞는 문서를 찾지 못했습니다.", "warn")
    items = []
    for i, hit in enumerate(hits):
        answer = Answer(hit.article_id, hit.version, hit.title, hit.say, hit.why, hit.score)
        items.append(f'<div class="ca-card">{card_html(answer, i)}'
                     f'<div class="ca-id">{esc(hit.article_id)} · v{hit.version}</div></div>')
    return '<div class="ca-kb-results">' + "".join(items) + "</div>"
