"""Find and mask personal data in Korean call text, written or as a recognizer spells it.

Screens and the call log must not keep phone, resident registration (주민번호), card or
account numbers, e-mail, street addresses or birth dates. Recognizers write "공일공 다시
일이삼사", so digit runs come from pii_numbers and their kind is decided by nearby words
(전화, 주민번호, 카드, 은행 ...) and then by length and shape. Prices, data amounts, bill dates
and times never become runs: a number glued to a unit (원, 기가, 일, 시) is not a digit token.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assist.text.pii_numbers import (ENDINGS, SINO, THIS_YEAR, NumberRun, birth_year, copula_first,
                                     date_phrases, month_day_phrases, number_runs, split_ending)

__all__ = ["PiiSpan", "PII_KINDS", "MASKS", "find_pii", "redact"]

MASKS = {"phone": "[전화번호]", "rrn": "[주민번호]", "card": "[카드번호]", "account": "[계좌번호]",
         "email": "[이메일]", "address": "[주소]", "birth_date": "[생년월일]"}
PII_KINDS = tuple(MASKS)
_LATEST_BIRTH = THIS_YEAR - 10  # later years read as service dates unless a birth word is near


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: kind (a key of MASKS) and its characters in the text."""
    kind: str
    start: int
    end: int
    text: str


def find_pii(text: str) -> tuple[PiiSpan, ...]:
    """Non-overlapping spans in text order; any str is accepted, nothing raises."""
    if not isinstance(text, str) or not text:
        return ()
    found = [*_emails(text), *_spoken_emails(text), *_addresses(text), *_birth_dates(text),
             *_numbers(text)]
    kept: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(found, key=lambda s: (s[0] - s[1], s[0])):  # longest first
        if all(end <= k[0] or start >= k[1] for k in kept):
            kept.append((start, end, kind))
    return tuple(PiiSpan(kind, s, e, text[s:e]) for s, e, kind in sorted(kept))


def redact(text: str, mask: Callable[[PiiSpan], str] | None = None) -> str:
    """Text with each span replaced by mask(span), "[전화번호]" style by default."""
    if not isinstance(text, str):
        return text
    out, last = [], 0
    for span in find_pii(text):
        out.append(text[last:span.start])
        out.append(mask(span) if mask else MASKS[span.kind])
        last = span.end
    out.append(text[last:])
    return "".join(out)


# -- context words: the nearest one decides between kinds a digit run's shape allows ----------
_CONTEXT = (
    ("negative", r"인증\s?번호|인증|주문\s?번호|주문|접수\s?번호|송장|운송장|일련\s?번호|쿠폰|"
                 r"고객\s?번호|회원\s?번호|고객\s?센터|대표\s?번호|모델|비밀\s?번호|비번|사업자|"
                 r"우편\s?번호|내선|금액|요금|가격|포인트|채널|버스|코드"),
    ("rrn", r"주민\s?등록\s?번호|주민\s?번호|주민|외국인\s?등록\s?번호|등록\s?번호"),
    ("card", r"카드"),
    ("account", r"계좌|[가-힣]{1,4}은행|[가-힣]{1,4}뱅크|새마을\s?금고|우체국|농협|수협|신협|"
                r"예금주|입금|송금"),
    ("birth_date", r"생년\s?월일|생년|생일|태어|출생|생이"),
    ("phone", r"전화\s?번호|전화|연락처|연락|휴대\s?폰|핸드\s?폰|휴대\s?전화|폰|번호|문자|회신|"
              r"통화|국번"),
)
_KEYWORDS = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _CONTEXT))
_MASKED = re.compile("|".join(re.escape(m) for m in MASKS.values()))


def _context(text: str, start: int, end: int, before: int = 30, after: int = 12) -> list[str]:
    """Kinds named near [start, end), nearest first; words after count a little farther.

    Words inside our own masks ("[카드번호]") do not count, so redacting twice changes nothing.
    """
    lo, hi = max(0, start - before), min(len(text), end + after)
    masks = [m.span() for m in _MASKED.finditer(text, max(0, lo - 6), min(len(text), hi + 6))]
    found = [m for m in _KEYWORDS.finditer(text, lo, start)] + \
        [m for m in _KEYWORDS.finditer(text, end, hi)]
    scored = [(start - m.end() if m.end() <= start else m.start() - end + 3, m.lastgroup or "")
              for m in found if not any(a <= m.start() < b for a, b in masks)]
    return [kind for _, kind in sorted(scored)]


