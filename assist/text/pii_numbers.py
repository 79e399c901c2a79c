"""Numbers as a Korean speech recognizer writes them, with their offsets, for PII detection.

A recognizer writes "공일공 다시 일이삼사" or "칠 구 일 일 이 일" where a form says 010-1234 or
791121; redaction has to cut the original characters, so every token keeps its span. Digit
readings (one syllable per digit) and cardinals (이백칠십일 = 271) are kept apart: runs of digit
readings make phone/card/account numbers, cardinals appear in dates and building numbers.
Only str work here; nothing from the rest of assist.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["ENDINGS", "SINO", "THIS_YEAR", "NumberToken", "NumberRun", "DatePhrase", "birth_year",
           "copula_first", "number_runs", "split_ending", "spoken_value", "date_phrases",
           "month_day_phrases", "two_digit_year", "valid_date"]

SINO = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6",
        "륙": "6", "칠": "7", "팔": "8", "구": "9"}
NATIVE = {"하나": "1", "둘": "2", "셋": "3", "넷": "4", "다섯": "5", "여섯": "6", "일곱": "7",
          "여덟": "8", "아홉": "9"}
# Particles and copula endings that may follow a number inside one written word ("일이삼사로").
ENDINGS = frozenset(
    "이 가 은 는 을 를 로 으로 에 에요 예요 이에요 요 이요 고 이고 고요 이고요 인데 인데요 이며 며 "
    "입니다 이거든요 거든요 이죠 죠 이지요 지요 으로요 로요 에서 이랑 랑 하고 까지 도 이나 나 "
    "이라고 라고 이라 라 이었어요 였어요 이야 야 의 이면 면 이니까 니까 이거나 거나 이에 이고는 "
    "이었고 였고 이었는데 였는데 이구요 이세요 세요 맞아요 맞죠 맞나요 이라서 라서 입니다만".split())
_JOINING = frozenset({"", "에", "의"})  # "공일공에 일이삼사": the ending joins two groups
_WORD = re.compile(r"[0-9A-Za-z가-힣]+")
_GAP = re.compile(r"[\s\-.,/·…~]{1,6}|\s{0,3}(?:다시|대시|하이픈|빼기)\s{0,3}")
_MAX_WORD = 40
THIS_YEAR = date.today().year
_UNITS = {"십": 10, "백": 100, "천": 1000}
_D = "[일이삼사오육칠팔구]"
_THOUSANDS = re.compile(f"{_D}?천(?:{_D}?백)?(?:{_D}?십)?{_D}?")


@dataclass(frozen=True, slots=True)
class NumberToken:
    """One written word read as digits; end excludes the ending, word_end includes it."""
    start: int
    end: int
    word_end: int
    digits: str
    ending: str
    form: str = "digits"  # "native" (하나 둘: only beside another) or "cardinal" (구천삼백이십일)
    other: NumberToken | None = None  # the other reading of a final 이 (digit 2 or copula)


@dataclass(frozen=True, slots=True)
class NumberRun:
    """Digit tokens joined by separators (space, -, ., 다시, 에); gaps[i] follows tokens[i]."""
    tokens: tuple[NumberToken, ...]
    gaps: tuple[str, ...]

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @property
    def digits(self) -> str:
        return "".join(t.digits for t in self.tokens)

    @property
    def groups(self) -> tuple[int, ...]:
        """Digit counts per group; single digits said one by one count as one group."""
        starts = self.group_starts() + (len(self.tokens),)
        return tuple(sum(len(t.digits) for t in self.tokens[a:b])
                     for a, b in zip(starts, starts[1:]))

    def group_starts(self) -> tuple[int, ...]:
        """Indexes of the tokens that begin a group ("공 일 공 다시 일 이" has two groups)."""
        return tuple(i for i, tok in enumerate(self.tokens)
                     if i == 0 or not (len(tok.digits) == 1 == len(self.tokens[i - 1].digits)
                                       and not self.gaps[i - 1].strip()))

    def date_year(self) -> int | None:
        """The year when the run is a date with separators ("1992. 3. 14", "85-1-30")."""
        parts = [t.digits for t in self.tokens]
        if len(parts) != 3 or len(parts[0]) not in (2, 4) or any(len(p) > 2 for p in parts[1:]) \
                or len({g.strip() for g in self.gaps}) != 1 or self.gaps[0].strip() not in ".-/":
            return None
        year = int(parts[0]) if len(parts[0]) == 4 else two_digit_year(parts[0])
        return year if valid_date(year, int(parts[1]), int(parts[2])) else None

    def chunks(self, most: int) -> tuple[NumberRun, ...]:
        """Consecutive sub-runs of about `most` tokens at most, cut where groups begin."""
        out, first, prev = [], 0, 0
        for start in self.group_starts()[1:] + (len(self.tokens),):
            if start - first > most and prev > first:
                out.append(self.part(first, prev))
                first = prev
            prev = start
        out.append(self.part(first, len(self.tokens)))
        return tuple(out)

    def part(self, first: int, stop: int) -> NumberRun:
        """The run of tokens[first:stop], for numbers said back to back."""
        return NumberRun(self.tokens[first:stop], self.gaps[first:stop - 1])

    def other_reading(self) -> NumberRun | None:
        """The run read with the final 이 the other way (copula instead of digit 2, or back)."""
        other = self.tokens[-1].other
        if other is None:
            return None
        if not other.digits:
            return NumberRun(self.tokens[:-1], self.gaps[:-1]) if len(self.tokens) > 1 else None
        return NumberRun(self.tokens[:-1] + (other,), self.gaps)


def valid_date(year: int, month: int, day: int) -> bool:
    days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return 1900 <= year <= THIS_YEAR and 1 <= month <= 12 and 1 <= day <= days[month - 1]


def two_digit_year(two: str) -> int:
    """"90" -> 1990, "04" -> 2004: two-digit years are placed before this year."""
    value = int(two)
    return value + (2000 if value <= THIS_YEAR % 100 else 1900)


def birth_year(d: str) -> int | None:
    """The year a 6- (YYMMDD) or 8-digit (YYYYMMDD) string names as a valid date, else None."""
    if len(d) == 6 and valid_date(two_digit_year(d[:2]), int(d[2:4]), int(d[4:])):
        return two_digit_year(d[:2])
    if len(d) == 8 and valid_date(int(d[:4]), int(d[4:6]), int(d[6:])):
        return int(d[:4])
    return None


def split_ending(word: str, core: re.Pattern[str]) -> tuple[str, str] | None:
    """(core, ending) where `core` fully matches and the rest is a particle; longest core wins."""
    if core.fullmatch(word):
        return word, ""
    for cut in range(len(word) - 1, max(0, len(word) - 7), -1):
        if word[cut:] in ENDINGS and core.fullmatch(word[:cut]):
            return word[:cut], word[cut:]
    return None


def _has_final(syllable: str) -> bool:
    return "가" <= syllable <= "힣" and (ord(syllable) - 0xAC00) % 28 != 0


def _sino(word: str, start: int) -> NumberToken | None:
    """Longest digit-syllable prefix followed by a particle; a final 이 gets both readings.

    After a closed syllable (삼이에요, 팔이고) 이 is read as the copula, after an open one
    (사이고요) as the digit; the other reading is kept for when only it makes a number.
    """
    run = 0
    while run < len(word) and word[run] in SINO:
        run += 1
    for used in range(run, 0, -1):
        rest = word[used:]
        if rest and rest not in ENDINGS:
            continue
        digits = "".join(SINO[ch] for ch in word[:used])
        tok = NumberToken(start, start + used, start + len(word), digits, rest)
        if used == 1 and word[0] == "이" and rest:  # "... 5678 이고요": the copula, spaced off
            return NumberToken(*_fields(tok), other=NumberToken(start, start, start, "", word))
        if used < 2 or word[used - 1] != "이" or ("이" + rest) not in ENDINGS:
            return tok
        short = NumberToken(start, start + used - 1, start + len(word), digits[:-1], "이" + rest)
        if copula_first(word[:used]):
            return NumberToken(*_fields(short)[:6], other=tok)
        return NumberToken(*_fields(tok)[:6], other=short)
    return None


def copula_first(core: str) -> bool:
    """Whether a final 이 after this core's closed syllable reads as the copula (삼이에요)."""
    return len(core) >= 2 and core[-1] == "이" and _has_final(core[-2])


