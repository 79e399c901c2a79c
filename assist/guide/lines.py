"""Choose the next script line for the agent: complaint step first, then identity, then stage."""
from __future__ import annotations

import hashlib
import re
from typing import Protocol

from assist.config import GuideOptions
from assist.guide.flow import Checklist

__all__ = ["ScriptBook", "next_line", "fill", "TOPIC_NAMES"]

# Korean topic words per intent, used in lines such as "{topic} 때문에 불편하셨을 텐데".
TOPIC_NAMES = {
    "billing_inquiry": "요금 청구", "plan_change": "요금제 변경", "payment_method": "납부 방법",
    "overdue_payment": "미납 요금", "refund": "환불", "termination_fee": "위약금",
    "cancel_service": "해지", "new_subscription": "신규 가입", "internet_outage": "인터넷 장애",
    "mobile_network": "통화 품질", "device_repair": "단말기 고장", "lost_device": "휴대폰 분실",
    "usim": "유심", "roaming": "로밍", "addon_service": "부가서비스", "micropayment": "소액결제",
    "account_access": "본인 인증", "info_change": "고객 정보 변경", "relocation": "이전 설치",
    "membership": "멤버십", "device_installment": "단말 할부", "complaint": "이번 일",
    "agent_request": "상담 연결",
}
# What the agent should say next in each stage (the stage the call is in now).
_NEXT_SCRIPT = {
    None: "greeting", "greeting": "inquiry", "inquiry": "probing", "probing": "resolution",
    "resolution": "resolution", "objection": "objection", "summary": "closing",
    "closing": "closing", "after_call": "closing",
}


class ScriptBook(Protocol):
    def lines(self, stage: str) -> tuple[str, ...]: ...


def fill(line: str, opts: GuideOptions, topic: str | None) -> str:
    line = line.replace("{customer_name} 고객님", "고객님").replace("{customer_name}", "고객")
    line = line.replace("{team}", opts.team).replace("{agent_name}", opts.agent_name)
    line = line.replace("{topic}", TOPIC_NAMES.get(topic or "", "말씀하신 문제"))
    return re.sub(r"\s+", " ", line).strip()


def next_line(scripts: ScriptBook, opts: GuideOptions, call_id: str, stage: str | None,
              complaint_step: str | None, checklist: Checklist, topic: str | None) -> str:
    """One line; the variant is fixed per call and script, so it does not flicker."""
    if complaint_step is not None:
        script = complaint_step
    elif stage in ("inquiry", "probing") and checklist.identity_needed and not checklist.done["identity_check"]:
        script = "identity_check"
    else:
        script = _NEXT_SCRIPT.get(stage, "resolution")
    candidates = [line for line in scripts.lines(script) if "{date}" not in line]
    if not candidates:
        return ""
    pick = int(hashlib.sha1(f"{call_id}:{script}".encode()).hexdigest(), 16) % len(candidates)
    return fill(candidates[pick], opts, topic)