# -- digit runs: shape gives each kind a strength, context picks among them -------------------
_CERTAIN, _LIKELY, _WEAK = 3, 2, 1
_ORDER = ("rrn", "card", "phone", "birth_date", "account")
_MOBILE = re.compile(r"01[016789]")
_AREA = re.compile(r"0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8])")
_BUSINESS = re.compile(r"1[5-8]\d\d")
_MAX_TOKENS = 16  # a card number said digit by digit


def _shapes(d: str, groups: tuple[int, ...], plus82: bool, dated: int | None) -> dict[str, int]:
    """How strongly the digits alone suggest each kind; dated: the year of "1992. 3. 14"."""
    n, out = len(d), {}
    natural = len(groups) == 1 or max(groups) <= 4
    if (_MOBILE.match(d) and n in (10, 11)) or (plus82 and d.startswith("821") and n in (11, 12)):
        out["phone"] = _CERTAIN if natural and (n == 11 or groups != (3, 4, 3)) else _LIKELY
    elif _AREA.match(d) and 9 <= n <= 11:
        out["phone"] = _LIKELY
    elif n in (7, 8) and d[0] != "0" and not _BUSINESS.match(d):
        out["phone"] = _LIKELY if groups in ((3, 4), (4, 4)) else _WEAK
    if n == 13:
        valid = birth_year(d[:6]) is not None and d[6] in "12345678"
        grouped = len(groups) == 1 or groups[0] == 6
        out["rrn"] = (_CERTAIN if grouped else _LIKELY) if valid else _WEAK
    elif n == 7 and birth_year(d[:6]) and d[6] in "12345678":
        out["rrn"] = _LIKELY if groups == (6, 1) else _WEAK  # masked: 900101-1******
    elif (n == 6 and birth_year(d)) or (n == 7 and d[0] in "12345678"):
        out["rrn"] = _WEAK
    if n in (14, 15, 16):
        four = len(groups) == 1 or set(groups) == {4}
        amex = d[:2] in ("34", "37")
        out["card"] = _CERTAIN if n == 16 and four else _LIKELY if n == 16 or amex else _WEAK
    if 10 <= n <= 14:
        out["account"] = _LIKELY if len(groups) >= 3 and min(groups) >= 2 else _WEAK
    year = birth_year(d) if n in (6, 8) else None
    if year is not None or dated:
        out["birth_date"] = _LIKELY if (dated or year) <= _LATEST_BIRTH else _WEAK
    return out


def _decide(text: str, run: NumberRun) -> tuple[int, str, int] | None:
    """(strength, kind, start) for a run; None, or kind "negative" when a word rules it out."""
    plus82 = run.start > 0 and text[run.start - 1] == "+"
    shapes = _shapes(run.digits, run.groups, plus82, run.date_year())
    if not shapes:
        return None
    start = run.start - 1 if plus82 else run.start
    for kind in _context(text, start, run.end):
        if kind == "negative":  # 인증번호, 주문번호 ...: only a certain shape still counts
            certain = [k for k in _ORDER if shapes.get(k) == _CERTAIN]
            return (_CERTAIN, certain[0], start) if certain else (0, "negative", start)
        if kind in shapes:
            return shapes[kind] + 1, kind, start  # a named kind outranks shape alone
    best = max(_ORDER, key=lambda k: (shapes.get(k, 0), -_ORDER.index(k)))
    return (shapes[best], best, start) if shapes.get(best, 0) >= _LIKELY else None


def _classify(text: str, run: NumberRun) -> tuple[int, int, int, str] | None:
    """(strength, start, end, kind): the reading of a final 이 (digit or copula) that wins."""
    best = None
    for candidate in (run, run.other_reading()):
        decided = _decide(text, candidate) if candidate else None
        if decided and (best is None or decided[0] > best[0]):
            best = decided[0], decided[2], candidate.end, decided[1]
    return best


