"""One KB article: what an agent says (``answer``) and what to check or do (``steps``).

Text is kept exactly as written (no trimming, no HTML escaping): escaping belongs to the
HTML renderer, and an editor must get back what they typed. Validation happens at the edges
(add, edit, import) and names every problem, so an editor fixes a file in one pass.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import yaml

from assist.config import AssistError
from assist.kb.taxonomy import INTENTS

__all__ = [
    "Article", "ArticleError", "ID_PATTERN", "MAX_TITLE_CHARS", "MAX_ANSWER_CHARS",
    "MAX_BODY_CHARS", "MAX_QUESTION_CHARS", "MAX_QUESTIONS", "CONTENT_FIELDS", "validate",
    "field_problems", "check", "render_markdown",
]

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,79}")
MAX_TITLE_CHARS = 120
MAX_ANSWER_CHARS = 2000
MAX_BODY_CHARS = 20000  # answer + all steps
MAX_STEP_CHARS = 2000
MAX_LIST_ITEMS = 50
MAX_TAG_CHARS = 60
MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 150
CONTENT_FIELDS = ("id", "title", "intents", "tags", "answer", "steps", "related", "questions")
ANSWER_HEADING = "## 답변"
STEPS_HEADING = "## 확인 및 절차"


class ArticleError(AssistError):
    """An article (or a batch of them) failed validation; ``problems`` lists every reason."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


@dataclass(frozen=True, slots=True)
class Article:
    """Content fields are edited by people; version..deleted are set by the store.

    ``questions`` are example caller questions (how a customer might ask for this article); they
    are searched like queries, never shown to the customer. Optional: older versions lack them.
    """

    id: str
    title: str
    intents: tuple[str, ...]
    tags: tuple[str, ...]
    answer: str
    steps: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    version: int = 0
    updated_at: str = ""
    author: str = ""
    deleted: bool = False

    def content(self) -> dict[str, Any]:
        """The editable fields as JSON-ready data (what a version stores)."""
        return {name: _plain(getattr(self, name)) for name in CONTENT_FIELDS}

    @classmethod
    def from_content(cls, data: dict[str, Any], **meta: Any) -> Article:
        values = {name: data[name] for name in CONTENT_FIELDS if name in data}
        for name in ("intents", "tags", "steps", "related", "questions"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values, **meta)

    def same_content(self, other: Article) -> bool:
        return self.content() == other.content()

    def with_meta(self, **meta: Any) -> Article:
        return replace(self, **meta)

    def passage_text(self) -> str:
        """What the dense index embeds: title, answer, tags and steps."""
        parts = [self.title, self.answer, " ".join(self.tags), *self.steps]
        return "\n".join(part for part in parts if part)

    def heading_text(self) -> str:
        """What the article is about in a few words: title and tags."""
        return " ".join((self.title, *self.tags))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def validate(article: Article) -> tuple[str, ...]:
    """Every problem with the article's content, each one sentence; empty when valid."""
    return tuple(message for _field, message in field_problems(article))


def field_problems(article: Article) -> list[tuple[str, str]]:
    """(field, message) for every problem, so file readers can point at the right line."""
    problems: list[tuple[str, str]] = []
    if not isinstance(article.id, str) or not ID_PATTERN.fullmatch(article.id):
        problems.append(("id", f"id {article.id!r} must be 1-80 lowercase letters, digits, '_', "
                               "'-' or '.', starting with a letter or digit"))
    problems += _text_problems(article)
    problems += _list_problems(article)
    return problems


def _text_problems(article: Article) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name, limit in (("title", MAX_TITLE_CHARS), ("answer", MAX_ANSWER_CHARS)):
        value = getattr(article, name)
        if not isinstance(value, str) or not value.strip():
            problems.append((name, f"{name} is empty"))
        elif len(value) > limit:
            problems.append((name, f"{name} has {len(value)} characters, the limit is {limit}"))
    if isinstance(article.title, str) and ("\n" in article.title or "\r" in article.title):
        problems.append(("title", "title must be one line"))
    if isinstance(article.answer, str) and _has_heading(article.answer):
        problems.append(("answer", "answer has a line starting with '## ', which the kb/ format "
                                   "reads as a section"))
    body = sum(len(s) for s in (article.answer, *article.steps) if isinstance(s, str))
    if body > MAX_BODY_CHARS:
        problems.append(("answer", f"body has {body} characters, the limit is {MAX_BODY_CHARS}"))
    return problems


def _has_heading(text: str) -> bool:
    return any(line.startswith("## ") for line in text.splitlines())


