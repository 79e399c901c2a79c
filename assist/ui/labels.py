"""Korean names for the codes the engine emits (intents, sentiment, stages, alerts, outcomes)."""
from __future__ import annotations

from assist.guide.events import STAGE_NAMES, STAGES
from assist.guide.flow import CHECKLIST_ITEMS, Checklist
from assist.kb.taxonomy import INTENTS

__all__ = ["intent_name", "SPEAKERS", "SENTIMENTS", "TRENDS", "OUTCOMES", "ALERT_KINDS",
           "SEVERITIES", "stage_name", "checklist_name", "checklist_short", "STAGE_ORDER", "CHECKLIST_ORDER",
           "VERDICTS", "josa"]

SPEAKERS = {"customer": "고객", "agent": "상담사"}
SENTIMENTS = {"negative": "부정", "neutral": "중립", "positive": "긍정"}
TRENDS = {
    "falling": ("악화 중", "↘"), "rising": ("좋아지는 중", "↗"), "negative": ("부정적", "↓"),
    "neutral": ("안정", "→"), "positive": ("긍정적", "↑"),
}
OUTCOMES = {"resolved": "해결", "unresolved": "미해결", "escalated": "상위 부서 이관"}
ALERT_KINDS = {
    "complaint": "불만", "supervisor": "관리자 연결", "cancel_threat": "해지 의사",
    "negativity": "부정 감정", "hold": "대기 안내", "checklist": "체크리스트",
    "customer_type": "고객 유형", "closing": "마무리", "pii": "개인정보", "system": "시스템",
    "silence": "침묵",
}
SEVERITIES = {"critical": "긴급", "warn": "주의", "info": "안내"}
VERDICTS = {"helps": "도움 됨", "disliked": "비추천 많음", "ignored": "사용 안 됨",
            "unrated": "평가 없음"}
STAGE_ORDER = tuple(s for s in STAGES if s != "after_call")
CHECKLIST_ORDER = CHECKLIST_ITEMS
_EXTRA_INTENTS = {"unsure": "판단 보류"}


def intent_name(code: str | None) -> str:
    if not code:
        return "—"
    return INTENTS.get(code) or _EXTRA_INTENTS.get(code) or code


def stage_name(code: str | None) -> str:
    return STAGE_NAMES.get(code or "", code or "—")


# Short enough for two columns in the 420 px panel; the full wording is the tooltip.
_CHECK_SHORT = {"greet_team_name": "소속·이름 밝히기", "identity_check": "본인 확인",
                "restate_problem": "문의 내용 재확인", "offer_options": "해결 방법 제시",
                "summarize": "처리 내용 요약", "anything_else": "추가 문의 확인",
                "closing_greeting": "끝인사"}


def checklist_name(item: str) -> str:
    try:
        return Checklist.label(item)
    except KeyError:
        return item


def checklist_short(item: str) -> str:
    return _CHECK_SHORT.get(item) or checklist_name(item)


def josa(word: str, after_consonant: str, after_vowel: str) -> str:
    """The word with the particle its last sound takes (제목을, 문서 ID를)."""
    last = word[-1] if word else "가"
    if "가" <= last <= "힣":
        closed = (ord(last) - 0xAC00) % 28 != 0
    else:
        closed = last.lower() in "lmnr013678"
    return word + (after_consonant if closed else after_vowel)