def _segments(text: str, run: NumberRun, budget: list[int]) -> list[tuple[int, int, int, str]]:
    """Numbers said back to back ("123 010-1234-5678"): the cut into whole groups whose pieces
    are surest (squared strengths, then digits covered); budget caps work on hostile input."""
    starts = run.group_starts() + (len(run.tokens),)
    best: list[tuple[int, int, list]] = [(0, 0, [])] * len(starts)
    for k in range(len(starts) - 2, -1, -1):
        best[k] = best[k + 1]
        for stop in range(k + 1, len(starts)):
            part = run.part(starts[k], starts[stop])
            if len(part.digits) > 16 or budget[0] <= 0:
                break
            budget[0] -= 1
            found = _classify(text, part) if len(part.digits) >= 6 else None
            if found and found[0] > 0:
                score = (found[0] ** 2 + best[stop][0], len(part.digits) + best[stop][1])
                if score > best[k][:2]:
                    best[k] = *score, [found] + best[stop][2]
    return best[0][2]


def _numbers(text: str) -> Iterator[tuple[int, int, str]]:
    budget = [20_000]  # classifications spent on cutting runs, for hostile input
    for run in number_runs(text):
        other = run.other_reading()
        longest = max(len(run.digits), len(other.digits) if other else 0)
        if longest < 6 or all(t.form == "cardinal" for t in run.tokens):
            continue
        found = _classify(text, run)
        if found and (found[0] >= _CERTAIN or found[3] == "negative"):
            yield from [found[1:]] if found[0] else []
            continue
        parts = [p for piece in run.chunks(2 * _MAX_TOKENS) for p in _segments(text, piece, budget)]
        if parts and sum(p[0] ** 2 for p in parts) > (found[0] ** 2 if found else 0):
            yield from (p[1:] for p in parts)
        elif found:
            yield found[1:]


# -- birth dates written as phrases: 1990년 1월 1일, 구십년생, 팔십오년 칠월 이십일일 ---------------
_EVENT = re.compile(r"\s{0,2}(?:에|부터|까지|쯤|에서)?\s{0,2}(?:가입|개통|해지|약정|청구|납부|결제|"
                    r"신청|변경|만료|구매|구입|설치|방문|이사|사용|연체|출국|입국|나갔|빠져|왔)")


def _birth_dates(text: str) -> Iterator[tuple[int, int, str]]:
    for p in date_phrases(text):
        near = _context(text, p.start, p.end, before=20, after=10)
        told = "birth_date" in near[:2]
        if p.born or told or (p.day is not None and p.year is not None
                              and p.year <= _LATEST_BIRTH and not _EVENT.match(text, p.end)
                              and "negative" not in near[:1]):
            yield p.start, p.end, "birth_date"
    for p in month_day_phrases(text):
        if p.born or "birth_date" in _context(text, p.start, p.end, before=12, after=0)[:1]:
            yield p.start, p.end, "birth_date"


# -- e-mail: written, and spoken with 골뱅이 / 닷 / letter names ------------------------------------
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
                    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,5}\.[A-Za-z]{2,24}")
_AT = re.compile(r"(?<![가-힣A-Za-z])(?:골뱅이|앳|at)(?![가-힣A-Za-z])")
_DOMAIN = re.compile(r"\s{0,2}(?:[A-Za-z0-9][A-Za-z0-9\-]{0,62}|(?:(?!닷|점)[가-힣]){1,8})"
                     r"(?:\s{0,2}(?:닷|점|\.|dot\b)\s{0,2}(?:[A-Za-z]{2,10}|컴|넷|케이알|씨오|오알지))+")
_NON_SPACE = re.compile(r"\S+")
_LOCAL_WORD = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_LETTERS = frozenset("에이 비 씨 디 이 에프 지 쥐 에이치 아이 제이 케이 엘 엠 엔 오 피 큐 알 에스 티 "
                     "유 브이 더블유 더블류 엑스 와이 제트 젯 점 닷 언더바 언더스코어 하이픈 대시".split())


