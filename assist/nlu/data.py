"""Labeled text files in: CSV, TSV, JSONL, or split-keyed JSON (CLINC150 style).

Every problem a user can fix is one ``DataError`` naming the file, the line and the fix:
a missing column, an empty text, a label outside the allowed set, a class with too few
examples, bytes that are not UTF-8. Nothing is skipped silently.
"""
from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assist.config import AssistError

__all__ = [
    "DataError",
    "LabeledData",
    "INTENT_CODES",
    "SENTIMENT_CODES",
    "read_labeled",
    "read_many",
    "holdout_split",
    "check_min_per_class",
]

INTENT_CODES = (
    "billing_inquiry", "plan_change", "payment_method", "overdue_payment", "refund",
    "termination_fee", "cancel_service", "new_subscription", "internet_outage", "mobile_network",
    "device_repair", "lost_device", "usim", "roaming", "addon_service", "micropayment",
    "account_access", "info_change", "relocation", "membership", "device_installment",
    "complaint", "agent_request", "none", "out_of_scope",
)
SENTIMENT_CODES = ("negative", "neutral", "positive")
_SHOW = 5  # how many offending lines a message lists


class DataError(AssistError):
    """A training or evaluation file the user has to fix."""


@dataclass(frozen=True, slots=True)
class LabeledData:
    """Texts with one label each; ``lines`` are 1-based line numbers in ``source``."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    lines: tuple[int, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_set(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, indices: Iterable[int]) -> LabeledData:
        idx = list(indices)
        return LabeledData(tuple(self.texts[i] for i in idx), tuple(self.labels[i] for i in idx),
                           tuple(self.lines[i] for i in idx), self.source)

    def plus(self, other: LabeledData) -> LabeledData:
        return LabeledData(self.texts + other.texts, self.labels + other.labels,
                           self.lines + other.lines, f"{self.source}+{other.source}")


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}).") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: bytes that are not UTF-8 (offset {exc.start}); "
                        "save the file as UTF-8.") from exc


def _pick_column(path: Path, columns: Sequence[str], wanted: Sequence[str], what: str) -> str:
    for name in wanted:
        if name in columns:
            return name
    tried = " or ".join(f"'{w}'" for w in wanted)
    have = ", ".join(columns) or "none"
    raise DataError(f"{path} line 1: no {what} column {tried}; the header has: {have}. "
                    f"Use --{what}-column.")


def _rows_delimited(path: Path, text: str, delimiter: str) -> tuple[list[str], Iterable]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty (a header line is needed).") from None
    header = [h.strip() for h in header]

    def rows():
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, dict(zip(header, row))
    return header, rows()


def _rows_jsonl(path: Path, text: str) -> tuple[list[str], Iterable]:
    parsed = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {number}: each line must be a JSON object.")
        parsed.append((number, obj))
    if not parsed:
        raise DataError(f"{path}: the file has no rows.")
    return list(parsed[0][1].keys()), parsed


def _rows_json(path: Path, text: str, splits: Sequence[str], columns: tuple[str, str]):
    """A list of objects, or {split: [[text, label], ...]} like CLINC150's data_full."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
    if isinstance(obj, list):
        rows = [r for r in obj if isinstance(r, dict)]
        return (list(rows[0].keys()) if rows else []), [(0, r) for r in rows]
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a list of objects or an object of splits.")
    if not splits:
        raise DataError(f"{path}: a file of splits; choose with --split (has: {', '.join(obj)}).")
    out = []
    for split in splits:
        if split not in obj:
            raise DataError(f"{path}: no split '{split}' (has: {', '.join(obj)}).")
        for pair in obj[split]:
            out.append((0, dict(zip(columns, pair)) if isinstance(pair, list) else pair))
    return list(columns), out