def _fields(tok: NumberToken) -> tuple:
    return tok.start, tok.end, tok.word_end, tok.digits, tok.ending, tok.form


def _parse_word(word: str, start: int) -> NumberToken | None:
    """The word read as a number token, or None (units such as 원, 기가, 일 make it None)."""
    if len(word) > _MAX_WORD:
        return None
    end = start + len(word)
    if word[0].isdigit():
        used = len(word) - len(word.lstrip("0123456789"))
        rest = word[used:]
        return NumberToken(start, start + used, end, word[:used], rest) \
            if not rest or rest in ENDINGS else None
    for native, digit in NATIVE.items():
        if word.startswith(native) and (word == native or word[len(native):] in ENDINGS):
            return NumberToken(start, start + len(native), end, digit, word[len(native):], "native")
    return _sino(word, start) or _thousands(word, start)


def _thousands(word: str, start: int) -> NumberToken | None:
    """A four-digit group said as a cardinal ("구천삼백이십일" = 9321), as some callers do."""
    split = split_ending(word, _THOUSANDS)
    value = _cardinal(split[0]) if split else None
    if split is None or value is None or not 1000 <= value <= 9999:
        return None
    return NumberToken(start, start + len(split[0]), start + len(word), str(value), split[1],
                       "cardinal")


