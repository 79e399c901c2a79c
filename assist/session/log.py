"""The call log (SQLite): redacted transcript, suggestions shown, agent feedback, summary.

Only redacted text is stored. Feedback (used / thumbs up / thumbs down) is kept per shown
article, so ``assist report feedback`` can tell which articles help and which are ignored.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from assist.config import AssistError
from assist.guide.events import Suggestions
from assist.session.events import CallSummary

__all__ = ["CallLog", "ArticleFeedback", "FEEDBACK_KINDS"]

FEEDBACK_KINDS = ("used", "up", "down")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
  call_id TEXT PRIMARY KEY, started_at REAL, ended_at REAL, intents TEXT, summary TEXT,
  disposition TEXT, checklist TEXT, stages TEXT, alerts TEXT, customer_type TEXT,
  follow_ups TEXT, saved_at REAL);
CREATE TABLE IF NOT EXISTS transcript (
  call_id TEXT, segment_id TEXT, speaker TEXT, start_s REAL, end_s REAL, text TEXT, engine TEXT);
CREATE TABLE IF NOT EXISTS shown (
  call_id TEXT, segment_id TEXT, article_id TEXT, version INTEGER, rank INTEGER, score REAL);
CREATE TABLE IF NOT EXISTS timings (call_id TEXT, segment_id TEXT, stage TEXT, ms REAL);
CREATE TABLE IF NOT EXISTS feedback (
  call_id TEXT, article_id TEXT, kind TEXT, at REAL, agent TEXT);
CREATE INDEX IF NOT EXISTS feedback_article ON feedback(article_id);
CREATE INDEX IF NOT EXISTS shown_article ON shown(article_id);
"""


@dataclass(frozen=True, slots=True)
class ArticleFeedback:
    article_id: str
    shown: int
    used: int
    up: int
    down: int

    @property
    def verdict(self) -> str:
        if self.down > self.up and self.down >= 2:
            return "disliked"
        if self.used + self.up == 0 and self.shown >= 3:
            return "ignored"
        return "helps" if self.used + self.up > 0 else "unrated"


class CallLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def save(self, summary: CallSummary, shown: list[Suggestions]) -> None:
        """One transaction; a call id is saved once (a second save is refused, not merged)."""
        s = summary
        with self._tx():
            if self._db.execute("SELECT 1 FROM calls WHERE call_id=?", (s.call_id,)).fetchone():
                raise AssistError(f"Call {s.call_id} is already in the call log.")
            self._db.execute(
                "INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (s.call_id, s.started_at, s.ended_at, json.dumps(s.intents), s.summary, s.disposition,
                 json.dumps(s.checklist), json.dumps(s.stages), json.dumps(s.alerts), s.customer_type,
                 json.dumps(s.follow_ups, ensure_ascii=False), time.time()))
            self._db.executemany("INSERT INTO transcript VALUES (?,?,?,?,?,?,?)", [
                (s.call_id, e.segment_id, e.speaker, e.start_s, e.end_s, e.text, e.engine)
                for e in s.redacted_transcript])
            for card in shown:
                self._db.executemany("INSERT INTO shown VALUES (?,?,?,?,?,?)", [
                    (s.call_id, card.segment_id, a.article_id, a.version, rank, a.score)
                    for rank, a in enumerate(card.answers, start=1)])
                self._db.executemany("INSERT INTO timings VALUES (?,?,?,?)", [
                    (s.call_id, card.segment_id, stage, ms) for stage, ms in card.timings_ms])

    def feedback(self, call_id: str, article_id: str, kind: str, agent: str = "") -> None:
        if kind not in FEEDBACK_KINDS:
            raise AssistError(f"Feedback must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}.")
        with self._tx():
            self._db.execute("INSERT INTO feedback VALUES (?,?,?,?,?)",
                             (call_id, article_id, kind, time.time(), agent))

    def call(self, call_id: str) -> dict | None:
        row = self._db.execute("SELECT * FROM calls WHERE call_id=?", (call_id,)).fetchone()
        if row is None:
            return None
        names = [d[0] for d in self._db.execute("SELECT * FROM calls LIMIT 0").description]
        data = dict(zip(names, row))
        data["transcript"] = [
            dict(zip(("segment_id", "speaker", "start_s", "end_s", "text"), r)) for r in self._db.execute(
                "SELECT segment_id, speaker, start_s, end_s, text FROM transcript WHERE call_id=? "
                "ORDER BY start_s", (call_id,))]
        return data

    def calls(self, limit: int = 50) -> list[tuple[str, str, str]]:
        return self._db.execute("SELECT call_id, disposition, summary FROM calls ORDER BY saved_at DESC "
                                "LIMIT ?", (limit,)).fetchall()

    def feedback_report(self) -> list[ArticleFeedback]:
        rows = self._db.execute("""
            SELECT a.article_id, a.shown,
                   COALESCE(SUM(f.kind='used'), 0), COALESCE(SUM(f.kind='up'), 0), COALESCE(SUM(f.kind='down'), 0)
            FROM (SELECT article_id, COUNT(DISTINCT call_id) AS shown FROM shown GROUP BY article_id) a
            LEFT JOIN feedback f ON f.article_id = a.article_id
            GROUP BY a.article_id ORDER BY a.shown DESC""").fetchall()
        return [ArticleFeedback(*row) for row in rows]

    def _tx(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()
