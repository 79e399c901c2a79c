"""The 25 customer intent codes (shared/spec/taxonomy.md): the contract between data, models and KB.

Articles name the intents they answer; an unknown code is refused at the edge, so a typo never
hides an article from intent-filtered search.
"""
from __future__ import annotations

__all__ = ["INTENTS", "is_intent"]

INTENTS: dict[str, str] = {
    "billing_inquiry": "요금 조회·청구 문의",
    "plan_change": "요금제 변경",
    "payment_method": "납부 방법 변경",
    "overdue_payment": "미납·연체",
    "refund": "환불",
    "termination_fee": "위약금·약정",
    "cancel_service": "해지",
    "new_subscription": "신규 가입·개통",
    "internet_outage": "인터넷·TV 장애",
    "mobile_network": "통화·데이터 품질",
    "device_repair": "단말기 고장·AS",
    "lost_device": "분실·도난",
    "usim": "유심·eSIM",
    "roaming": "해외 로밍",
    "addon_service": "부가서비스",
    "micropayment": "소액결제",
    "account_access": "본인인증·비밀번호",
    "info_change": "고객정보 변경",
    "relocation": "이사·이전 설치",
    "membership": "멤버십·혜택",
    "device_installment": "단말 할부·기기변경",
    "complaint": "불만·보상 요구",
    "agent_request": "상담원·부서 연결",
    "none": "정보 없는 발화",
    "out_of_scope": "범위 밖",
}


def is_intent(code: str) -> bool:
    return code in INTENTS
