"""Evaluations the evaluator tab runs: intent/sentiment (one model or two compared),
retrieval, recognition; and the named golden sets they can be run on again.

Scoring is ``assist.evaluate`` (the same numbers ``assist eval`` prints); this module reads
the uploaded file, predicts with the chosen model folders and lays results out in Korean.
"""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from assist.config import AssistError, Settings
from assist.ui.deps import AppDeps
from assist.ui.labels import intent_name

__all__ = ["KINDS", "EvalResult", "model_versions", "run_classification", "run_retrieval",
           "run_asr", "golden_sets", "save_golden", "MAX_ROWS", "MAX_ASR_FILES"]

KINDS = {"intent": "의도 분류", "sentiment": "감정 분류", "retrieval": "지식 검색", "asr": "음성 인식"}
METHOD_NAMES = {"dense": "의미 검색", "bm25": "키워드 검색", "hybrid": "혼합 검색"}
SENTIMENT_NAMES = {"negative": "부정", "neutral": "중립", "positive": "긍정"}
MAX_ROWS = 5000
MAX_ASR_FILES = 50
MAX_ERRORS = 200
_NAME = re.compile(r"[0-9A-Za-z가-힣_\- ]{1,40}")


@dataclass
class EvalResult:
    kind: str
    source: str
    names: tuple[str, ...]
    summary: list[list]  # [metric, value per model..., delta]
    summary_headers: list[str]
    detail: list[list] = field(default_factory=list)
    detail_headers: list[str] = field(default_factory=list)
    errors: list[list] = field(default_factory=list)
    error_headers: list[str] = field(default_factory=list)
    reports: tuple = ()  # ClassificationReport per model, for the confusion plot
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))


def label_name(task: str, code: str) -> str:
    return SENTIMENT_NAMES.get(code, code) if task == "sentiment" else intent_name(code)


# -- model folders ---------------------------------------------------------------------------
def model_versions(settings: Settings, task: str) -> list[tuple[str, str]]:
    """(label, folder) of every model folder for ``task``: the default first."""
    import json

    from assist.nlu.model import BUNDLED_DIR, CARD_FILE, default_model_dirs

    default = default_model_dirs(settings)[0 if task == "intent" else 1]
    cards = [default / CARD_FILE, *sorted(BUNDLED_DIR.glob(f"*/{CARD_FILE}")),
             *sorted((settings.models_path / "nlu").glob(f"**/{CARD_FILE}"))]
    out, seen = [], set()
    for card_path in cards:
        folder = card_path.parent.resolve()
        if folder in seen or not card_path.is_file():
            continue
        seen.add(folder)
        try:
            card = json.loads(card_path.read_text("utf-8"))
        except ValueError:
            continue
        if card.get("task", folder.name) != task:
            continue
        tag = " (기본)" if folder == default.resolve() else ""
        out.append((f"{card.get('name', folder.name)} · {card.get('created', '')[:10]}{tag}",
                    str(folder)))
    return out


# -- intent and sentiment --------------------------------------------------------------------
def read_labeled_file(path: Path, task: str):
    from assist.nlu.data import INTENT_CODES, SENTIMENT_CODES, read_labeled

    codes = INTENT_CODES if task == "intent" else SENTIMENT_CODES
    try:
        data = read_labeled(path, "text", [task, "label"], allowed=codes)
    except AssistError as exc:
        raise AssistError(f"평가 파일을 읽지 못했습니다. text 열과 {task}(또는 label) 열이 있는 "
                          f"CSV·TSV·JSONL이어야 합니다. (자세히: {exc})") from exc
    if len(data) > MAX_ROWS:
        raise AssistError(f"평가 문장이 {len(data)}개로 너무 많습니다. {MAX_ROWS}개 이하로 나눠 주세요.")
    return data