def read_labeled(path: Path | str, text_column: str = "text",
                 label_column: str | Sequence[str] = "label", *, splits: Sequence[str] = (),
                 allowed: Sequence[str] | None = None) -> LabeledData:
    """Read one file; ``label_column`` may list candidates (the first present is used)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found.")
    wanted = [label_column] if isinstance(label_column, str) else list(label_column)
    content = _decode(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        header, rows = _rows_jsonl(path, content)
    elif suffix == ".json":
        header, rows = _rows_json(path, content, splits, (text_column, wanted[0]))
    else:
        first = content.split("\n", 1)[0]
        delimiter = "\t" if suffix == ".tsv" or first.count("\t") > first.count(",") else ","
        header, rows = _rows_delimited(path, content, delimiter)
    text_key = _pick_column(path, header, [text_column], "text")
    label_key = _pick_column(path, header, wanted, "label")
    return _collect(path, rows, text_key, label_key, allowed)


def _collect(path: Path, rows: Iterable, text_key: str, label_key: str,
             allowed: Sequence[str] | None) -> LabeledData:
    texts, labels, lines, empty, unknown = [], [], [], [], {}
    allowed_set = set(allowed) if allowed is not None else None
    for number, row in rows:
        text = str(row.get(text_key) or "").strip()
        label = str(row.get(label_key) if row.get(label_key) is not None else "").strip()
        if not text or not label:
            empty.append(number)
            continue
        if allowed_set is not None and label not in allowed_set:
            unknown.setdefault(label, []).append(number)
            continue
        texts.append(text)
        labels.append(label)
        lines.append(number)
    if empty:
        raise DataError(f"{path}: empty {text_key} or {label_key} at line(s) "
                        f"{_lines(empty)}; fill or delete those rows.")
    if unknown:
        parts = "; ".join(f"'{label}' at line(s) {_lines(n)}" for label, n in unknown.items())
        raise DataError(f"{path}: labels outside the label set: {parts}. "
                        f"Allowed: {', '.join(allowed or ())}.")
    if not texts:
        raise DataError(f"{path}: no labeled rows.")
    return LabeledData(tuple(texts), tuple(labels), tuple(lines), str(path))


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) if n else "?" for n in numbers[:_SHOW])
    return shown + (f" (and {len(numbers) - _SHOW} more)" if len(numbers) > _SHOW else "")


def read_many(paths: Sequence[Path | str], text_column: str = "text",
              label_column: str | Sequence[str] = "label", *, splits: Sequence[str] = (),
              allowed: Sequence[str] | None = None) -> LabeledData:
    """Several files of the same shape read as one set (e.g. train_g1..g3)."""
    if not paths:
        raise DataError("No data file given.")
    parts = [read_labeled(p, text_column, label_column, splits=splits, allowed=allowed)
             for p in paths]
    data = parts[0]
    for part in parts[1:]:
        data = data.plus(part)
    return data


def check_min_per_class(data: LabeledData, minimum: int = 2) -> None:
    """Training needs each class twice at least (one for fitting, one for calibration)."""
    if len(data.label_set) < 2:
        raise DataError(f"{data.source}: only one label ({data.label_set[0]}); "
                        "a classifier needs two or more.")
    counts = Counter(data.labels)
    thin = [label for label, n in counts.items() if n < minimum]
    if thin:
        where = "; ".join(f"'{label}' ({counts[label]}x, line {_lines(_label_lines(data, label))})"
                          for label in thin[:_SHOW])
        raise DataError(f"{data.source}: {len(thin)} label(s) with fewer than {minimum} examples: "
                        f"{where}. Add examples or merge the label.")


def _label_lines(data: LabeledData, label: str) -> list[int]:
    return [line for line, lab in zip(data.lines, data.labels) if lab == label]


def holdout_split(data: LabeledData, fraction: float, seed: int = 0) -> tuple[LabeledData, LabeledData]:
    """Fixed-seed stratified split: (train, held-out); every class keeps one training row."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"held-out fraction must be between 0 and 1, got {fraction}.")
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    keep, held = [], []
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        n_held = min(len(idx) - 1, round(len(idx) * fraction))
        held += idx[:n_held]
        keep += idx[n_held:]
    return data.subset(sorted(keep)), data.subset(sorted(held))
