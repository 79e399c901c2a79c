"""The KB's source of truth: one SQLite file (WAL) with current articles and every version.

Every create, edit, delete, restore, revert and import writes a new version (author, time,
change note, full content JSON) in the same transaction as the current row, so history can
never disagree with what is served. Writers take the write lock up front (BEGIN IMMEDIATE) and
wait up to ``busy_timeout_s``: two editors in two processes never lose a committed edit, and a
stale edit is refused (optimistic concurrency on the version the editor loaded).
"""
from __future__ import annotations

import difflib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from assist.config import AssistError, KbOptions, Settings
from assist.kb.article import Article, check, render_markdown

__all__ = ["KbStore", "KbError", "KbNotFound", "KbExists", "KbConflict", "KbDeleted",
           "Version", "Snapshot", "ImportResult", "open_store"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    updated_at TEXT NOT NULL, author TEXT NOT NULL, content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, version INTEGER NOT NULL,
    action TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL,
    deleted INTEGER NOT NULL, content TEXT NOT NULL, UNIQUE (article_id, version));
CREATE TABLE IF NOT EXISTS embeddings (
    article_id TEXT NOT NULL, fingerprint TEXT NOT NULL, digest TEXT NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (article_id, fingerprint));
"""
SCHEMA_VERSION = 2


class KbError(AssistError):
    """A KB operation could not be done; the message says why in one sentence."""


class KbNotFound(KbError):
    pass


class KbExists(KbError):
    pass


class KbDeleted(KbError):
    pass


class KbConflict(KbError):
    """The article changed since the editor loaded it; carries both versions."""

    def __init__(self, message: str, article_id: str, base_version: int, current_version: int) -> None:
        super().__init__(message)
        self.article_id = article_id
        self.base_version = base_version
        self.current_version = current_version


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of an article's history; ``article`` is the full content at that version."""

    article_id: str
    version: int
    action: str
    author: str
    at: str
    note: str
    article: Article


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Live (not deleted) article versions as of change ``seq``, read in one transaction."""

    seq: int
    versions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    restored: tuple[str, ...]
    unchanged: tuple[str, ...]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def open_store(settings: Settings) -> KbStore:
    return KbStore(settings.data_path / "kb.sqlite3", settings.kb)


class KbStore:
    """Thread-safe handle on the KB file; each process opens its own."""

    def __init__(self, path: Path, opts: KbOptions = KbOptions()) -> None:
        self.path = Path(path)
        self.opts = opts
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=opts.busy_timeout_s,
                                       isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise KbError(f"Cannot open the KB at {self.path}: {exc}.") from exc

    def _create_schema(self) -> None:
        with self._write() as db:
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise KbError(f"The KB at {self.path} was written by a newer version (schema {found}).")
            if found == 1:  # v1 keyed cached embeddings by version; the cache is just rebuilt
                db.execute("DROP TABLE IF EXISTS embeddings")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> KbStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start (no lost updates)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise KbError(f"The KB is busy: another writer held it for over "
                              f"{self.opts.busy_timeout_s:g} s ({exc}).") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for reads that take several statements."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    # reads -------------------------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        """The current article, deleted or not; None if it never existed."""
        with self._read() as db:
            return _current(db, article_id)

    def require(self, article_id: str) -> Article:
        article = self.get(article_id)
        if article is None:
            raise KbNotFound(f"No article with id {article_id!r}.")
        return article

    def articles(self, include_deleted: bool = False) -> list[Article]:
        where = "" if include_deleted else "WHERE deleted = 0"
        with self._read() as db:
            rows = db.execute(f"SELECT * FROM articles {where} ORDER BY id").fetchall()
        return [_row_article(row) for row in rows]

    def count(self, include_deleted: bool = True) -> int:
        where = "" if include_deleted else "WHERE deleted = 0"
        with self._read() as db:
            return db.execute(f"SELECT count(*) FROM articles {where}").fetchone()[0]

    def latest_seq(self) -> int:
        """Grows with every write; a cheap check for 'did anything change?'."""
        with self._lock:
            return self._db.execute("SELECT coalesce(max(seq), 0) FROM versions").fetchone()[0]

    def snapshot(self) -> Snapshot:
        with self._read() as db:
            seq = db.execute("SELECT coalesce(max(seq), 0) FROM versions").fetchone()[0]
            rows = db.execute("SELECT id, version FROM articles WHERE deleted = 0 ORDER BY id")
            return Snapshot(seq, tuple((row[0], row[1]) for row in rows))

    def changes_since(self, seq: int) -> tuple[int, tuple[str, ...]]:
        """The latest seq and the ids written after ``seq`` (each once, oldest first)."""
        with self._read() as db:
            rows = db.execute("SELECT seq, article_id FROM versions WHERE seq > ? ORDER BY seq",
                              (seq,)).fetchall()
        ids = tuple(dict.fromkeys(row[1] for row in rows))
        return (rows[-1][0] if rows else seq), ids

    def history(self, article_id: str) -> tuple[Version, ...]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM versions WHERE article_id = ? ORDER BY version",
                              (article_id,)).fetchall()
        if not rows:
            raise KbNotFound(f"No article with id {article_id!r}.")
        return tuple(_row_version(row) for row in rows)

    def version(self, article_id: str, version: int) -> Version:
        with self._read() as db:
            row = db.execute("SELECT * FROM versions WHERE article_id = ? AND version = ?",
                             (article_id, version)).fetchone()
        if row is None:
            self.require(article_id)
            raise KbNotFound(f"Article {article_id!r} has no version {version}.")
        return _row_version(row)

    def diff(self, article_id: str, from_version: int, to_version: int | None = None) -> str:
        """Unified diff of the rendered article between two versions ('' when equal)."""
        to_version = to_version or self.require(article_id).version
        old = self.version(article_id, from_version).article
        new = self.version(article_id, to_version).article
        lines = difflib.unified_diff(
            render_markdown(old, with_status=True).splitlines(keepends=True),
            render_markdown(new, with_status=True).splitlines(keepends=True),
            fromfile=f"{article_id} v{from_version}", tofile=f"{article_id} v{to_version}")
        return "".join(lines)

    # writes ------------------------------------------------------------------------------

    def add(self, article: Article, *, author: str, note: str = "") -> Article:
        check(article)
        with self._write() as db:
            current = _current(db, article.id)
            if current is not None:
                state = "a deleted article (restore it)" if current.deleted else "an article (edit it)"
                raise KbExists(f"Id {article.id!r} is already used by {state}, version {current.version}.")
            return _save(db, article, 1, "create", author, note, deleted=False)

    def edit(self, article: Article, base_version: int, *, author: str, note: str = "") -> Article:
        """Save new content made from ``base_version``; refused if someone saved since."""
        check(article)
        with self._write() as db:
            current = _live(db, article.id, "edit")
            if base_version != current.version:
                raise KbConflict(
                    f"Article {article.id!r} was changed to version {current.version} by "
                    f"{current.author} at {current.updated_at} after you loaded version "
                    f"{base_version}; reload version {current.version} and apply your change again.",
                    article.id, base_version, current.version)
            if current.same_content(article):
                return current
            return _save(db, article, current.version + 1, "edit", author, note, deleted=False)

    def delete(self, article_id: str, *, author: str, note: str = "",
               base_version: int | None = None) -> Article:
        """Soft delete: hidden from search and lists, kept with its history, restorable."""
        with self._write() as db:
            current = _live(db, article_id, "delete")
            if base_version is not None and base_version != current.version:
                raise KbConflict(f"Article {article_id!r} is at version {current.version}, not "
                                 f"version {base_version} you loaded; reload before deleting.",
                                 article_id, base_version, current.version)
            return _save(db, current, current.version + 1, "delete", author, note, deleted=True)

    def restore(self, article_id: str, *, author: str, note: str = "") -> Article:
        with self._write() as db:
            current = _current(db, article_id)
            if current is None:
                raise KbNotFound(f"No article with id {article_id!r}.")
            if not current.deleted:
                raise KbError(f"Article {article_id!r} is not deleted (version {current.version}).")
            return _save(db, current, current.version + 1, "restore", author, note, deleted=False)

    def revert(self, article_id: str, to_version: int, *, author: str, note: str = "") -> Article:
        """A new version with the content and state of ``to_version``; history is kept."""
        target = self.version(article_id, to_version).article
        check(target)
        note = note or f"revert to version {to_version}"
        with self._write() as db:
            current = _current(db, article_id)
            if current.same_content(target) and current.deleted == target.deleted:
                return current
            return _save(db, target, current.version + 1, "revert", author, note,
                         deleted=target.deleted)

    def import_articles(self, articles: Iterable[Article], *, author: str, note: str = "",
                        only_if_empty: bool = False) -> ImportResult | None:
        """All or nothing in one transaction; None when ``only_if_empty`` and the KB has rows."""
        articles = [check(article) for article in articles]
        done: dict[str, list[str]] = {"created": [], "updated": [], "restored": [], "unchanged": []}
        with self._write() as db:
            if only_if_empty and db.execute("SELECT count(*) FROM articles").fetchone()[0]:
                return None
            for article in articles:
                done[_import_one(db, article, author, note)].append(article.id)
        return ImportResult(**{key: tuple(ids) for key, ids in done.items()})

    # embedding cache (derived data, keyed by encoder fingerprint and text digest) ------------

    def cached_vectors(self, fingerprint: str, wanted: dict[str, str]) -> dict[str, np.ndarray]:
        """Stored embeddings made by this encoder of the wanted {id: text digest}."""
        with self._read() as db:
            rows = db.execute("SELECT article_id, digest, vector FROM embeddings "
                              "WHERE fingerprint = ?", (fingerprint,)).fetchall()
        return {aid: np.frombuffer(blob, dtype=np.float32).copy()
                for aid, digest, blob in rows if wanted.get(aid) == digest}

    def cache_vectors(self, fingerprint: str, items: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Keep (id, text digest, vector) rows; one per article and encoder."""
        rows = [(aid, fingerprint, digest, np.asarray(vec, dtype=np.float32).tobytes())
                for aid, digest, vec in items]
        if not rows:
            return
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)