def _predict(deps: AppDeps, folder: Path, task: str, texts: list[str]):
    from assist.nlu.model import check_probe, clean_text, encoder_for, load_task

    settings = deps.settings
    model = load_task(folder, settings.nlu.unsure_threshold if task == "intent" else None)
    encoder = encoder_for(settings, model, folder, deps.nlu.encoder)
    try:
        check_probe(model, encoder)
    except AssistError as exc:
        raise AssistError(f"{model.name} 모델은 지금 인코더와 맞지 않아 평가할 수 없습니다. ({exc})") from exc
    cleaned = [clean_text(t, settings.nlu.max_chars)[0] or "." for t in texts]
    decisions, _, scope = model.decide_many(encoder.encode_queries(cleaned), cleaned)
    return model, decisions, scope


def run_classification(deps: AppDeps, task: str, path: Path, folders: list[str],
                       source: str) -> EvalResult:
    from assist.evaluate.classification import score_decisions

    data = read_labeled_file(path, task)
    gold, texts = list(data.labels), list(data.texts)
    names, reports, finals, confidences = [], [], [], []
    for folder in folders[:2]:
        model, decisions, scope = _predict(deps, Path(folder), task, texts)
        report, final = score_decisions(model, decisions, gold, scope)
        names.append(model.name)
        reports.append(report)
        finals.append(final)
        confidences.append([top[0][1] for _, _, top, _ in decisions])
    metrics = (("정확도", "accuracy"), ("macro-F1", "macro_f1"), ("상위 3개 정확도", "top3_accuracy"),
               ("보정 오차 (ECE)", "ece"), ("판단 보류 비율", "unsure_rate"),
               ("확신할 때 정확도", "accuracy_when_sure"))
    summary = [[name, *[getattr(r, key) for r in reports]] for name, key in metrics]
    summary.append(["평가 문장 수", *[r.n for r in reports]])
    result = EvalResult(task, source, tuple(names), summary, ["지표", *names], reports=tuple(reports))
    _add_delta(result)
    result.detail_headers = ["라벨", "정밀도", "재현율", "F1", "건수"] + (
        [f"F1 ({names[1]})", "F1 차이"] if len(reports) > 1 else [])
    other = {c.label: c for c in reports[1].per_class} if len(reports) > 1 else {}
    for c in reports[0].per_class:
        row = [label_name(task, c.label), c.precision, c.recall, c.f1, c.support]
        if other:
            f1_b = other[c.label].f1 if c.label in other else 0.0
            row += [f1_b, round(f1_b - c.f1, 4)]
        result.detail.append(row)
    result.error_headers = ["문장", "정답", f"예측 ({names[0]})", "신뢰도"]
    result.errors = [[t, label_name(task, g), label_name(task, p), round(c, 3)]
                     for t, g, p, c in zip(texts, gold, finals[0], confidences[0]) if g != p][:MAX_ERRORS]
    return result


def _add_delta(result: EvalResult) -> None:
    if len(result.names) < 2:
        return
    result.summary_headers.append("차이 (B − A)")
    for row in result.summary:
        a, b = row[1], row[2]
        row.append(round(b - a, 4) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else "")


# -- retrieval and recognition ---------------------------------------------------------------
def run_retrieval(deps: AppDeps, path: Path, source: str) -> EvalResult:
    from assist.evaluate.retrieval import read_queries, score_retrieval
    from assist.retrieve.search import METHODS

    try:
        queries = read_queries([path])
    except AssistError as exc:
        raise AssistError("질문 파일을 읽지 못했습니다. query 열과 article_ids 열(여러 개는 |로 "
                          f"구분)이 있는 TSV·CSV여야 합니다. (자세히: {exc})") from exc
    if len(queries) > MAX_ROWS:
        raise AssistError(f"질문이 {len(queries)}개로 너무 많습니다. {MAX_ROWS}개 이하로 나눠 주세요.")
    searcher = deps.searcher
    searcher.prime([q.query for q in queries])
    report = score_retrieval(queries, METHODS, lambda q, m: [
        h.article_id for h in searcher.search(q, k=10, method=m)])
    names = tuple(METHOD_NAMES.get(m, m) for m, _ in report.scores)
    rows = [[label, *[getattr(s, key) for _, s in report.scores]] for label, key in (
        ("recall@1", "recall_at_1"), ("recall@3", "recall_at_3"), ("recall@5", "recall_at_5"),
        ("MRR", "mrr"))] + [["질문 수", *[report.n] * len(report.scores)]]
    errors = [[METHOD_NAMES.get(m, m), q, " | ".join(want), " | ".join(got)]
              for m, q, want, got in report.misses][:MAX_ERRORS]
    return EvalResult("retrieval", source, names, rows, ["지표", *names], errors=errors,
                      error_headers=["검색 방식", "질문", "정답 문서", "상위 3개"])


