"""Import and export the KB: the kb/ folder (Markdown per article), JSONL and CSV.

Imports are checked completely before anything is written, and then applied in one
transaction: either every article lands or none does, and the error lists every problem
with its file and line (bad UTF-8, bad YAML or JSON, missing fields, limits, unknown intent
codes, duplicate ids), so an editor fixes a whole batch in one pass.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assist.config import Settings
from assist.kb.article import CONTENT_FIELDS, Article, ArticleError, field_problems, render_markdown
from assist.kb.markdown import Problem, parse_markdown
from assist.kb.store import ImportResult, KbStore, open_store

__all__ = ["ImportBatch", "KbImportError", "read_articles", "read_one", "import_path",
           "export_articles", "seed_from_folder", "detect_format", "Format"]

log = logging.getLogger(__name__)
Format = Literal["folder", "jsonl", "csv"]
LIST_FIELDS = ("intents", "tags", "related")  # one CSV cell, items joined with '|'
LINE_FIELDS = ("steps", "questions")  # one CSV cell, one item per line
META_FIELDS = ("version", "updated_at", "author", "deleted")  # written by export, ignored by import


class KbImportError(ArticleError):
    """An import had problems; nothing was written. ``problems`` holds 'file:line: why' lines."""


@dataclass(frozen=True, slots=True)
class ImportBatch:
    """What a source holds: the articles, every problem (blocking) and warnings (not)."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]


def detect_format(path: Path) -> Format:
    if path.is_dir():
        return "folder"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    if path.suffix.lower() == ".csv":
        return "csv"
    raise KbImportError(f"Cannot tell the format of {path}: use a kb/ folder, .jsonl or .csv.")


def read_articles(path: Path, fmt: Format | None = None, known_ids: Iterable[str] = ()) -> ImportBatch:
    """Parse and validate a whole source without writing anything."""
    path = Path(path)
    if not path.exists():
        raise KbImportError(f"Import source {path} does not exist.")
    fmt = fmt or detect_format(path)
    if fmt == "folder":
        found = _read_folder(path)
    else:
        data = path.read_bytes()
        found = _read_jsonl(data, str(path)) if fmt == "jsonl" else _read_csv(data, str(path))
    located, problems = found
    problems += _duplicates(located)
    if not located and not problems:
        problems.append(Problem(str(path), 1, "no articles found"))
    articles = tuple(article for article, _where in located)
    return ImportBatch(articles, tuple(problems), _dangling_related(articles, known_ids))


def import_path(store: KbStore, path: Path, fmt: Format | None = None, *, author: str,
                note: str = "", dry_run: bool = False) -> tuple[ImportBatch, ImportResult | None]:
    """Check everything, then write all of it in one transaction (or raise and write nothing)."""
    batch = read_articles(path, fmt, known_ids=[a.id for a in store.articles(include_deleted=True)])
    if batch.problems:
        raise _import_error(path, batch.problems)
    if dry_run:
        return batch, None
    return batch, store.import_articles(batch.articles, author=author, note=note or f"import {path}")


def _import_error(path: Path, problems: tuple[Problem, ...]) -> KbImportError:
    ordered = sorted(problems, key=lambda p: (p.source, p.line))
    lines = "\n".join(f"  {problem}" for problem in ordered)
    return KbImportError(f"Nothing was imported from {path}: {len(ordered)} problem(s) found:\n"
                         f"{lines}", tuple(str(problem) for problem in ordered))


def seed_from_folder(settings: Settings) -> ImportResult | None:
    """On a fresh install (empty store), load the shipped kb/ folder; otherwise do nothing."""
    folder = settings.kb_path
    with open_store(settings) as store:
        if store.count(include_deleted=True):
            return None
        if not (folder / "articles").is_dir():
            log.warning("KB store is empty and %s has no articles/ folder", folder)
            return None
        batch = read_articles(folder, "folder")
        if batch.problems:
            raise _import_error(folder, batch.problems)
        result = store.import_articles(batch.articles, author="seed", only_if_empty=True,
                                       note=f"seed from {folder}")
    if result is not None:
        log.info("KB seeded with %d articles from %s", len(result.created), folder)
    return result


# readers ---------------------------------------------------------------------------------

Located = list[tuple[Article, Problem]]  # each article with where it was read (line of its id)


