"""The KB editor's form: fields <-> Article, Korean validation per field, preview and diff HTML.

The rules are the store's (``assist.kb.article.field_problems``); this module only says them
in Korean next to the field they concern, and escapes every piece of article text it shows.
"""
from __future__ import annotations

import re

from assist.guide.events import Answer
from assist.kb import Article
from assist.kb.article import MAX_ANSWER_CHARS, MAX_TITLE_CHARS, field_problems
from assist.kb.store import KbConflict, KbDeleted, KbError, KbExists, KbNotFound
from assist.ui.labels import intent_name, josa
from assist.ui.render import card_html, esc

__all__ = ["FIELD_NAMES", "ACTIONS", "article_from_form", "form_values", "korean_problems",
           "problems_html", "preview_html", "diff_html", "kb_error_text"]

FIELD_NAMES = {"id": "문서 ID", "title": "제목", "intents": "의도", "tags": "태그", "answer": "답변",
               "steps": "확인 및 절차", "related": "관련 문서", "questions": "예상 질문"}
ACTIONS = {"create": "새로 만듦", "edit": "수정", "delete": "삭제", "restore": "복원",
           "revert": "되돌림", "import": "가져오기"}
_SPLIT = re.compile(r"[,\n]")


def _items(text: str | None, pattern: re.Pattern = _SPLIT) -> tuple[str, ...]:
    return tuple(part.strip() for part in pattern.split(text or "") if part.strip())


def article_from_form(article_id: str, title: str, intents: list[str] | None, tags: str,
                      answer: str, steps: str, related: str, questions: str = "") -> Article:
    """Form text as an Article (lists split on commas; steps and questions one per line)."""
    lines = re.compile(r"\n")
    return Article(id=(article_id or "").strip(), title=(title or "").strip(),
                   intents=tuple(intents or ()), tags=_items(tags), answer=(answer or "").strip(),
                   steps=_items(steps, lines), related=_items(related),
                   questions=_items(questions, lines))


def form_values(article: Article) -> tuple:
    """(id, title, intents, tags, answer, steps, related, questions) for the form fields."""
    return (article.id, article.title, list(article.intents), ", ".join(article.tags),
            article.answer, "\n".join(article.steps), ", ".join(article.related),
            "\n".join(article.questions))


_RULES = (
    (r"^id .* must be", lambda m, f: "문서 ID는 영문 소문자·숫자·'_'·'-'·'.'로 1~80자이고, 영문자나 "
                                      "숫자로 시작해야 합니다."),
    (r"^body has (\d+) characters, the limit is (\d+)",
     lambda m, f: f"답변과 절차를 합쳐 {m[1]}자입니다. {m[2]}자 이하로 줄여 주세요."),
    (r"is empty: name at least one", lambda m, f: "의도를 하나 이상 골라 주세요."),
    (r"^\w+ is empty$", lambda m, f: f"{josa(FIELD_NAMES[f], '을', '를')} 입력해 주세요."),
    (r"^question .* has (\d+) characters, the limit is (\d+)",
     lambda m, f: f"예상 질문 하나가 {m[1]}자입니다. {m[2]}자 이하로 줄여 주세요."),
    (r"has (\d+) characters, the limit is (\d+)",
     lambda m, f: f"{josa(FIELD_NAMES[f], '이', '가')} {m[1]}자입니다. {m[2]}자 이하로 "
                  "줄여 주세요."),
    (r"must be one line", lambda m, f: "제목은 한 줄로 써 주세요."),
    (r"same question twice", lambda m, f: "같은 예상 질문이 두 번 있습니다."),
    (r"a question has a line break", lambda m, f: "예상 질문은 한 줄에 하나씩 써 주세요."),
    (r"line starting with '## '", lambda m, f: f"{FIELD_NAMES[f]}에 '## '로 시작하는 줄이 있습니다. "
                                                "이 줄은 섹션 제목으로 읽히니 고쳐 주세요."),
    (r"has (\d+) items, the limit is (\d+)",
     lambda m, f: f"{FIELD_NAMES[f]} 항목이 {m[1]}개입니다. {m[2]}개 이하로 줄여 주세요."),
    (r"empty or non-text item", lambda m, f: f"{FIELD_NAMES[f]}에 빈 항목이 있습니다."),
    (r"unknown intent code\(s\) (.*);", lambda m, f: f"알 수 없는 의도 코드입니다: {m[1]}."),
    (r"^tag .* longer than (\d+)", lambda m, f: f"태그는 {m[1]}자 이하로 써 주세요."),
    (r"a step is longer than (\d+)", lambda m, f: f"절차 한 줄은 {m[1]}자 이하로 써 주세요."),
    (r"related id\(s\) (.*) are not valid", lambda m, f: f"관련 문서 ID가 올바르지 않습니다: {m[1]}."),
    (r"cannot be related to itself", lambda m, f: "자기 자신을 관련 문서로 지정할 수 없습니다."),
)


