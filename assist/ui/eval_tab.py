"""The evaluator tab: upload labeled data or pick a golden set, score one model or compare two,
see metrics and the confusion matrix, download CSV/HTML reports, read agents' card feedback."""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from assist.config import AssistError
from assist.ui.ctx import Ctx, UiState, fail
from assist.ui.eval_report import confusion_figure, table_html, write_reports
from assist.ui.eval_run import (KINDS, EvalResult, golden_sets, model_versions, run_asr,
                                run_classification, run_retrieval, save_golden)
from assist.ui.labels import VERDICTS
from assist.ui.render import esc, message_html
from assist.ui.uploads import (LABELED_TYPES, QUERY_TYPES, ZIP_TYPES, UploadError, check_upload,
                               safe_extract)

__all__ = ["build_eval_tab", "EvalActions"]

TYPES = {"intent": LABELED_TYPES, "sentiment": LABELED_TYPES, "retrieval": QUERY_TYPES,
         "asr": ZIP_TYPES}
HELP = {
    "intent": "CSV·TSV·JSONL: <b>text</b> 열과 <b>intent</b>(또는 label) 열. 라벨은 의도 코드"
              "(예: billing_inquiry)입니다.",
    "sentiment": "CSV·TSV·JSONL: <b>text</b> 열과 <b>sentiment</b>(또는 label) 열. 라벨은 "
                 "negative·neutral·positive입니다.",
    "retrieval": "TSV·CSV: <b>query</b> 열과 <b>article_ids</b> 열(정답 문서 ID, 여러 개는 | 로 구분).",
    "asr": "ZIP: <b>manifest.tsv</b>(audio·text 열)와 녹음 파일을 함께 묶어 올려 주세요.",
}


FEEDBACK_HEADERS = ["문서 ID", "제목", "노출된 통화", "복사", "👍", "👎", "판정"]


class EvalActions:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def choose(self, state: UiState, kind: str) -> tuple:
        self.ctx.require(state, "eval")
        settings = self.ctx.settings
        golden = golden_sets(settings, kind)
        models = model_versions(settings, kind) if kind in ("intent", "sentiment") else []
        return (f'<div class="ca-hint">{HELP.get(kind, "")}</div>',
                gr.Dropdown(choices=golden, value=None),
                gr.Dropdown(choices=models, value=models[0][1] if models else None,
                            visible=bool(models)),
                gr.Dropdown(choices=models, value=None, visible=bool(models)), None)

    def run(self, state: UiState, kind: str, upload: object, golden: str | None,
            model_a: str | None, model_b: str | None) -> list:
        self.ctx.require(state, "eval")
        nothing = [gr.skip()] * 5
        try:
            path, source = self._source(kind, upload, golden)
            result = self._evaluate(kind, path, source, model_a, model_b)
            files = write_reports(result, self.ctx.settings.data_path / "reports")
        except Exception as exc:
            return [state, fail(exc, "평가하지 못했습니다."), *nothing]
        state.eval_result = (result, path if upload else None, kind)
        done = message_html(f"평가를 마쳤습니다: {KINDS[kind]} · {source}", "ok")
        figure = confusion_figure(result)
        return [state, done, self._summary(result), gr.Plot(value=figure, visible=figure is not None),
                _table(result.detail, result.detail_headers),
                _table(result.errors, result.error_headers),
                gr.File(value=[str(p) for p in files], visible=True)]

    def _source(self, kind: str, upload: object, golden: str | None) -> tuple[Path, str]:
        if upload:
            path = check_upload(upload, TYPES[kind], self.ctx.settings.ui.max_upload_mb)
            if kind == "asr":
                work = self.ctx.settings.data_path / "eval_work" / str(time.time_ns())
                path = safe_extract(path, work, self.ctx.settings.ui.max_upload_mb)
            return path, Path(str(getattr(upload, "name", upload))).name
        if golden:
            allowed = {p for _, p in golden_sets(self.ctx.settings, kind)}
            if golden not in allowed:
                raise UploadError("고른 골든셋을 찾을 수 없습니다. 목록에서 다시 골라 주세요.")
            return Path(golden), f"골든셋 {Path(golden).stem}"
        raise UploadError("평가 파일을 올리거나 골든셋을 골라 주세요.")

    def _evaluate(self, kind: str, path: Path, source: str, model_a: str | None,
                  model_b: str | None) -> EvalResult:
        deps = self.ctx.deps
        if kind in ("intent", "sentiment"):
            allowed = {p for _, p in model_versions(self.ctx.settings, kind)}
            folders = [m for m in (model_a, model_b) if m]
            if not folders or any(f not in allowed for f in folders):
                raise AssistError("평가할 모델을 목록에서 골라 주세요.")
            return run_classification(deps, kind, path, list(dict.fromkeys(folders)), source)
        if kind == "retrieval":
            return run_retrieval(deps, path, source)
        return run_asr(deps, path, source)

    @staticmethod
    def _summary(result: EvalResult) -> str:
        delta = len(result.summary_headers) - 1 if len(result.names) > 1 else None
        title = f"{KINDS.get(result.kind, result.kind)} · {result.source}"
        note = ""
        if result.reports and result.reports[0].unknown_labels:
            unknown = ", ".join(f"{label} ({n})" for label, n in result.reports[0].unknown_labels)
            note = message_html(f"모델이 모르는 라벨은 오답으로 셌습니다: {unknown}", "warn")
        return (f'<div class="ca-section">{esc(title)}</div>'
                + table_html(result.summary_headers, result.summary, delta) + note)

    def save(self, state: UiState, name: str) -> tuple:
        self.ctx.require(state, "eval")
        if not state.eval_result or state.eval_result[1] is None:
            return message_html("먼저 파일을 올려 평가를 실행해 주세요.", "warn"), gr.skip()
        _result, path, kind = state.eval_result
        try:
            saved = save_golden(self.ctx.settings, kind, name, Path(path))
        except Exception as exc:
            return fail(exc, "골든셋을 저장하지 못했습니다."), gr.skip()
        return (message_html(f"‘{saved.stem}’ 골든셋으로 저장했습니다.", "ok"),
                gr.Dropdown(choices=golden_sets(self.ctx.settings, kind)))

    def feedback(self, state: UiState):
        self.ctx.require(state, "eval")
        store = self.ctx.deps.store
        rows = []
        for item in self.ctx.deps.call_log.feedback_report():
            article = store.get(item.article_id)
            rows.append([item.article_id, article.title if article else "(없는 문서)", item.shown,
                         item.used, item.up, item.down, VERDICTS.get(item.verdict, item.verdict)])
        if not rows:
            return gr.Dataframe(visible=False), message_html("아직 카드 피드백이 없습니다.", "info")
        return (gr.Dataframe(value=rows, headers=FEEDBACK_HEADERS, visible=True),
                message_html(f"문서 {len(rows)}개의 피드백입니다.", "ok"))