def run_asr(deps: AppDeps, folder: Path, source: str) -> EvalResult:
    from assist.asr import transcribe_stream
    from assist.audio import stream_file
    from assist.evaluate.asr import read_manifest, score_asr

    manifests = sorted(folder.glob("**/manifest.tsv")) + sorted(folder.glob("**/manifest.csv"))
    if not manifests:
        raise AssistError("압축 파일에 manifest.tsv(또는 manifest.csv)가 없습니다. audio 열과 "
                          "text 열이 있는 목록과 녹음 파일을 함께 묶어 주세요.")
    try:
        rows = read_manifest(manifests[0])
    except AssistError as exc:
        raise AssistError(f"녹음 목록을 읽지 못했습니다. (자세히: {exc})") from exc
    if len(rows) > MAX_ASR_FILES:
        raise AssistError(f"녹음이 {len(rows)}개로 너무 많습니다. {MAX_ASR_FILES}개 이하로 나눠 주세요.")
    engines = deps.engines()
    settings = deps.settings
    report = score_asr(rows, engines.mode, lambda p: transcribe_stream(
        f"eval-{p.stem}", stream_file(p, settings.audio), engines))
    summary = [["CER (글자 오류율)", report.cer], ["WER (어절 오류율)", report.wer],
               ["실시간 배수 (RTF)", report.rtf], ["녹음 수", len(report.files)]]
    detail = [[f.audio, f.reference, f.hypothesis, round(f.cer, 4), round(f.wer, 4),
               round(f.duration_s, 1)] for f in report.files]
    return EvalResult("asr", source, (engines.mode,), summary, ["지표", engines.mode], detail,
                      ["파일", "정답", "인식 결과", "CER", "WER", "길이 (초)"])


# -- golden sets -----------------------------------------------------------------------------
def _builtin_roots(settings: Settings) -> list[Path]:
    here = Path(__file__).resolve().parents[2] / "data"
    return list(dict.fromkeys(p for p in (settings.root / "data", here) if p.is_dir()))


def golden_sets(settings: Settings, kind: str) -> list[tuple[str, str]]:
    """(label, path) of the saved golden sets of ``kind``, then the project's dev sets."""
    out = []
    saved = settings.data_path / "golden" / kind
    if saved.is_dir():
        out += [(f"{p.stem if p.is_file() else p.name}", str(p)) for p in sorted(saved.iterdir())
                if not p.name.startswith(".")]
    for root in _builtin_roots(settings):
        pattern = {"intent": "nlu/dev_g*.jsonl", "sentiment": "nlu/dev_g*.jsonl",
                   "retrieval": "retrieval/*.tsv"}.get(kind)
        if pattern:
            out += [(f"기본 · {p.stem}", str(p)) for p in sorted(root.glob(pattern))]
    return list(dict.fromkeys(out))


def save_golden(settings: Settings, kind: str, name: str, source: Path) -> Path:
    """Keep an uploaded evaluation file (or unpacked ASR folder) under a name."""
    name = " ".join((name or "").split())
    if not _NAME.fullmatch(name):
        raise AssistError("골든셋 이름은 한글·영문·숫자·'-'·'_'·공백으로 1~40자여야 합니다.")
    folder = settings.data_path / "golden" / kind
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name.replace(" ", "_") + ("" if source.is_dir() else source.suffix.lower()))
    if target.exists() or any(p.stem == target.stem for p in folder.iterdir()):
        raise AssistError(f"‘{name}’ 골든셋이 이미 있습니다. 다른 이름을 써 주세요.")
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target
