"""PII redaction: written and spoken forms of every kind, non-PII numbers, masking, robustness."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assist.config import AssistError
from assist.evaluate.pii import main, read_cases, score_pii
from assist.text import MASKS, PII_KINDS, PiiSpan, find_pii, redact

DATA = Path(__file__).resolve().parents[2] / "data" / "pii"


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text)]


@pytest.mark.parametrize("text, kind, piece", [
    ("연락처는 010-1234-5678로 주세요.", "phone", "010-1234-5678"),
    ("네, 01012345678 맞아요.", "phone", "01012345678"),
    ("사무실은 02 555 1234예요.", "phone", "02 555 1234"),
    ("주민번호 900101-1234567입니다.", "rrn", "900101-1234567"),
    ("카드 1234-5678-9012-3456로 결제할게요.", "card", "1234-5678-9012-3456"),
    ("국민은행 123-456-789012로 보내 주세요.", "account", "123-456-789012"),
    ("메일은 hong@example.com이에요.", "email", "hong@example.com"),
    ("주소는 서울시 강남구 테헤란로 123이에요.", "address", "서울시 강남구 테헤란로 123"),
    ("부산 사하구 하단동 523-7번지로 보내 주세요.", "address", "부산 사하구 하단동 523-7번지"),
    ("생일이 1990년 1월 1일이에요.", "birth_date", "1990년 1월 1일"),
    ("저 90년 3월 5일생이에요.", "birth_date", "90년 3월 5일생"),
    ("생년월일 1985-06-01이요.", "birth_date", "1985-06-01"),
])
def test_written_forms(text: str, kind: str, piece: str) -> None:
    assert kinds(text) == [(kind, piece)]


@pytest.mark.parametrize("text, kind, piece", [
    ("번호는 공일공 일이삼사 오육칠팔이에요.", "phone", "공일공 일이삼사 오육칠팔"),
    ("영일영에 구칠사이에 일일팔삼으로 주세요.", "phone", "영일영에 구칠사이에 일일팔삼"),
    ("전화번호 일이삼사 다시 오육칠팔이요.", "phone", "일이삼사 다시 오육칠팔"),
    ("공일공 하나 둘 셋 넷 다섯 여섯 일곱 여덟로 연락 주세요.", "phone",
     "공일공 하나 둘 셋 넷 다섯 여섯 일곱 여덟"),
    ("010 사삼칠일 2986으로 전화 주세요.", "phone", "010 사삼칠일 2986"),
    ("번호는 공일공 구천삼백이십일 다시 사천오백육십칠이에요.", "phone",
     "공일공 구천삼백이십일 다시 사천오백육십칠"),
    ("주민번호 구공공일공일 다시 일이삼사오육칠이요.", "rrn", "구공공일공일 다시 일이삼사오육칠"),
    ("주민 번호는 칠 팔 공 삼 이 일 일 팔 이 사 육 공 삼.", "rrn", "칠 팔 공 삼 이 일 일 팔 이 사 육 공 삼"),
    ("카드는 사오일일 오삼육오 일일육오 일사오구로 해 주세요.", "card", "사오일일 오삼육오 일일육오 일사오구"),
    ("토스뱅크 구육이 오오육일육육 육사로 바꿔 주세요.", "account", "구육이 오오육일육육 육사"),
    ("이메일은 hong 골뱅이 example 닷컴이에요.", "email", "hong 골뱅이 example 닷컴"),
    ("에이치 오 엔 지 골뱅이 네이버 닷컴으로 보내 주세요.", "email", "에이치 오 엔 지 골뱅이 네이버 닷컴"),
    ("주소는 서울 노원구 상계로 칠십, 칠백일동 삼백이호예요.", "address",
     "서울 노원구 상계로 칠십, 칠백일동 삼백이호"),
    ("제주특별자치도 제주시 연동 이백칠십일 다시 삼이에요.", "address",
     "제주특별자치도 제주시 연동 이백칠십일 다시 삼"),
    ("천구백구십년 삼월 오일생이에요.", "birth_date", "천구백구십년 삼월 오일생"),
    ("저 구십년생이에요.", "birth_date", "구십년생"),
    ("팔십오년 칠월 이십일일이요.", "birth_date", "팔십오년 칠월 이십일일"),
    ("아 네, 구 공 공 일 이 삼 맞아요.", "birth_date", "구 공 공 일 이 삼"),
    ("생년월일 사구 공사 이공이요.", "birth_date", "사구 공사 이공"),
])
def test_spoken_forms(text: str, kind: str, piece: str) -> None:
    assert kinds(text) == [(kind, piece)]


@pytest.mark.parametrize("text", [
    "이번 달 요금이 삼만 오천 원 나왔어요.", "49,500원 맞나요?", "5G 스탠다드 요금제로 바꿔 주세요.",
    "데이터 10기가 더 주세요.", "납부일은 매달 25일이에요.", "다음 달 5일까지 낼게요.",
    "3시 반쯤 다시 전화 주세요.", "통화 시간이 20분 넘었어요.", "두 번째 항목부터 설명해 주세요.",
    "12월 31일까지 해지하면 위약금 없나요?", "2024년 3월 15일에 개통했어요.",
    "고객센터 1588-0010 맞죠?", "인증번호가 구일공삼이오로 왔어요.", "주문번호 20240315-0042요.",
    "모델명 SM-S921N 맞아요.", "일 이 삼 순서대로 눌렀어요.", "서울에서 부산으로 이사 가요.",
    "골뱅이 무침 먹다가 전화 받았어요.", "하나 둘 셋 하면 재부팅 눌러 주세요.", "이 번호로 다시 전화 주세요.",
    "", "   ",
])
def test_not_pii(text: str) -> None:
    assert find_pii(text) == ()
    assert redact(text) == text


def test_redact_keeps_surrounding_text_and_spacing() -> None:
    text = "  연락처는 010-1234-5678로,\t주소는 서울시 강남구 테헤란로 123이에요!  "
    assert redact(text) == "  연락처는 [전화번호]로,\t주소는 [주소]이에요!  "
    stars = redact(text, lambda span: "*" * len(span.text))
    assert len(stars) == len(text) and stars.startswith("  연락처는 *")


def test_spans_are_ordered_slices_of_the_text() -> None:
    text = "이름 김민수, 생년월일 880512, 연락처 010-7345-2210, 메일 kms@example.com이요."
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["birth_date", "phone", "email"]
    assert all(isinstance(s, PiiSpan) and text[s.start:s.end] == s.text for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    with pytest.raises(AttributeError):
        spans[0].kind = "x"  # frozen


def test_every_kind_has_a_mask() -> None:
    assert set(PII_KINDS) == set(MASKS) and len(set(MASKS.values())) == len(MASKS)


def test_back_to_back_numbers_are_split() -> None:
    assert [k for k, _ in kinds("010-1234-5678 02-555-1234 둘 다요")] == ["phone", "phone"]


def _all_texts() -> list[str]:
    return [c.text for path in sorted(DATA.glob("*.jsonl")) for c in read_cases(path)]


def test_redact_is_idempotent() -> None:
    texts = _all_texts()
    joined = [a + " " + b for a, b in zip(texts, texts[1:])]
    for text in texts + joined:
        once = redact(text)
        assert redact(once) == once, text


@pytest.mark.parametrize("text", [
    "공" * 100_000, "공 " * 50_000, "@" * 100_000, "a" * 99_999 + "@", "1 " * 50_000, "1-" * 50_000,
    "서울 강남구 테헤란로 123, " * 4_000, "일 다시 " * 20_000, "a 골뱅이 " * 14_000,
    "구십년 " * 25_000, "연락처 010-1234-5678 " * 5_000, "010-1234-5678 " * 7_000,
    "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 가 " * 2_500, "1-2-3-4-5-6-7-8-9-0 가 " * 4_500,
    "😀\x00\x1b[31m\u200b\ufeff\ud800" * 12_000, "\u1100\u1161\u11a8" * 30_000,
])
def test_huge_and_hostile_input_is_fast_and_safe(text: str) -> None:
    started = time.perf_counter()
    out = redact(text)
    assert isinstance(out, str)
    assert time.perf_counter() - started < 5.0


def test_control_characters_and_emoji_around_pii() -> None:
    text = "😀\x00연락처\x1b 010-1234-5678\u200b 입니다 🙏"
    assert redact(text) == "😀\x00연락처\x1b [전화번호]\u200b 입니다 🙏"
    assert find_pii(None) == ()  # type: ignore[arg-type]


def test_recall_and_precision_on_the_data_files() -> None:
    files = sorted(DATA.glob("*.jsonl"))
    assert DATA / "pii_cases_extra.jsonl" in files
    report = score_pii(case for path in files for case in read_cases(path))
    assert report.n >= 240
    assert report.recall >= 0.98, report.misses
    assert report.precision >= 0.9, report.false_alarms


def test_score_pii_counts_overlap_per_kind() -> None:
    cases = [{"text": "번호 010-1234-5678요", "spans": [{"kind": "phone", "text": "010-1234-5678"}]},
             {"text": "번호 010-1234-5678요", "spans": [{"kind": "rrn", "text": "010-1234-5678"}]},
             {"text": "요금 3만 원", "spans": []}]
    report = score_pii(cases)
    by_kind = {k.kind: k for k in report.per_kind}
    assert report.n == 3 and by_kind["phone"].found == 1 and by_kind["rrn"].found == 0
    assert report.recall == 0.5 and report.precision == 0.5 and len(report.false_alarms) == 1


def test_evaluate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    case = {"text": "메일 a@b.co요", "spans": [{"kind": "email", "text": "a@b.co"}]}
    good.write_text(json.dumps(case, ensure_ascii=False) + "\n", "utf-8")
    assert main([str(good)]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["recall"] == 1.0 and last["per_kind"]["email"]["found"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "spans": [{"kind": "phone", "text": "y"}]}\n', "utf-8")
    with pytest.raises(AssistError, match="bad.jsonl:1"):
        read_cases(bad)
    assert main([str(bad)]) == 2