def _table(rows: list[list], headers: list[str]) -> gr.Dataframe:
    if not rows:
        return gr.Dataframe(value=None, visible=False)
    rest = f"{50 / max(1, len(headers) - 1):.0f}%"
    return gr.Dataframe(value=rows, headers=headers, visible=True,
                        column_widths=["50%", *[rest] * (len(headers) - 1)])


def _inputs(ctx: Ctx) -> dict:
    c: dict = {}
    c["kind"] = gr.Radio([(name, code) for code, name in KINDS.items()], value="intent",
                         label="평가 종류", elem_id="eval-kind")
    c["help"] = gr.HTML(f'<div class="ca-hint">{HELP["intent"]}</div>', elem_id="eval-help")
    c["upload"] = gr.File(label="평가 파일", type="filepath", elem_id="eval-upload", height=120)
    c["golden"] = gr.Dropdown(golden_sets(ctx.settings, "intent"), value=None,
                              label="또는 골든셋", elem_id="eval-golden")
    models = model_versions(ctx.settings, "intent")
    c["model_a"] = gr.Dropdown(models, value=models[0][1] if models else None, label="모델 A",
                               elem_id="eval-model-a")
    c["model_b"] = gr.Dropdown(models, value=None, label="모델 B (비교할 때만)",
                               elem_id="eval-model-b")
    c["run"] = gr.Button("평가 실행", variant="primary", elem_id="eval-run")
    c["msg"] = gr.HTML(elem_id="eval-msg")
    with gr.Accordion("골든셋으로 저장", open=False, elem_id="eval-golden-box"):
        c["name"] = gr.Textbox(label="골든셋 이름", placeholder="예: 3월 상담 샘플", max_lines=1,
                               elem_id="eval-golden-name")
        c["save"] = gr.Button("방금 평가한 파일 저장", elem_id="eval-golden-save")
        c["save_msg"] = gr.HTML(elem_id="eval-golden-msg")
    return c


def _outputs() -> dict:
    c: dict = {}
    c["summary"] = gr.HTML('<div class="ca-hint">평가를 실행하면 결과가 여기에 나옵니다.</div>',
                           elem_id="eval-summary")
    c["plot"] = gr.Plot(label="혼동 행렬", elem_id="eval-plot", visible=False)
    c["files"] = gr.File(label="보고서 내려받기 (CSV · HTML)", file_count="multiple",
                         interactive=False, elem_id="eval-files", height=120, visible=False)
    c["detail"] = gr.Dataframe(label="세부 점수", interactive=False, elem_id="eval-detail",
                               max_height=320, wrap=True, visible=False)
    c["errors"] = gr.Dataframe(label="틀린 예 (최대 200개)", interactive=False,
                               elem_id="eval-errors", max_height=320, wrap=True, visible=False)
    return c


def build_eval_tab(ctx: Ctx) -> gr.Tab:
    actions = EvalActions(ctx)
    state = ctx.state
    with gr.Tab("모델 평가", id="eval", visible=False) as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                ins = _inputs(ctx)
            with gr.Column(scale=3, min_width=340):
                outs = _outputs()
        with gr.Accordion("상담 카드 피드백 보고서", open=False, elem_id="eval-feedback"):
            fb_go = gr.Button("피드백 보고서 보기", elem_id="eval-feedback-go")
            fb_msg = gr.HTML()
            fb_table = gr.Dataframe(headers=FEEDBACK_HEADERS, interactive=False, visible=False,
                                    elem_id="eval-feedback-table")
    ins["kind"].change(actions.choose, [state, ins["kind"]],
                       [ins["help"], ins["golden"], ins["model_a"], ins["model_b"], ins["upload"]],
                       api_visibility="private")
    ins["run"].click(actions.run, [state, ins["kind"], ins["upload"], ins["golden"],
                                   ins["model_a"], ins["model_b"]],
                     [state, ins["msg"], outs["summary"], outs["plot"], outs["detail"],
                      outs["errors"], outs["files"]], api_name="eval_run")
    ins["save"].click(actions.save, [state, ins["name"]], [ins["save_msg"], ins["golden"]],
                      api_name="eval_save_golden")
    fb_go.click(actions.feedback, [state], [fb_table, fb_msg], api_name="feedback_report")
    return tab
