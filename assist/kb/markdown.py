"""Read one kb/articles/<id>.md file: YAML front matter, then ``## 답변`` and ``## 확인 및 절차``.

Every problem is reported with its line, and parsing goes on after a problem so one pass over a
file lists everything wrong with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from assist.kb.article import ANSWER_HEADING, STEPS_HEADING, Article, field_problems

__all__ = ["Problem", "parse_markdown", "FRONT_MATTER_KEYS"]

FRONT_MATTER_KEYS = ("id", "title", "intents", "tags", "related", "questions")
_BULLET = re.compile(r"^[-*] ")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in an import source, pointing at the file and line to fix."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


def parse_markdown(text: str, source: str) -> tuple[Article | None, list[Problem]]:
    """The article in ``text`` (None if it could not be built) and every problem found."""
    lines = text.removeprefix("\ufeff").split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, [Problem(source, 1, "file must start with '---' (YAML front matter)")]
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        return None, [Problem(source, 1, "front matter is not closed by a '---' line")]
    meta, key_lines, problems = _front_matter(lines[1:end], source)
    sections, section_lines, more = _sections(lines, end + 1, source)
    problems += more
    if meta is None:
        return None, problems
    values = {key: meta.get(key) for key in FRONT_MATTER_KEYS}
    values["answer"] = "\n".join(sections.get(ANSWER_HEADING, [])).strip()
    steps, more = _steps(sections.get(STEPS_HEADING, []), section_lines.get(STEPS_HEADING, 0), source)
    problems += more
    article = Article(
        id=values["id"] if isinstance(values["id"], str) else str(values["id"] or ""),
        title=_text(values["title"]), intents=_items(values["intents"]),
        tags=_items(values["tags"]), answer=values["answer"], steps=steps,
        related=_items(values["related"]), questions=_items(values["questions"]))
    line_of = dict(key_lines)
    line_of["answer"] = section_lines.get(ANSWER_HEADING, end + 1)
    line_of["steps"] = section_lines.get(STEPS_HEADING, end + 1)
    problems += _type_problems(meta, key_lines, source)
    problems += [Problem(source, line_of.get(field, 1), message)
                 for field, message in field_problems(article) if field != "id" or article.id]
    return article, problems


def _front_matter(lines: list[str], source: str) -> tuple[dict | None, dict[str, int], list[Problem]]:
    try:
        meta = yaml.safe_load("\n".join(lines)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, {}, [Problem(source, line, f"front matter is not valid YAML: {reason}")]
    if not isinstance(meta, dict):
        return None, {}, [Problem(source, 2, "front matter must be 'key: value' lines")]
    key_lines = {}
    for number, line in enumerate(lines, start=2):
        key = line.split(":", 1)[0].strip()
        if ":" in line and not line.startswith((" ", "-")) and key not in key_lines:
            key_lines[key] = number
    problems = [Problem(source, key_lines.get(str(key), 2), f"unknown front matter key {key!r}; "
                        f"allowed: {', '.join(FRONT_MATTER_KEYS)}")
                for key in meta if key not in FRONT_MATTER_KEYS]
    if meta.get("id") in (None, ""):
        problems.append(Problem(source, 2, "front matter has no 'id'"))
    return meta, key_lines, problems


def _type_problems(meta: dict[str, Any], key_lines: dict[str, int], source: str) -> list[Problem]:
    problems = []
    for key in ("id", "title"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            problems.append(Problem(source, key_lines.get(key, 2), f"{key} must be text, not "
                                    f"{type(meta[key]).__name__}; quote it"))
    for key in ("intents", "tags", "related", "questions"):
        value = meta.get(key)
        if value is not None and not isinstance(value, list):
            problems.append(Problem(source, key_lines.get(key, 2), f"{key} must be a list like "
                                    "[a, b]"))
        elif value and not all(isinstance(item, str) for item in value):
            problems.append(Problem(source, key_lines.get(key, 2), f"every item of {key} must be "
                                    "text; quote numbers"))
    return problems


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _items(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(item if isinstance(item, str) else str(item) for item in value)
    return ()


def _sections(lines: list[str], start: int, source: str
              ) -> tuple[dict[str, list[str]], dict[str, int], list[Problem]]:
    """Body lines per '## ' heading, the heading's line number, and problems."""
    bodies: dict[str, list[str]] = {}
    heading_line: dict[str, int] = {}
    problems: list[Problem] = []
    current: str | None = None
    for index in range(start, len(lines)):
        line, number = lines[index], index + 1
        if line.startswith("## "):
            current = line.rstrip()
            if current not in (ANSWER_HEADING, STEPS_HEADING):
                problems.append(Problem(source, number, f"unknown section {current!r}; use "
                                        f"'{ANSWER_HEADING}' and '{STEPS_HEADING}'"))
            elif current in bodies:
                problems.append(Problem(source, number, f"section {current!r} appears twice"))
            bodies[current] = []
            heading_line.setdefault(current, number)
        elif current is not None:
            bodies[current].append(line)
        elif line.strip():
            problems.append(Problem(source, number, f"text before the '{ANSWER_HEADING}' section"))
    if ANSWER_HEADING not in bodies:
        problems.append(Problem(source, len(lines), f"no '{ANSWER_HEADING}' section"))
    return bodies, heading_line, problems


def _steps(body: list[str], heading_line: int, source: str) -> tuple[tuple[str, ...], list[Problem]]:
    """Bullets ('- ' or '* '); lines indented two spaces continue the bullet above."""
    steps: list[str] = []
    problems: list[Problem] = []
    for offset, line in enumerate(body):
        number = heading_line + 1 + offset
        if _BULLET.match(line):
            steps.append(line[2:].strip())
        elif line.startswith("  ") and steps and not line.strip():
            continue
        elif line.startswith("  ") and steps and line.strip():
            steps[-1] += "\n" + line[2:]
        elif line.strip():
            problems.append(Problem(source, number, "lines under the steps section must be "
                                    "'- ' bullets"))
    return tuple(steps), problems
