"""Model cards: model_card.json (read by the loader) and README.md (read by people).

A model folder says what it was trained on, when, how, and how well it scored, so a number
in a report can always be traced to the folder that produced it.
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_card", "card_markdown"]


def write_card(folder: Path, card: dict) -> Path:
    """Write both files; the JSON is the source of truth."""
    folder = Path(folder)
    (folder / "model_card.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=1) + "\n", "utf-8")
    (folder / "README.md").write_text(card_markdown(card), "utf-8")
    return folder / "model_card.json"


def _metric_rows(metrics: dict) -> list[str]:
    rows = ["| split | n | accuracy | macro-F1 | top-3 | ECE |", "|---|---|---|---|---|---|"]
    for split, m in metrics.items():
        if isinstance(m, dict) and "accuracy" in m:
            rows.append(f"| {split} | {m.get('n', '')} | {m['accuracy']:.4f} | "
                        f"{m.get('macro_f1', 0):.4f} | {m.get('top3_accuracy', 0):.4f} | "
                        f"{m.get('ece', 0):.4f} |")
    return rows


def card_markdown(card: dict) -> str:
    """Human-readable summary of ``card``."""
    data = card.get("data", {})
    encoder = card.get("encoder", {})
    lines = [
        f"# {card.get('name', 'model')}",
        "",
        f"- task: {card.get('task')}; method: {card.get('method')}; created {card.get('created')}",
        f"- encoder: {encoder.get('name')} (dim {encoder.get('dim')}, prefix "
        f"{encoder.get('prefix')!r}{', adapter ' + encoder['adapter'] if 'adapter' in encoder else ''})",
        f"- training data: {', '.join(data.get('train', []))} ({data.get('rows')} rows, "
        f"{data.get('asr_noise_copies', 0)} ASR-noise copies each)",
        f"- calibration: temperature {card.get('temperature')}; threshold "
        f"{card.get('threshold')} -> {card.get('fallback_label')} ({card.get('threshold_rule')})",
        f"- labels ({len(card.get('labels', []))}): {', '.join(card.get('labels', []))}",
    ]
    if "transfer" in data:
        t = data["transfer"]
        lines.append(f"- transfer data: {t['source']} ({t['rows']} rows, weight {t['weight']})")
    lines += ["", "## Scores", "", *_metric_rows(card.get("metrics", {}))]
    extra = {k: v for k, v in card.get("metrics", {}).items() if "accuracy" not in v}
    if extra:
        lines += ["", "```", json.dumps(extra, ensure_ascii=False, indent=1), "```"]
    if card.get("notes"):
        lines += ["", "## Notes", "", card["notes"]]
    training = card.get("training", {})
    lines += ["", f"Trained in {training.get('seconds')} s (seed {training.get('seed')}).", ""]
    return "\n".join(lines)
