"""Score PII detection on labelled sentences: does redaction catch what a person marked?

Cases are JSON lines {"text": ..., "spans": [{"kind": ..., "text": ...}]}; a gold span sits
where its text occurs in the sentence (successive occurrences for repeated text). Scoring is
per span: a gold span is found when a predicted span of the same kind covers >= 50% of it;
a predicted span is correct when it covers >= 50% of a gold span of its kind or lies >= 50%
inside one (a piece of true PII that was masked is not a false alarm).

    python -m assist.evaluate.pii [--errors] [FILES...]   # default: data/pii/*.jsonl

prints recall and precision overall and per kind; the last line is the report as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assist.config import AssistError
from assist.text import PII_KINDS, find_pii

__all__ = ["GoldSpan", "PiiCase", "KindScore", "PiiReport", "read_cases", "score_pii", "main"]

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "pii"


@dataclass(frozen=True, slots=True)
class GoldSpan:
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PiiCase:
    text: str
    spans: tuple[GoldSpan, ...]
    source: str = ""  # "file:line", for error listings


@dataclass(frozen=True, slots=True)
class KindScore:
    kind: str
    gold: int
    found: int
    predicted: int
    correct: int

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0


@dataclass(frozen=True, slots=True)
class PiiReport:
    n: int  # cases
    recall: float
    precision: float
    per_kind: tuple[KindScore, ...]
    misses: tuple[str, ...]  # "source kind 'text'" of gold spans not found
    false_alarms: tuple[str, ...]  # the same for predicted spans that are not PII

    def to_dict(self) -> dict:
        return {"n": self.n, "recall": round(self.recall, 4), "precision": round(self.precision, 4),
                "per_kind": {k.kind: {"gold": k.gold, "found": k.found, "predicted": k.predicted,
                                      "correct": k.correct, "recall": round(k.recall, 4),
                                      "precision": round(k.precision, 4)} for k in self.per_kind},
                "misses": len(self.misses), "false_alarms": len(self.false_alarms)}


def _case(raw: Mapping, source: str) -> PiiCase:
    """A case from its JSON form; gold texts must occur in the sentence, kinds must be known."""
    text = raw.get("text")
    if not isinstance(text, str) or not isinstance(raw.get("spans"), list):
        raise AssistError(f"{source}: needs 'text' (string) and 'spans' (list).")
    spans, taken = [], {}
    for span in raw["spans"]:
        kind, piece = (span.get("kind"), span.get("text")) if isinstance(span, Mapping) else (0, 0)
        if kind not in PII_KINDS or not isinstance(piece, str) or not piece:
            raise AssistError(f"{source}: bad span {span!r}; kinds are {', '.join(PII_KINDS)}.")
        start = text.find(piece, taken.get(piece, 0))
        if start < 0:
            raise AssistError(f"{source}: span text {piece!r} is not in the sentence.")
        taken[piece] = start + len(piece)
        spans.append(GoldSpan(kind, start, start + len(piece)))
    return PiiCase(text, tuple(spans), source)


def read_cases(path: Path) -> list[PiiCase]:
    """All cases of a JSONL file; every problem names its line."""
    if not path.is_file():
        raise AssistError(f"{path}: file not found.")
    cases = []
    for line_no, line in enumerate(path.read_text("utf-8-sig").splitlines(), start=1):
        if line.strip():
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as err:
                raise AssistError(f"{path}:{line_no}: not JSON ({err.msg}).") from err
            if not isinstance(raw, Mapping):
                raise AssistError(f"{path}:{line_no}: each line must be a JSON object.")
            cases.append(_case(raw, f"{path.name}:{line_no}"))
    return cases


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score_pii(cases: Iterable[PiiCase | Mapping]) -> PiiReport:
    """Span-level recall and precision of find_pii over the cases, overall and per kind."""
    counts = {k: [0, 0, 0, 0] for k in PII_KINDS}  # gold, found, predicted, correct
    misses, alarms, n = [], [], 0
    for i, case in enumerate(cases):
        case = case if isinstance(case, PiiCase) else _case(case, f"case {i + 1}")
        n += 1
        predicted = find_pii(case.text)
        for gold in case.spans:
            g = (gold.start, gold.end)
            hit = any(p.kind == gold.kind and 2 * _overlap(g, (p.start, p.end)) >= g[1] - g[0]
                      for p in predicted)
            counts[gold.kind][0] += 1
            counts[gold.kind][1] += hit
            if not hit:
                misses.append(f"{case.source} {gold.kind} {case.text[g[0]:g[1]]!r}")
        for p in predicted:
            ok = any(gold.kind == p.kind and 2 * _overlap((gold.start, gold.end), (p.start, p.end))
                     >= min(gold.end - gold.start, p.end - p.start) for gold in case.spans)
            counts[p.kind][2] += 1
            counts[p.kind][3] += ok
            if not ok:
                alarms.append(f"{case.source} {p.kind} {p.text!r} in {case.text!r}")
    per_kind = tuple(KindScore(k, *c) for k, c in counts.items())
    gold, found, pred, correct = (sum(c[j] for c in counts.values()) for j in range(4))
    return PiiReport(n, found / gold if gold else 1.0, correct / pred if pred else 1.0,
                     per_kind, tuple(misses), tuple(alarms))


def _print(report: PiiReport, errors: bool) -> None:
    print(f"cases {report.n}  recall {report.recall:.4f}  precision {report.precision:.4f}")
    for k in report.per_kind:
        print(f"  {k.kind:<11} gold {k.gold:>4}  found {k.found:>4}  recall {k.recall:.4f}  "
              f"predicted {k.predicted:>4}  precision {k.precision:.4f}")
    if errors:
        for line in report.misses:
            print(f"MISS  {line}")
        for line in report.false_alarms:
            print(f"FALSE {line}")
    print(json.dumps(report.to_dict(), ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assist.evaluate.pii",
                                     description="Score PII detection on labelled JSONL files.")
    parser.add_argument("files", nargs="*", type=Path, help="JSONL files (default: data/pii/*)")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    files = args.files or sorted(DEFAULT_DIR.glob("*.jsonl"))
    try:
        cases = [case for path in files for case in read_cases(path)]
    except AssistError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not cases:
        print("error: no cases to score.", file=sys.stderr)
        return 2
    _print(score_pii(cases), args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