def _tokens(text: str) -> list[NumberToken]:
    found = [t for m in _WORD.finditer(text) if (t := _parse_word(m.group(), m.start()))]
    out = []
    for i, tok in enumerate(found):
        beside = [found[k] for k in (i - 1, i + 1) if 0 <= k < len(found)]
        if tok.form != "native" or any(b.form == "native" and (b.start - tok.word_end <= 3 or
                                                tok.start - b.word_end <= 3) for b in beside):
            out.append(tok)
    return out


def number_runs(text: str) -> tuple[NumberRun, ...]:
    """Maximal runs of digit tokens; a run ends at an ending such as 로 or at any other word."""
    runs: list[NumberRun] = []
    toks: list[NumberToken] = []
    gaps: list[str] = []
    for tok in _tokens(text):
        if toks:
            prev = toks[-1]
            gap = text[prev.word_end:tok.start]
            if prev.ending not in _JOINING and prev.other and prev.other.ending in _JOINING:
                prev = prev.other  # "공칠공이 사육오육": inside a run the 이 is a digit
            if prev.ending in _JOINING and _GAP.fullmatch(gap):
                toks[-1] = prev
                toks.append(tok)
                gaps.append(gap)
                continue
            runs.append(NumberRun(tuple(toks), tuple(gaps)))
        toks, gaps = [tok], []
    if toks:
        runs.append(NumberRun(tuple(toks), tuple(gaps)))
    return tuple(runs)


def _cardinal(word: str) -> int | None:
    """이백칠십일 -> 271, 천구백구십 -> 1990, 십 -> 10; None when it is not a cardinal."""
    total, digit = 0, None
    for ch in word:
        if ch in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        elif ch in SINO and digit is None:
            digit = int(SINO[ch])
        else:
            return None
    return total + (digit or 0)


def spoken_value(word: str) -> int | None:
    """Arabic digits, a cardinal (구십) or digit readings (구공); None otherwise."""
    if word.isdigit():
        return int(word)
    if any(ch in _UNITS for ch in word):
        return _cardinal(word)
    if word and all(ch in SINO for ch in word):
        return int("".join(SINO[ch] for ch in word))
    return None


@dataclass(frozen=True, slots=True)
class DatePhrase:
    """A 년/월/일 phrase; month and day are None for "구십년생"."""
    start: int
    end: int
    year: int | None
    month: int | None
    day: int | None
    born: bool  # ends in 생 ("90년생", "삼월 오일생")


_NUM = r"\d{1,4}|[공영일이삼사오육칠팔구십백천]{1,8}"
_MD = (r"(?P<m>\d{1,2}|[일이삼사오육칠팔구십유시]{1,3})\s?월\s{0,2}"
       r"(?P<d>\d{1,2}|[일이삼사오육칠팔구십]{1,4})\s?일")
_DATE = re.compile(rf"(?<![0-9가-힣])(?P<y>{_NUM})\s?년(?:도)?(?:\s{{0,2}}{_MD})?(?P<s>\s?생)?")
_MONTH_DAY = re.compile(rf"(?<![0-9가-힣]){_MD}(?P<s>\s?생)?")
_MONTHS = {"유": 6, "시": 10}


def _month(word: str) -> int | None:
    value = _MONTHS.get(word) or spoken_value(word)
    return value if value and 1 <= value <= 12 else None


def _phrase(m: re.Match[str], year: int | None) -> DatePhrase | None:
    month = _month(m.group("m")) if m.group("m") else None
    day = spoken_value(m.group("d")) if m.group("d") else None
    if m.group("d") and (month is None or not day or day > 31):
        return None
    if month is None and not m.group("s"):
        return None
    return DatePhrase(m.start(), m.end(), year, month, day, bool(m.group("s")))


def date_phrases(text: str) -> tuple[DatePhrase, ...]:
    """Year-month-day phrases and "...년생"; two-digit years are placed before this year."""
    out = []
    for m in _DATE.finditer(text):
        value = spoken_value(m.group("y"))
        if value is None or 100 <= value < 1900 or value > THIS_YEAR:
            continue
        year = value if value >= 100 else two_digit_year(f"{value:02d}")
        phrase = _phrase(m, year)
        if phrase is not None:
            out.append(phrase)
    return tuple(out)


def month_day_phrases(text: str) -> tuple[DatePhrase, ...]:
    """Month-day phrases without a year ("삼월 오일"); only a birth context makes them PII."""
    found = (_phrase(m, None) for m in _MONTH_DAY.finditer(text))
    return tuple(p for p in found if p is not None and p.day is not None)
