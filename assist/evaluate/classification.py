"""Scores of a classifier on labeled text: accuracy, macro-F1, top-3, per class, confusion, ECE.

Shared by ``assist eval intent|sentiment`` and the UI. Gold labels the model does not know
are counted as errors and listed, never a crash; a model that can answer "unsure" is scored
on its top label, with how often it was unsure and how right it was when sure reported too.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["ClassScore", "ClassificationReport", "score_classification", "calibration_error",
           "plot_confusion", "confusion_text"]


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class ClassificationReport:
    """Everything ``assist eval`` prints; ``to_dict`` is the --json schema."""

    n: int
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    ece: float
    per_class: tuple[ClassScore, ...]
    labels: tuple[str, ...]  # rows/columns of ``confusion``
    confusion: tuple[tuple[int, ...], ...]  # [gold][predicted]
    unknown_labels: tuple[tuple[str, int], ...]  # gold labels the model cannot predict
    unsure_rate: float
    accuracy_when_sure: float
    oos: dict | None = None  # in_scope_accuracy, oos_recall, oos_precision, by_threshold

    def to_dict(self) -> dict:
        out = asdict(self)
        out["per_class"] = {c.label: {"precision": c.precision, "recall": c.recall, "f1": c.f1,
                                      "support": c.support} for c in self.per_class}
        out["confusion"] = [list(row) for row in self.confusion]
        out["unknown_labels"] = dict(self.unknown_labels)
        return out


def calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: |confidence - accuracy| per equal-width bin, weighted."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return round(float(total), 4)


def _per_class(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> tuple[ClassScore, ...]:
    out = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        n_pred = sum(p == label for p in pred)
        n_gold = sum(g == label for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(ClassScore(label, round(precision, 4), round(recall, 4), round(f1, 4), n_gold))
    return tuple(out)


def _oos(gold: Sequence[str], pred: Sequence[str], oos_label: str) -> dict:
    in_scope = [(g, p) for g, p in zip(gold, pred) if g != oos_label]
    oos = [p for g, p in zip(gold, pred) if g == oos_label]
    said_oos = [g for g, p in zip(gold, pred) if p == oos_label]
    return {"label": oos_label, "n_in_scope": len(in_scope), "n_oos": len(oos),
            "in_scope_accuracy": round(sum(g == p for g, p in in_scope) / max(1, len(in_scope)), 4),
            "oos_recall": round(sum(p == oos_label for p in oos) / max(1, len(oos)), 4),
            "oos_precision": round(sum(g == oos_label for g in said_oos) / max(1, len(said_oos)), 4)}


def _oos_curve(gold: Sequence[str], top: Sequence[str], gate: Sequence[float],
               oos_label: str, thresholds: np.ndarray) -> list[dict]:
    """In-scope accuracy and out-of-scope recall had the threshold been t: the trade-off an
    evaluator picks a threshold from. ``gate`` is what the threshold applies to (the top
    label's probability, or a neighbor score); ``top`` the best in-scope label."""
    conf = np.asarray(gate, dtype=np.float64)
    gold_arr, top_arr = np.asarray(gold), np.asarray(top)
    is_oos = gold_arr == oos_label
    out = []
    for t in thresholds:
        pred = np.where(conf < t, oos_label, top_arr)
        out.append({"threshold": float(t),
                    "in_scope_accuracy": round(float((pred[~is_oos] == gold_arr[~is_oos]).mean()), 4)
                    if (~is_oos).any() else 0.0,
                    "oos_recall": round(float((pred[is_oos] == oos_label).mean()), 4)
                    if is_oos.any() else 0.0})
    return out


def _oos_report(gold: Sequence[str], pred: Sequence[str], ranked: Sequence[Sequence[str]],
                confidence: Sequence[float], oos_label: str, scope: Sequence[float] | None) -> dict:
    """Out-of-scope figures and the threshold trade-off on the model's own gate: probability
    steps of 0.05, or for a neighbor score the values that set aside 0-20% of the rows in
    0.5% steps."""
    top = [r[0] if r else "" for r in ranked]
    gate = np.asarray(confidence if scope is None else scope, dtype=np.float64)
    if scope is None:
        steps = np.round(np.arange(0.0, 0.951, 0.05), 2)
    else:
        steps = np.unique(np.round(np.quantile(gate, np.linspace(0.0, 0.2, 41)), 3))
    return _oos(gold, pred, oos_label) | {
        "score": "probability" if scope is None else "neighbors",
        "auroc": _auroc(gate, np.asarray(gold) != oos_label),
        "by_threshold": _oos_curve(gold, top, gate, oos_label, steps)}


def _auroc(score: np.ndarray, positive: np.ndarray) -> float | None:
    """How well the gate's score alone separates in-scope from out-of-scope rows (1.0: a
    threshold exists that makes no mistake; 0.5: no better than chance)."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return None
    return round(float(roc_auc_score(positive, score)), 4)


def score_classification(gold: Sequence[str], ranked: Sequence[Sequence[str]],
                         confidence: Sequence[float], model_labels: Sequence[str],
                         unsure: Sequence[bool] | None = None, final: Sequence[str] | None = None,
                         oos_label: str | None = None,
                         scope: Sequence[float] | None = None) -> ClassificationReport:
    """``ranked``: each row's labels best first (top-3 at least); ``final``: the model's answer
    where it differs from the top label (an out-of-scope fallback), else the top label;
    ``scope``: per-row neighbor scores when the model gates out-of-scope by them."""
    n = len(gold)
    pred = list(final) if final is not None else [r[0] if r else "" for r in ranked]
    correct = np.array([g == p for g, p in zip(gold, pred)], dtype=np.float64)
    # top-3: what the model would show, its answer (an out-of-scope verdict too) then the best others
    shown = [[p] + [lab for lab in r if lab != p] for p, r in zip(pred, ranked)]
    top3 = np.array([g in r[:3] for g, r in zip(gold, shown)], dtype=np.float64)
    unsure_arr = np.array(unsure if unsure is not None else [False] * n, dtype=bool)
    known = set(model_labels)
    unknown = Counter(g for g in gold if g not in known)
    present = sorted(set(gold))
    labels = tuple(sorted(set(gold) | set(pred)))
    position = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred):
        matrix[position[g], position[p]] += 1
    per_class = _per_class(gold, pred, labels)
    f1_present = [c.f1 for c in per_class if c.label in present]
    sure = ~unsure_arr
    return ClassificationReport(
        n=n, accuracy=round(float(correct.mean()) if n else 0.0, 4),
        macro_f1=round(float(np.mean(f1_present)) if f1_present else 0.0, 4),
        top3_accuracy=round(float(top3.mean()) if n else 0.0, 4),
        ece=calibration_error(np.asarray(confidence, dtype=np.float64), correct),
        per_class=per_class, labels=labels,
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
        unknown_labels=tuple(sorted(unknown.items())),
        unsure_rate=round(float(unsure_arr.mean()) if n else 0.0, 4),
        accuracy_when_sure=round(float(correct[sure].mean()) if sure.any() else 0.0, 4),
        oos=_oos_report(gold, pred, ranked, confidence, oos_label, scope) if oos_label else None,
    )


def confusion_text(report: ClassificationReport, max_labels: int = 30, top: int = 15) -> str:
    """The matrix for small label sets; the most frequent confusions for large ones."""
    labels, matrix = report.labels, np.array(report.confusion)
    if len(labels) > max_labels or len(labels) == 0:
        pairs = [(matrix[i, j], labels[i], labels[j]) for i in range(len(labels))
                 for j in range(len(labels)) if i != j and matrix[i, j]]
        pairs.sort(reverse=True)
        return "\n".join(f"{n:4d}  {g} -> {p}" for n, g, p in pairs[:top]) or "(no errors)"
    codes = [f"{i:>3}" for i in range(len(labels))]
    lines = ["gold\\pred " + " ".join(codes)]
    for i, label in enumerate(labels):
        cells = " ".join(f"{v:>3}" if v else "  ." for v in matrix[i])
        lines.append(f"{i:>3} {label[:18]:<18} {cells}")
    return "\n".join(lines)


def plot_confusion(report: ClassificationReport, path: Path, title: str) -> Path:
    """Row-normalized confusion matrix as PNG; label codes (ASCII) on the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(report.confusion, dtype=np.float64)
    rows = matrix.sum(1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    k = len(report.labels)
    size = min(24.0, max(6.0, 0.32 * k + 3))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    if k <= 80:
        font = max(4, min(10, int(400 / max(k, 1))))
        ax.set_xticks(range(k), report.labels, rotation=90, fontsize=font)
        ax.set_yticks(range(k), report.labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title} (n={report.n}, accuracy {report.accuracy:.3f})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def score_decisions(model, decisions: Sequence[tuple], gold: Sequence[str],
                    scope: Sequence[float] | None = None) -> tuple[ClassificationReport, list[str]]:
    """Report for ``TaskModel.decide_many`` output, and the final labels. An "unsure" answer
    is scored as its top label (the panel shows it as a guess); an out-of-scope fallback is
    scored as that label."""
    fallback_is_label = model.fallback is not None and model.fallback != "unsure"
    final = [label if (fallback_is_label or not unsure) else top[0][0]
             for label, _, top, unsure in decisions]
    report = score_classification(
        gold, [[lab for lab, _ in top] for _, _, top, _ in decisions],
        [top[0][1] for _, _, top, _ in decisions], model.labels,
        unsure=[u for *_, u in decisions], final=final,
        oos_label=model.fallback if fallback_is_label else None, scope=scope)
    return report, final
