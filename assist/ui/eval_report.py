"""Evaluation results as what people take away: tables (HTML, escaped), a confusion plot with
Korean labels, and downloadable CSV and self-contained HTML reports."""
from __future__ import annotations

import base64
import csv
import io
import time
from pathlib import Path

import numpy as np

from assist.ui.eval_run import KINDS, EvalResult, label_name
from assist.ui.render import esc

__all__ = ["table_html", "confusion_figure", "write_reports"]

KOREAN_FONTS = ["NanumBarunGothic", "NanumGothic", "DejaVu Sans"]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return esc(value)


def table_html(headers: list[str], rows: list[list], delta_col: int | None = None) -> str:
    """A compact metrics table; a delta column is colored (better green, worse red)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cls = ""
            if i == delta_col and isinstance(value, (int, float)) and value:
                worse = value > 0 if "ECE" in str(row[0]) or "보류" in str(row[0]) else value < 0
                cls = ' class="worse"' if worse else ' class="better"'
            cells.append(f"<td{cls}>{_cell(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="ca-metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def confusion_figure(result: EvalResult, which: int = 0):
    """Row-normalized confusion matrix with Korean label names (None when not a classifier)."""
    if not result.reports:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    report = result.reports[which]
    matrix = np.array(report.confusion, dtype=np.float64)
    rows = matrix.sum(1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    names = [label_name(result.kind, code) for code in report.labels]
    k = len(names)
    size = min(11.0, max(4.5, 0.34 * k + 2.5))
    fig = Figure(figsize=(size, size * 0.92))
    ax = fig.add_subplot()
    with matplotlib.rc_context({"font.family": KOREAN_FONTS}):
        ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
        font = max(6, min(10, int(260 / max(k, 1))))
        ax.set_xticks(range(k), names, rotation=90, fontsize=font, fontfamily=KOREAN_FONTS)
        ax.set_yticks(range(k), names, fontsize=font, fontfamily=KOREAN_FONTS)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    if matrix[i, j]:
                        ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=font,
                                color="white" if norm[i, j] > 0.5 else "#1e293b")
        ax.set_xlabel("예측", fontfamily=KOREAN_FONTS)
        ax.set_ylabel("정답", fontfamily=KOREAN_FONTS)
        ax.set_title(f"{result.names[which]} · 정확도 {report.accuracy:.3f} (n={report.n})",
                     fontfamily=KOREAN_FONTS, fontsize=11)
        fig.tight_layout()
    return fig


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode()


def write_reports(result: EvalResult, out_dir: Path) -> tuple[Path, Path]:
    """CSV (sections one after another) and a self-contained HTML report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"eval-{result.kind}-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6}"
    csv_path, html_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.html"
    sections = [("요약", result.summary_headers, result.summary),
                ("세부", result.detail_headers, result.detail),
                ("오류", result.error_headers, result.errors)]
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["평가", KINDS.get(result.kind, result.kind), "데이터", result.source,
                         "시각", result.created])
        for title, headers, rows in sections:
            if rows:
                writer.writerow([])
                writer.writerow([title])
                writer.writerow(headers)
                writer.writerows(rows)
    parts = [f"<h1>{esc(KINDS.get(result.kind, result.kind))} 평가 보고서</h1>",
             f"<p>데이터: {esc(result.source)} · 모델: {esc(', '.join(result.names))} · "
             f"{esc(result.created)}</p>"]
    for title, headers, rows in sections:
        if rows:
            delta = len(headers) - 1 if headers and headers[-1].startswith("차이") else None
            parts += [f"<h2>{esc(title)}</h2>", table_html(headers, rows, delta)]
    for i in range(len(result.reports)):
        fig = confusion_figure(result, i)
        parts.append(f'<h2>혼동 행렬 · {esc(result.names[i])}</h2><img alt="혼동 행렬" '
                     f'src="data:image/png;base64,{_png(fig)}">')
    style = ("body{font-family:NanumGothic,sans-serif;margin:24px;color:#0f172a}"
             ".ca-metrics{border-collapse:collapse;font-size:13px}"
             ".ca-metrics td,.ca-metrics th{border-bottom:1px solid #e2e8f0;padding:4px 8px}"
             ".better{color:#047857}.worse{color:#b91c1c}img{max-width:100%}")
    html_path.write_text(f'<!doctype html><html lang="ko"><head><meta charset="utf-8">'
                         f"<title>평가 보고서</title><style>{style}</style></head><body>"
                         + "".join(parts) + "</body></html>", "utf-8")
    return csv_path, html_path
