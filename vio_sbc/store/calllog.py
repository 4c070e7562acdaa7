"""The call log: one row per call attempt from a trunk, in SQLite (WAL).

Writes come from the SIP thread and the agent engine; they go through a
bounded queue to one writer thread that owns the connection, so SIP handling
never waits on the disk. Rows are written as the call progresses (received,
answered, ended) so a crash leaves a row that says how far the call got; on
start, calls left live by a crash are closed with status `interrupted`.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from vio_sbc.store.schema import migrate

LIVE_STATUSES = ("received", "ringing", "answered", "dialing")
_STOP = object()


def utcnow() -> float:
    return time.time()


class CallLog:
    """Asynchronous writer with synchronous `flush()`; readers open their own connection."""

    def __init__(self, path: str | Path, *, max_queue: int = 10000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        migrate(db)
        self.interrupted_ids: list[str] = []  # closed as interrupted by this start
        self.interrupted_on_start = self._close_interrupted(db)
        db.conn.close()
        self._q: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._errors = 0
        self._thread = threading.Thread(target=self._run, name="calllog-writer", daemon=True)
        self._thread.start()

    # -- write side (any thread) -------------------------------------------
    def open_call(self, row: dict[str, Any]) -> None:
        self._put(lambda db: db.table("calls").insert(row, pk="id", alter=False))

    def update_call(self, call_id: str, **fields: Any) -> None:
        self._put(lambda db: db.table("calls").update(call_id, fields))

    def add_event(self, call_id: str, t_ms: int, kind: str, data: str) -> None:
        self._put(
            lambda db: db.table("call_events").insert(
                {"call_id": call_id, "t_ms": t_ms, "kind": kind, "data": data}
            )
        )

    def add_transcript(self, call_id: str, speaker: str, start_ms: int, end_ms: int,
                       text: str) -> None:
        """One transcript row; `seq` numbers the call's rows in the order they were
        logged (ties on `start_ms` keep that order)."""

        def op(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO transcript (call_id, seq, speaker, start_ms, end_ms, text) "
                "VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM transcript "
                "WHERE call_id = ?), ?, ?, ?, ?)",
                [call_id, call_id, speaker, start_ms, end_ms, text],
            )

        self._put(op)

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        """The call's transcript in call time order (start_ms, then seq)."""
        db = self._connect()
        try:
            return list(db.query(
                "SELECT seq, speaker, start_ms, end_ms, text FROM transcript "
                "WHERE call_id = ? ORDER BY start_ms, seq", [call_id]))
        finally:
            db.conn.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far is written (or `timeout`)."""
        done = threading.Event()
        self._put(lambda db: done.set())
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout)

    @property
    def write_errors(self) -> int:
        return self._errors

    # -- read side ---------------------------------------------------------
    def reader(self) -> sqlite_utils.Database:
        return self._connect()

    def get(self, call_id: str) -> dict[str, Any] | None:
        db = self._connect()
        try:
            rows = list(db.table("calls").rows_where("id = ?", [call_id]))
            return rows[0] if rows else None
        finally:
            db.conn.close()

    # -- internals ---------------------------------------------------------
    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA busy_timeout = 10000")
        return db

    def _put(self, op: Callable[[sqlite_utils.Database], Any]) -> None:
        self._q.put(op)

    def _close_interrupted(self, db: sqlite_utils.Database) -> int:
        placeholders = ",".join("?" for _ in LIVE_STATUSES)
        with db.conn:
            self.interrupted_ids = [str(r[0]) for r in db.execute(
                f"SELECT id FROM calls WHERE status IN ({placeholders})", list(LIVE_STATUSES))]
            cur = db.execute(
                f"UPDATE calls SET status = 'interrupted', ended_at = coalesce(ended_at, ?), "
                f"hangup_side = coalesce(hangup_side, 'system') "
                f"WHERE status IN ({placeholders})",
                [utcnow(), *LIVE_STATUSES],
            )
        return cur.rowcount

    def _run(self) -> None:
        db = self._connect()
        while True:
            op = self._q.get()
            if op is _STOP:
                break
            assert callable(op)
            for attempt in range(20):
                try:
                    with db.conn:
                        op(db)
                    break
                except sqlite3.OperationalError as exc:  # locked/busy: retry, never drop
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        self._errors += 1
                        break
                    time.sleep(0.05 * (attempt + 1))
                except Exception:
                    self._errors += 1
                    break
        db.conn.close()
