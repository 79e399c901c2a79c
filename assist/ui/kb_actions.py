"""KB editor handlers; every one needs the "kb" permission, checked on the server.

Saves go through the store (validation, versions, conflicts) and then refresh the shared
searcher, so the agent tab finds the new text on its very next search.
"""
from __future__ import annotations

import time

import gradio as gr

from assist.kb import Article, KbImportError, export_articles, import_path
from assist.ui.ctx import Ctx, UiState
from assist.ui.kb_forms import (ACTIONS, article_from_form, diff_html, form_values, kb_error_text,
                                korean_problems, preview_html, problems_html)
from assist.ui.render import esc, message_html
from assist.ui.uploads import KB_TYPES, UploadError, check_upload

__all__ = ["KbActions", "FORM_SIZE", "FILL_SIZE", "TAIL"]

MAX_RESULTS = 200
FORM_SIZE = 8  # id, title, intents, tags, answer, steps, related, questions
FILL_SIZE = FORM_SIZE + 7  # + preview, problems, history, 2 versions, delete, restore
TAIL = 5  # history, 2 version pickers, delete, restore


class KbActions:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    @property
    def store(self):
        return self.ctx.deps.store

    # -- finding ---------------------------------------------------------------------------
    def search(self, state: UiState, query: str) -> tuple:
        self.ctx.require(state, "kb")
        query = " ".join((query or "").split()).lower()
        articles = self.store.articles(include_deleted=True)
        if query:
            found = [a for a in articles if query in " ".join(
                (a.id, a.title, " ".join(a.tags), a.answer, *a.questions)).lower()]
            if not found:
                ids = [h.article_id for h in self.ctx.deps.searcher.search(query, k=10)]
                found = [a for i in ids for a in articles if a.id == i]
        else:
            found = articles
        choices = [(f"{a.title} · {a.id}" + (" (삭제됨)" if a.deleted else ""), a.id)
                   for a in found[:MAX_RESULTS]]
        note = (f"{len(found)}개 문서" + (f" 중 {MAX_RESULTS}개를 보여 드립니다" if len(found) > MAX_RESULTS else "")
                if found else "맞는 문서가 없습니다. 검색어를 바꿔 보세요.")
        return gr.Radio(choices=choices, value=None), message_html(note, "info" if found else "warn")

    def load(self, state: UiState, article_id: str | None) -> list:
        self.ctx.require(state, "kb")
        article = self.store.get(article_id or "")
        if article is None:
            return [state, *[gr.skip()] * FILL_SIZE, message_html("문서를 골라 주세요.", "warn")]
        state.kb_id, state.kb_version = article.id, article.version
        note = " 삭제된 문서라서 복원해야 고칠 수 있습니다." if article.deleted else ""
        return [state, *self._fill(article),
                message_html(f"문서를 불러왔습니다 (버전 {article.version}).{note}", "info")]

    def _fill(self, article: Article) -> list:
        """Form fields, id lock, preview, problems, history, version choices, delete/restore."""
        versions = [v.version for v in self.store.history(article.id)]
        return [gr.Textbox(value=article.id, interactive=False), *form_values(article)[1:],
                preview_html(article), "", self._history(article.id),
                gr.Dropdown(choices=versions, value=versions[-2] if len(versions) > 1 else versions[-1]),
                gr.Dropdown(choices=versions, value=versions[-1]),
                gr.Button(visible=not article.deleted), gr.Button(visible=article.deleted)]

    def _history(self, article_id: str) -> list[list]:
        return [[v.version, ACTIONS.get(v.action, v.action), v.author, v.at[5:16].replace("T", " "),
                 v.note] for v in reversed(self.store.history(article_id))]

    def new(self, state: UiState) -> list:
        self.ctx.require(state, "kb")
        state.kb_id, state.kb_version = "", 0
        empty = Article("", "", (), (), "")
        return [state, gr.Textbox(value="", interactive=True), *form_values(empty)[1:],
                preview_html(empty), "", [], gr.Dropdown(choices=[], value=None),
                gr.Dropdown(choices=[], value=None), gr.Button(visible=True),
                gr.Button(visible=False), message_html("새 문서를 씁니다. 문서 ID는 저장한 뒤 바꿀 수 없습니다.", "info")]

    # -- editing ---------------------------------------------------------------------------
    def check(self, state: UiState, *fields) -> tuple[str, str]:
        """Live validation and preview while typing."""
        self.ctx.require(state, "kb")
        article = article_from_form(*fields)
        if not any(fields):
            return preview_html(article), ""
        return preview_html(article), problems_html(korean_problems(article))

    def save(self, state: UiState, article_id: str, title: str, intents: list[str] | None,
             tags: str, answer: str, steps: str, related: str, note: str,
             questions: str | None = None) -> list:
        """The form fields, the change note, then the questions (last, so API callers that
        predate them still line up; when they leave them out, an edit keeps the stored ones)."""
        login = self.ctx.require(state, "kb")
        if questions is None:
            kept = self.store.get((article_id or "").strip()) if state.kb_id else None
            questions = "\n".join(kept.questions) if kept is not None and kept.id == state.kb_id else ""
        article = article_from_form(article_id, title, intents, tags, answer, steps, related,
                                    questions)
        problems = korean_problems(article)
        if problems:
            return [state, gr.skip(), problems_html(problems), *[gr.skip()] * TAIL,
                    message_html("저장하지 못했습니다. 표시된 항목을 고쳐 주세요.", "error")]
        try:
            if state.kb_id == article.id and state.kb_version:
                saved = self.store.edit(article, state.kb_version, author=login.name,
                                        note=(note or "").strip())
            else:
                saved = self.store.add(article, author=login.name, note=(note or "").strip())
            self.ctx.deps.searcher.refresh()
        except Exception as exc:
            return [state, gr.skip(), "", *[gr.skip()] * TAIL,
                    message_html(kb_error_text(exc), "error")]
        state.kb_id, state.kb_version = saved.id, saved.version
        fill = self._fill(saved)
        return [state, fill[0], problems_html([]), *fill[-TAIL:], message_html(
            f"저장했습니다 (버전 {saved.version}). 상담 화면의 검색과 추천에 바로 반영됩니다.", "ok")]

    def delete(self, state: UiState, restore: bool = False) -> list:
        login = self.ctx.require(state, "kb")
        if not state.kb_id:
            return [state, *[gr.skip()] * TAIL, message_html("먼저 문서를 불러와 주세요.", "warn")]
        try:
            if restore:
                article = self.store.restore(state.kb_id, author=login.name)
            else:
                article = self.store.delete(state.kb_id, author=login.name,
                                            base_version=state.kb_version)
            self.ctx.deps.searcher.refresh()
        except Exception as exc:
            return [state, *[gr.skip()] * TAIL, message_html(kb_error_text(exc), "error")]
        state.kb_version = article.version
        done = "복원했습니다" if restore else "삭제했습니다. 기록은 남아 있어 언제든 복원할 수 있습니다"
        return [state, *self._fill(article)[-TAIL:], message_html(f"문서를 {done}.", "ok")]

    # -- history ---------------------------------------------------------------------------
    def diff(self, state: UiState, from_version: int | None, to_version: int | None) -> str:
        self.ctx.require(state, "kb")
        if not state.kb_id or not from_version or not to_version:
            return message_html("비교할 두 버전을 골라 주세요.", "warn")
        try:
            return diff_html(self.store.diff(state.kb_id, int(from_version), int(to_version)))
        except Exception as exc:
            return message_html(kb_error_text(exc), "error")

    def revert(self, state: UiState, to_version: int | None) -> list:
        login = self.ctx.require(state, "kb")
        if not state.kb_id or not to_version:
            return [state, *[gr.skip()] * FILL_SIZE, message_html("되돌릴 버전을 골라 주세요.", "warn")]
        try:
            article = self.store.revert(state.kb_id, int(to_version), author=login.name)
            self.ctx.deps.searcher.refresh()
        except Exception as exc:
            return [state, *[gr.skip()] * FILL_SIZE, message_html(kb_error_text(exc), "error")]
        state.kb_version = article.version
        return [state, *self._fill(article), message_html(
            f"버전 {to_version}의 내용으로 되돌렸습니다 (새 버전 {article.version}).", "ok")]

    # -- import and export -----------------------------------------------------------------
    def import_file(self, state: UiState, upload: object) -> str:
        login = self.ctx.require(state, "kb")
        try:
            path = check_upload(upload, KB_TYPES, self.ctx.settings.ui.max_upload_mb)
            _batch, result = import_path(self.store, path, author=login.name,
                                         note=f"웹에서 가져오기 ({login.name})")
            self.ctx.deps.searcher.refresh()
        except UploadError as exc:
            return message_html(str(exc), "error")
        except KbImportError as exc:
            items = "".join(f"<li>{esc(p.split(': ', 1)[-1])}</li>" for p in exc.problems[:10])
            return (f'<div class="ca-msg error" role="alert">가져오지 않았습니다. 파일에 문제가 '
                    f'{len(exc.problems)}건 있습니다 (하나라도 있으면 아무것도 저장하지 않습니다).'
                    f"<ul>{items}</ul></div>")
        except Exception as exc:
            return message_html(kb_error_text(exc), "error")
        return message_html(f"가져왔습니다: 새 문서 {len(result.created)}개, 수정 {len(result.updated)}개, "
                            f"복원 {len(result.restored)}개, 변경 없음 {len(result.unchanged)}개.", "ok")

    def export(self, state: UiState, fmt: str) -> tuple:
        self.ctx.require(state, "kb")
        fmt = fmt if fmt in ("jsonl", "csv") else "jsonl"
        out = self.ctx.settings.data_path / "exports" / f"kb-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}"
        written = export_articles(self.store.articles(), out, fmt)
        return str(written[0]), message_html(f"문서 {len(self.store.articles())}개를 내보냈습니다.", "ok")