def _list_problems(article: Article) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name in ("intents", "tags", "steps", "related", "questions"):
        items = getattr(article, name)
        limit = MAX_QUESTIONS if name == "questions" else MAX_LIST_ITEMS
        if len(items) > limit:
            problems.append((name, f"{name} has {len(items)} items, the limit is {limit}"))
        if any(not isinstance(item, str) or not item.strip() for item in items):
            problems.append((name, f"{name} has an empty or non-text item"))
    if not article.intents:
        problems.append(("intents", "intents is empty: name at least one intent code"))
    unknown = [code for code in article.intents if isinstance(code, str) and code not in INTENTS]
    if unknown:
        problems.append(("intents", f"unknown intent code(s) {', '.join(map(repr, unknown))}; "
                                    "valid codes are listed in assist/kb/taxonomy.py"))
    long_tags = [t for t in article.tags if isinstance(t, str) and len(t) > MAX_TAG_CHARS]
    if long_tags:
        problems.append(("tags", f"tag {long_tags[0][:20]!r}... is longer than {MAX_TAG_CHARS} "
                                 "characters"))
    steps = [s for s in article.steps if isinstance(s, str)]
    if any(len(s) > MAX_STEP_CHARS for s in steps):
        problems.append(("steps", f"a step is longer than {MAX_STEP_CHARS} characters"))
    if any(_has_heading(s) for s in steps):
        problems.append(("steps", "a step has a line starting with '## '"))
    problems += _question_problems(article)
    bad = [r for r in article.related if isinstance(r, str) and not ID_PATTERN.fullmatch(r)]
    if bad:
        problems.append(("related", f"related id(s) {', '.join(map(repr, bad))} are not valid "
                                    "article ids"))
    if article.id in article.related:
        problems.append(("related", "an article cannot be related to itself"))
    return problems


def _question_problems(article: Article) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    questions = [q for q in article.questions if isinstance(q, str)]
    long = [q for q in questions if len(q) > MAX_QUESTION_CHARS]
    if long:
        problems.append(("questions", f"question {long[0][:20]!r}... has {len(long[0])} characters, "
                                      f"the limit is {MAX_QUESTION_CHARS}"))
    if any("\n" in q or "\r" in q for q in questions):
        problems.append(("questions", "a question has a line break; write each on one line"))
    seen = [" ".join(q.split()) for q in questions]
    if len(set(seen)) < len(seen):
        problems.append(("questions", "questions has the same question twice"))
    return problems


def check(article: Article) -> Article:
    """Return the article, or raise ArticleError naming every problem."""
    problems = validate(article)
    if problems:
        raise ArticleError(f"Article {article.id!r} is invalid: {'; '.join(problems)}.", problems)
    return article


def render_markdown(article: Article, with_status: bool = False) -> str:
    """The kb/articles/<id>.md form (front matter + sections); also what diffs compare."""
    head = [
        "---",
        f"id: {_yaml_scalar(article.id)}",
        f"title: {_yaml_scalar(article.title)}",
        f"intents: {_yaml_list(article.intents)}",
        f"tags: {_yaml_list(article.tags)}",
        f"related: {_yaml_list(article.related)}",
    ]
    if article.questions:  # optional: articles without example questions render as before
        head.append("questions:")
        head += [f"  - {_yaml_item(question)}" for question in article.questions]
    if with_status:
        head.append(f"status: {'deleted' if article.deleted else 'active'}")
    body = ["---", ANSWER_HEADING, article.answer, "", STEPS_HEADING]
    body += ["- " + step.replace("\n", "\n  ") for step in article.steps]
    return "\n".join(head + body) + "\n"


def _yaml_scalar(value: str) -> str:
    """Plain when YAML reads it back unchanged, else JSON-quoted (JSON is valid YAML)."""
    try:
        plain_ok = yaml.safe_load(value) == value and value == value.strip() and "\n" not in value
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok and value else json.dumps(value, ensure_ascii=False)


def _yaml_item(item: str) -> str:
    """One block-list item: plain when YAML reads it back unchanged, else JSON-quoted."""
    try:
        plain_ok = yaml.safe_load(f"- {item}") == [item] and item == item.strip()
    except yaml.YAMLError:
        plain_ok = False
    return item if plain_ok and item else json.dumps(item, ensure_ascii=False)


def _yaml_list(items: tuple[str, ...]) -> str:
    out = []
    for item in items:
        try:
            plain_ok = yaml.safe_load(f"[{item}]") == [item] and item == item.strip()
        except yaml.YAMLError:
            plain_ok = False
        out.append(item if plain_ok and item else json.dumps(item, ensure_ascii=False))
    return "[" + ", ".join(out) + "]"
