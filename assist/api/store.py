"""Event sequence numbers per call, a bounded in-memory tail, and SQLite so a restart can resume.

Every event a call emits gets the next ``seq`` and is written (one transaction per batch, WAL,
synchronous=NORMAL) before subscribers are told, so ``?since=SEQ`` after a reconnect or a
server restart returns exactly the events after SEQ. Calls left live by a stopped server are
marked ``interrupted``; the same tenant may reopen one and its numbering continues.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assist.api.auth import Principal
from assist.api.limits import POLICY, ApiRefusal
from assist.session.serialize import event_dict

__all__ = ["Record", "CallMeta", "EventStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_calls (
  call_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, token_id TEXT, mode TEXT, state TEXT,
  started_at REAL, ended_at REAL, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS api_calls_tenant ON api_calls(tenant, started_at);
CREATE TABLE IF NOT EXISTS api_events (
  call_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (call_id, seq)) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Record:
    """One event as sent: its sequence number, type and JSON text (``seq`` included)."""

    call_id: str
    seq: int
    type: str
    body: str


@dataclass(frozen=True, slots=True)
class CallMeta:
    call_id: str
    tenant: str
    token_id: str
    mode: str
    state: str  # live | ended | interrupted
    started_at: float
    ended_at: float | None
    last_seq: int


class EventStore:
    def __init__(self, path: Path, buffer: int, keep_h: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.buffer = buffer
        self.notify: Callable[[str, list[Record]], None] = lambda call_id, records: None
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._tails: dict[str, deque[Record]] = {}
        self._last: dict[str, int] = {}
        self._recover(keep_h)

    def _recover(self, keep_h: float) -> None:
        """Calls a stopped server left live are interrupted; old ended calls are pruned."""
        cutoff = time.time() - keep_h * 3600
        with self._lock:
            self._db.execute("UPDATE api_calls SET state='interrupted' WHERE state='live'")
            old = [r[0] for r in self._db.execute(
                "SELECT call_id FROM api_calls WHERE state!='live' AND COALESCE(ended_at, started_at) < ?",
                (cutoff,))]
            for call_id in old:
                self._db.execute("DELETE FROM api_events WHERE call_id=?", (call_id,))
                self._db.execute("DELETE FROM api_calls WHERE call_id=?", (call_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- calls -----------------------------------------------------------------------------
    def meta(self, call_id: str) -> CallMeta | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM api_calls WHERE call_id=?", (call_id,)).fetchone()
        return CallMeta(*row) if row else None

    def calls(self, tenant: str, limit: int = 50) -> list[CallMeta]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM api_calls WHERE tenant=? ORDER BY started_at DESC "
                                    "LIMIT ?", (tenant, limit)).fetchall()
        return [CallMeta(*row) for row in rows]

    def begin(self, call_id: str, principal: Principal, mode: str) -> CallMeta:
        """Register a live call; an interrupted call of the same tenant is reopened."""
        with self._lock:
            old = self.meta(call_id)
            if old is not None and (old.tenant != principal.tenant or old.state != "interrupted"):
                raise ApiRefusal(POLICY, f"call id {call_id} is not available"
                                 + (" (call ended)" if old.tenant == principal.tenant else ""))
            now = time.time()
            if old is None:
                self._db.execute("INSERT INTO api_calls VALUES (?,?,?,?,?,?,?,0)",
                                 (call_id, principal.tenant, principal.token_id, mode, "live", now, None))
            else:
                self._db.execute("UPDATE api_calls SET state='live', ended_at=NULL, mode=? WHERE call_id=?",
                                 (mode, call_id))
            self._last[call_id] = old.last_seq if old else 0
            self._tails[call_id] = deque(maxlen=self.buffer)
            return self.meta(call_id)

    def end(self, call_id: str, state: str = "ended") -> None:
        with self._lock:
            self._db.execute("UPDATE api_calls SET state=?, ended_at=? WHERE call_id=?",
                             (state, time.time(), call_id))
            self._tails.pop(call_id, None)
            self._last.pop(call_id, None)

    # -- events ----------------------------------------------------------------------------
    def append(self, call_id: str, events: Sequence[object]) -> list[Record]:
        """Number, persist and announce events of a live call, in one transaction."""
        if not events:
            return []
        with self._lock:
            seq = self._last[call_id]
            records = []
            for event in events:
                seq += 1
                data = event_dict(event)
                data["seq"] = seq
                records.append(Record(call_id, seq, data["type"],
                                      json.dumps(data, ensure_ascii=False, default=str)))
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO api_events VALUES (?,?,?,?)",
                                     [(call_id, r.seq, r.type, r.body) for r in records])
                self._db.execute("UPDATE api_calls SET last_seq=? WHERE call_id=?", (seq, call_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._last[call_id] = seq
            self._tails[call_id].extend(records)
            self.notify(call_id, records)  # under the lock: subscribers see seq order
            return records

    def since(self, call_id: str, seq: int, limit: int = 5000) -> list[Record]:
        """Events after ``seq`` (from memory when the tail reaches back that far)."""
        with self._lock:
            tail = self._tails.get(call_id)
            if tail and tail[0].seq <= seq + 1:
                return [r for r in tail if r.seq > seq][:limit]
            rows = self._db.execute(
                "SELECT seq, type, body FROM api_events WHERE call_id=? AND seq>? ORDER BY seq LIMIT ?",
                (call_id, seq, limit)).fetchall()
        return [Record(call_id, s, t, b) for s, t, b in rows]