def _row_article(row: tuple) -> Article:
    article_id, version, deleted, updated_at, author, content = row
    return Article.from_content(json.loads(content), version=version, deleted=bool(deleted),
                                updated_at=updated_at, author=author)


def _row_version(row: tuple) -> Version:
    _seq, article_id, version, action, author, at, note, deleted, content = row
    article = Article.from_content(json.loads(content), version=version, deleted=bool(deleted),
                                   updated_at=at, author=author)
    return Version(article_id, version, action, author, at, note, article)


def _current(db: sqlite3.Connection, article_id: str) -> Article | None:
    row = db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    return None if row is None else _row_article(row)


def _live(db: sqlite3.Connection, article_id: str, action: str) -> Article:
    current = _current(db, article_id)
    if current is None:
        raise KbNotFound(f"No article with id {article_id!r}.")
    if current.deleted:
        raise KbDeleted(f"Cannot {action} article {article_id!r}: it was deleted (version "
                        f"{current.version}); restore it first.")
    return current


def _save(db: sqlite3.Connection, article: Article, version: int, action: str, author: str,
          note: str, deleted: bool) -> Article:
    if not author or not author.strip():
        raise KbError("Every KB change needs an author.")
    now = _now()
    content = json.dumps(article.content(), ensure_ascii=False)
    db.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
               "version = excluded.version, deleted = excluded.deleted, "
               "updated_at = excluded.updated_at, author = excluded.author, "
               "content = excluded.content",
               (article.id, version, int(deleted), now, author, content))
    db.execute("INSERT INTO versions (article_id, version, action, author, at, note, deleted, "
               "content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (article.id, version, action, author, now, note, int(deleted), content))
    return article.with_meta(version=version, updated_at=now, author=author, deleted=deleted)


def _import_one(db: sqlite3.Connection, article: Article, author: str, note: str) -> str:
    current = _current(db, article.id)
    if current is None:
        _save(db, article, 1, "create", author, note or "import", deleted=False)
        return "created"
    if current.deleted:
        _save(db, article, current.version + 1, "import", author, note or "import (restored)",
              deleted=False)
        return "restored"
    if current.same_content(article):
        return "unchanged"
    _save(db, article, current.version + 1, "import", author, note or "import", deleted=False)
    return "updated"