def _decode(data: bytes, source: str) -> tuple[str, list[Problem]]:
    """Text (undecodable bytes replaced) and one problem per line with invalid UTF-8."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    problems = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(source, number, f"invalid UTF-8: byte 0x{raw[exc.start]:02x} "
                                    f"at column {exc.start + 1}; save the file as UTF-8"))
    return data.decode("utf-8", errors="replace"), problems


def _read_folder(path: Path) -> tuple[Located, list[Problem]]:
    folder = path / "articles" if (path / "articles").is_dir() else path
    located: Located = []
    problems: list[Problem] = []
    for file in sorted(folder.glob("*.md")):
        text, bad_bytes = _decode(file.read_bytes(), str(file))
        if bad_bytes:
            problems += bad_bytes  # the rest of a file we cannot read is not trusted
            continue
        article, found = parse_markdown(text, str(file))
        problems += found
        if article is not None:
            if article.id and article.id != file.stem:
                problems.append(Problem(str(file), 2, f"id {article.id!r} does not match the "
                                        f"file name {file.name!r}"))
            located.append((article, Problem(str(file), 2, "")))
    return located, problems


def _read_jsonl(data: bytes, source: str) -> tuple[Located, list[Problem]]:
    text, problems = _decode(data, source)
    bad_lines = {problem.line for problem in problems}
    located: Located = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or number in bad_lines:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(source, number, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        article, found = _from_record(record, source, number, lists_as_text=False)
        problems += found
        if article is not None:
            located.append((article, Problem(source, number, "")))
    return located, problems


def _read_csv(data: bytes, source: str) -> tuple[Located, list[Problem]]:
    text, problems = _decode(data, source)
    if problems:
        return [], problems
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    missing = [name for name in ("id", "title", "intents", "answer") if name not in (reader.fieldnames or [])]
    if missing:
        return [], [Problem(source, 1, f"header lacks column(s) {', '.join(missing)}; expected "
                            f"{','.join(CONTENT_FIELDS)}")]
    located: Located = []
    start = reader.line_num + 1
    try:
        for row in reader:
            article, found = _from_record(row, source, start, lists_as_text=True)
            problems += found
            if article is not None:
                located.append((article, Problem(source, start, "")))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.append(Problem(source, reader.line_num, f"bad CSV: {exc}"))
    return located, problems


def _from_record(record: object, source: str, line: int, lists_as_text: bool
                 ) -> tuple[Article | None, list[Problem]]:
    if not isinstance(record, dict):
        return None, [Problem(source, line, "each line must be a JSON object")]
    problems = [Problem(source, line, f"unknown field {key!r}; allowed: {', '.join(CONTENT_FIELDS)}")
                for key in record if key not in CONTENT_FIELDS + META_FIELDS and key is not None]
    if None in record:
        problems.append(Problem(source, line, "row has more cells than the header has columns"))
    values: dict[str, object] = {}
    for name in CONTENT_FIELDS:
        value = record.get(name)
        if lists_as_text and name in LIST_FIELDS:
            value = [part.strip() for part in (value or "").split("|") if part.strip()]
        elif lists_as_text and name == "steps":
            value = _csv_steps(value or "")
        elif lists_as_text and name == "questions":
            value = [part.strip() for part in (value or "").splitlines() if part.strip()]
        if name in LIST_FIELDS + LINE_FIELDS:
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(Problem(source, line, f"{name} must be a list of texts"))
                value = []
            value = tuple(value)
        elif value is not None and not isinstance(value, str):
            problems.append(Problem(source, line, f"{name} must be text"))
            value = str(value)
        values[name] = value if value is not None else ""
    article = Article(**values)  # type: ignore[arg-type]
    problems += [Problem(source, line, message) for _field, message in field_problems(article)]
    return article, problems


def _csv_steps(cell: str) -> list[str]:
    """One step per line; lines starting with two spaces continue the step above."""
    steps: list[str] = []
    for line in cell.splitlines():
        if line.startswith("  ") and steps:
            steps[-1] += "\n" + line[2:]
        elif line.strip():
            steps.append(line.strip())
    return steps


def _duplicates(located: Located) -> list[Problem]:
    first: dict[str, Problem] = {}
    problems = []
    for article, where in located:
        if article.id in first:
            seen = first[article.id]
            problems.append(Problem(where.source, where.line, f"duplicate id {article.id!r} "
                                    f"(first at {seen.source}:{seen.line})"))
        elif article.id:
            first[article.id] = where
    return problems


def _dangling_related(articles: tuple[Article, ...], known_ids: Iterable[str]) -> tuple[str, ...]:
    ids = {article.id for article in articles} | set(known_ids)
    return tuple(f"{article.id}: related id {rel!r} is not in the KB" for article in articles
                 for rel in article.related if rel not in ids)


# export ----------------------------------------------------------------------------------

def export_articles(articles: list[Article], path: Path, fmt: Format) -> list[Path]:
    """Write articles in an import format; files are replaced atomically. Returns what was written."""
    path = Path(path)
    if fmt == "folder":
        folder = path / "articles"
        folder.mkdir(parents=True, exist_ok=True)
        written = [_write_atomic(folder / f"{a.id}.md", render_markdown(a)) for a in articles]
        extra = sorted(set(folder.glob("*.md")) - set(written))
        for stale in extra:
            log.warning("%s is not in the KB; left as is", stale)
        return written
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        text = "".join(json.dumps(a.content(), ensure_ascii=False) + "\n" for a in articles)
        return [_write_atomic(path, text)]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(CONTENT_FIELDS), lineterminator="\n")
    writer.writeheader()
    for article in articles:
        row = article.content()
        row.update({name: "|".join(row[name]) for name in LIST_FIELDS})
        row["steps"] = "\n".join(step.replace("\n", "\n  ") for step in article.steps)
        row["questions"] = "\n".join(article.questions)
        writer.writerow(row)
    return [_write_atomic(path, buffer.getvalue())]


def _write_atomic(target: Path, text: str) -> Path:
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
    return target


def read_one(path: Path) -> Article:
    """One article from a .md (kb/ format) or .json file, for ``assist kb add/edit``."""
    path = Path(path)
    if not path.is_file():
        raise KbImportError(f"Article file {path} does not exist.")
    text, problems = _decode(path.read_bytes(), str(path))
    article: Article | None = None
    if not problems and path.suffix.lower() == ".json":
        try:
            article, problems = _from_record(json.loads(text), str(path), 1, lists_as_text=False)
        except json.JSONDecodeError as exc:
            problems = [Problem(str(path), exc.lineno, f"invalid JSON: {exc.msg}")]
    elif not problems:
        article, problems = parse_markdown(text, str(path))
    if problems or article is None:
        raise _import_error(path, tuple(problems))
    return article