def _emails(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "email"


def _spoken_emails(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _AT.finditer(text):
        domain = _DOMAIN.match(text, m.end())
        start = _local_start(text, m.start())
        if domain and start is not None:
            yield start, domain.end(), "email"


def _local_start(text: str, at: int) -> int | None:
    """Where the spoken local part before 골뱅이 begins: latin, letter names, digit readings."""
    start = None
    for m in reversed(list(_NON_SPACE.finditer(text[max(0, at - 80):at]))):
        word = m.group()
        if not (_LOCAL_WORD.fullmatch(word) or word in _LETTERS or all(c in SINO for c in word)):
            break
        start = max(0, at - 80) + m.start()
    return start


# -- street addresses: 시/도 + 구/군 + 로/길/동 + 번지/호 ---------------------------------------------
_PROVINCE = (r"(?:서울|부산|대구|인천|광주|대전|울산|세종)(?:특별시|광역시|특별자치시|시)?|"
             r"(?:경기|강원|충북|충남|전북|전남|경북|경남|제주)(?:도|특별자치도)?|(?:충청|전라|경상)[남북]도")
_SPOKEN = "[일이삼사오육칠팔구십백천공영]{1,8}"
_NUM = rf"(?:\d{{1,4}}(?:-\d{{1,4}})?|{_SPOKEN})"
_PARTS = tuple((level, re.compile(p)) for level, p in (
    (0, _PROVINCE), (1, r"[가-힣]{1,4}시"), (2, r"[가-힣]{1,5}[구군]"),
    (3, r"[가-힣]{1,3}(?<![하되보으이라다려시니])[읍면]"),  # 풍산읍, not 결합하면
    (9, rf"{_NUM}(?:동|호|층)|지하\d?층"),
    (4, r"[가-힣]{1,6}\d{0,2}(?:동|리)|(?:\d{1,2}|[일이삼사오육칠팔구])가"),
    (5, r"[가-힣A-Za-z0-9]{0,8}[가-힣]\d{0,2}(?:로|길)"), (6, rf"{_NUM}번?길"),
    (7, rf"{_NUM}(?:번지)?|번지|다시|산"),
    (8, r"[가-힣A-Za-z0-9]{1,10}(?:아파트|빌라|빌|빌딩|타워|오피스텔|맨션|하이츠|마을|타운|캐슬|상가|"
        r"주택|센터|프라자|플라자|레지던스|자이|푸르지오|래미안|힐스테이트|아이파크|더샵|센트레빌|위브|"
        r"파크|팰리스|시티|스퀘어|하우스|빌리지|스테이트|리움)")))
_NOT_PLACE = frozenset("다시 혹시 역시 당시 동시 즉시 표시 도시 항시 잠시 수시 무시 실시 게시 제시 개시 "
                       "전시 감시 일시 임시 친구 연구 요구 가구 입구 출구 도구 기구 창구 탐구 추구 "
                       "신청구 청구 구 시 군".split())
_ADDR_WORD = re.compile(r"[0-9A-Za-z가-힣]+(?:-[0-9]+[가-힣]*)?|,")
_START = re.compile(r"^(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충|전|경|제주)|"
                    r"[시구군로길동리읍면]")
_ADDR_HINT = re.compile(r"(?<!\[)주소(?!\])|사는\s?곳|살고|배송지|이사|집은|집이")
_COMMON = frozenset("자동 이동 활동 행동 운동 변동 작동 가동 연동 출동 감동 충동 소동 우리 그리 머리 "
                    "거리 처리 관리 수리 자리 요리 다리 소리 정리 유리 미리 빨리 멀리 따로 도로 바로 "
                    "새로 서로 길".split())


def _part(words: list[re.Match[str]], j: int, prev: int) -> tuple[int, int, bool] | None:
    """(level, core length, ended) of address word j, or None when it cannot be one."""
    word = words[j].group()
    nxt = words[j + 1].group() if j + 1 < len(words) else ""
    for level, pattern, core, ending in _readings(word):
        if level in (1, 2) and (core in _NOT_PLACE or all(c in SINO for c in core[:-1])):
            continue
        if level == 5 and not any(p.fullmatch(nxt) or split_ending(nxt, p) for lv, p in _PARTS
                                  if lv in (6, 7) and nxt != "다시"):
            continue
        if level == 7 and not _number_ok(core, words[j - 1].group() if j else "", nxt, prev):
            continue
        if level == 7 and ending and copula_first(core) and ("이" + ending) in ENDINGS:
            core, ending = core[:-1], "이" + ending  # "다시 삼이에요": 삼 + 이에요
        return level, len(core), bool(ending)
    after = words[j + 2].group() if j + 2 < len(words) else ""
    if prev >= 7 and _NAME.fullmatch(word) and (_is_unit(nxt) or _NAME.fullmatch(nxt)
                                                 and _is_unit(after)):
        return 8, len(word), False  # building names before "103동 405호"
    return None


_NAME = re.compile(r"[가-힣A-Za-z]{2,12}")


def _number_ok(core: str, before: str, nxt: str, prev: int) -> bool:
    """A building number: one per address unless joined by 다시 (so a phone after it stays a
    phone), no leading 0, and spoken only as a cardinal or beside 다시/번지 (not "이사")."""
    if core in ("번지", "다시"):
        return True
    if core.startswith("0") or (prev == 7 and before not in ("다시", "산")):
        return False
    if not core.isalpha():
        return True
    if core == "산":  # "산 12번지": a lot on a mountain
        return nxt[:1].isdigit()
    return bool(set(core) & set("십백천")) or before == "다시" or nxt in ("다시", "번지")


def _is_unit(word: str) -> bool:
    return any(split_ending(word, p) for lv, p in _PARTS if lv == 9)


def _readings(word: str) -> Iterator[tuple[int, re.Pattern[str], str, str]]:
    """Address readings of a word: whole-word ones first ("단구로" a road, not 단구 + 로)."""
    for level, pattern in _PARTS:
        if pattern.fullmatch(word):
            yield level, pattern, word, ""
    for level, pattern in _PARTS:
        split = split_ending(word, pattern)
        if split and split[1]:
            yield level, pattern, split[0], split[1]


def _address_from(words: list[re.Match[str]], i: int) -> tuple[int, int, int] | None:
    """(start, end, next word) of an address starting at word i, if one does."""
    parts: list[tuple[int, int, int]] = []
    prev, comma, j = -1, False, i
    while j < len(words) and len(parts) < 16:
        if words[j].group() == ",":
            if comma or not parts:
                break
            comma, j = True, j + 1
            continue
        hit = _part(words, j, prev)
        if hit is None or (hit[0] < prev and not (prev >= 7 and hit[0] >= 7)) \
                or (comma and hit[0] < 8):
            break
        parts.append((hit[0], words[j].start(), words[j].start() + hit[1]))
        prev, comma, j = hit[0], False, j + 1
        if hit[2]:
            break
    while parts and words[i].string[parts[-1][1]:parts[-1][2]] in ("다시", "산"):
        parts.pop()
    levels = [lv for lv, _, _ in parts]
    if not any(3 <= lv <= 5 for lv in levels) or not any(lv >= 6 for lv in levels):
        return None
    return parts[0][1], parts[-1][2], j


def _addresses(text: str) -> Iterator[tuple[int, int, str]]:
    words = list(_ADDR_WORD.finditer(text))
    i = 0
    while i < len(words):
        word = words[i].group()
        first = _part(words, i, -1) if len(word) <= 24 and _START.search(word) else None
        hinted = first is not None and first[0] in (4, 5) and word[:first[1]] not in _COMMON and \
            _ADDR_HINT.search(text, max(0, words[i].start() - 15), words[i].start())
        admin = first is not None and first[0] <= 2 and _starts_address(words, i)
        found = _address_from(words, i) if admin or hinted else None
        if found:
            yield found[0], found[1], "address"
            i = max(found[2], i + 1)
        else:
            i += 1


def _starts_address(words: list[re.Match[str]], i: int) -> bool:
    """An admin word starts an address only when another place word follows it."""
    if i + 1 >= len(words):
        return False
    hit = _part(words, i + 1, 0)
    return hit is not None and 1 <= hit[0] <= 5