def korean_problems(article: Article) -> list[tuple[str, str]]:
    """(field, Korean sentence) for every problem the store would refuse the article for."""
    out = []
    for field, message in field_problems(article):
        for pattern, say in _RULES:
            match = re.search(pattern, message)
            if match:
                out.append((field, say(match, field)))
                break
        else:
            name = FIELD_NAMES.get(field, field)
            out.append((field, f"{josa(name, '을', '를')} 확인해 주세요 ({message})."))
    return out


def problems_html(problems: list[tuple[str, str]]) -> str:
    if not problems:
        return '<div class="ca-msg ok">입력 내용에 문제가 없습니다.</div>'
    items = "".join(f"<li><b>{esc(FIELD_NAMES.get(f, f))}</b>: {esc(m)}</li>" for f, m in problems)
    return f'<div class="ca-msg error" role="alert">저장하기 전에 고쳐 주세요.<ul>{items}</ul></div>'


def preview_html(article: Article) -> str:
    """How the article's card looks in the agent panel, plus its steps and tags."""
    if not (article.title or article.answer):
        return '<div class="ca-hint">제목과 답변을 쓰면 상담 화면에 보일 카드를 미리 볼 수 있습니다.</div>'
    card = card_html(Answer(article.id, article.version, article.title, article.answer,
                            "미리 보기", 0.0), 0)
    steps = "".join(f"<li>{esc(step)}</li>" for step in article.steps)
    intents = " · ".join(intent_name(code) for code in article.intents)
    meta = (f'<div class="ca-id">의도: {esc(intents) or "—"} · 태그: '
            f'{esc(", ".join(article.tags)) or "—"} · 예상 질문 {len(article.questions)}개</div>')
    count = (f'<div class="ca-id">제목 {len(article.title)}/{MAX_TITLE_CHARS}자 · 답변 '
             f'{len(article.answer)}/{MAX_ANSWER_CHARS}자</div>')
    steps_html = f'<ol class="ca-hint">{steps}</ol>' if steps else ""
    return f'<div class="ca-preview ca-card">{card}{meta}{steps_html}{count}</div>'


def diff_html(diff: str) -> str:
    """A unified diff, colored by line; in a changed line the changed words are marked, so a
    one-word edit in a long answer is found at a glance."""
    if not diff:
        return '<div class="ca-msg info">두 버전의 내용이 같습니다.</div>'
    lines = diff.splitlines()
    marked = _changed_parts(lines)
    out = []
    for index, line in enumerate(lines):
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "ctx")
        out.append(f'<span class="{cls}">{marked.get(index) or esc(line)}</span>')
    return '<div class="ca-diff">' + "".join(out) + "</div>"


def _changed_parts(lines: list[str]) -> dict[int, str]:
    """Line index -> escaped HTML with <mark> around what changed, for each run of removed
    lines directly followed by as many added lines (the same lines, edited)."""
    import difflib

    out: dict[int, str] = {}
    index = 0
    while index < len(lines):
        if not lines[index].startswith("-") or lines[index].startswith("---"):
            index += 1
            continue
        removed = index
        while index < len(lines) and lines[index].startswith("-") and not lines[index].startswith("---"):
            index += 1
        added = index
        while index < len(lines) and lines[index].startswith("+") and not lines[index].startswith("+++"):
            index += 1
        if index - added != added - removed:
            continue
        for old_i, new_i in zip(range(removed, added), range(added, index)):
            old, new = lines[old_i][1:], lines[new_i][1:]
            matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
            if matcher.ratio() < 0.5:
                continue
            old_html, new_html = ["-"], ["+"]
            for op, a1, a2, b1, b2 in matcher.get_opcodes():
                if op == "equal":
                    old_html.append(esc(old[a1:a2]))
                    new_html.append(esc(new[b1:b2]))
                    continue
                if a2 > a1:
                    old_html.append(f"<mark>{esc(old[a1:a2])}</mark>")
                if b2 > b1:
                    new_html.append(f"<mark>{esc(new[b1:b2])}</mark>")
            out[old_i], out[new_i] = "".join(old_html), "".join(new_html)
    return out


def kb_error_text(exc: Exception) -> str:
    """A store error as one Korean sentence."""
    if isinstance(exc, KbConflict):
        return (f"다른 사용자가 이 문서를 먼저 고쳐 지금은 버전 {exc.current_version}입니다. "
                "최신 버전을 다시 불러온 뒤 변경 내용을 다시 적용해 주세요.")
    if isinstance(exc, KbExists):
        return "이미 쓰이고 있는 문서 ID입니다. 다른 ID를 쓰거나, 삭제된 문서라면 복원해 주세요."
    if isinstance(exc, KbDeleted):
        return "삭제된 문서입니다. 먼저 복원해 주세요."
    if isinstance(exc, KbNotFound):
        return "문서를 찾을 수 없습니다. 목록을 다시 검색해 주세요."
    if isinstance(exc, KbError):
        return f"지식 베이스에 저장하지 못했습니다: {exc}"
    return f"처리하지 못했습니다 ({type(exc).__name__})."
