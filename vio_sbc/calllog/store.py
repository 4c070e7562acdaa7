"""The server's call log: one row per call attempt from a trunk, written off the SIP thread.

Writes come from the SIP thread and the agent engine; they go through a bounded
queue to one writer thread that owns its connection, so SIP handling never waits on
the disk. What is queued when the writer looks (up to `BATCH`) is written in one
transaction: one commit for a burst of calls, not one per row. Rows are written as
the call progresses (received, answered, ended) so a crash leaves a row that says
how far the call got; on start, calls left live by a crash are closed with status
`interrupted` (`interrupted_ids`, see recovery.py). A worker of a cluster (`worker=`:
its name, written on each of its rows) closes only its
own: the other workers' calls in the shared PostgreSQL log are live.

A write the database refuses (disk full, a broken file) is not retried: it is
counted, logged (`call_log_write_failed`, rate-limited), reported to `on_error` (the
switch turns it into `vio_calllog_write_errors_total`) and `check()` — the `call_log`
check of /readyz — fails for `hold_s` (60 s) after it. An update that finds no row
(its insert was refused) is such a failure too: that data is lost. A busy database
(another writer's lock) is retried, never dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import structlog

from vio_sbc.calllog.dialect import Db, Dialect, as_dialect
from vio_sbc.calllog.queries import CallLogDb
from vio_sbc.calllog.schema import LIVE_STATUSES, migrate
from vio_sbc.log import RateLimiter

log = structlog.get_logger("vio_sbc.calllog")

Op = Callable[[Db], Any]
_STOP = object()
RETRIES = 20
BATCH = 200  # writes applied in one transaction at most
HOLD_S = 60.0  # /readyz fails this long after a refused write
PROBE_TIMEOUT_S = 1.0


class MissingRow(Exception):
    """An update found no row to change: the call's row was never written."""


def close_interrupted(db: Db, worker: str | None) -> list[str]:
    """Close the calls left live by a dead process as `interrupted`: all of them, or the
    named worker's. One UPDATE ... RETURNING: of two processes closing one worker's calls
    at once, each call is closed (and reported) by one of them. The ids closed here."""
    marks = ",".join("?" for _ in LIVE_STATUSES)
    where = f"status IN ({marks})" + (" AND worker = ?" if worker is not None else "")
    args: list[Any] = [*LIVE_STATUSES, *([worker] if worker is not None else [])]
    with db.transaction():
        rows = db.execute(
            "UPDATE calls SET status = 'interrupted', ended_at = coalesce(ended_at, ?), "
            f"hangup_side = coalesce(hangup_side, 'system') WHERE {where} RETURNING id",
            [time.time(), *args]).fetchall()
    return sorted(str(r[0]) for r in rows)


class CallLog:
    """Asynchronous writer with synchronous `flush()`; reads open their own connection."""

    def __init__(self, where: Dialect | str | Path, *, max_queue: int = 10000,
                 on_error: Callable[[str], None] | None = None, hold_s: float = HOLD_S,
                 clock: Callable[[], float] = time.monotonic,
                 worker: str | None = None) -> None:
        """`where`: the database's dialect (`dialect_for(cfg)`), or an SQLite file's path;
        `on_error` hears of each refused write (writer thread); `check()` fails for
        `hold_s` after one; `worker`: this process's name in a cluster."""
        self.dialect = as_dialect(where)
        self.on_error = on_error
        self.worker = worker
        db = Db(self.dialect)
        try:
            migrate(db)
            self.interrupted_ids = self._close_interrupted(db)  # closed by this start
        finally:
            db.close()
        self.interrupted_on_start = len(self.interrupted_ids)
        self.hold_s = hold_s
        self.clock = clock
        self.write_errors = 0
        self.last_error: str | None = None
        self.failed_at: float | None = None  # clock() of the last refused write
        self._error_log = RateLimiter(burst=3, window=60.0)
        self._q: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="calllog-writer", daemon=True)
        self._thread.start()

    @property
    def location(self) -> str:
        return self.dialect.location

    # -- write side (any thread) -------------------------------------------
    def open_call(self, row: dict[str, Any]) -> None:
        if self.worker is not None:
            row = {**row, "worker": self.worker}
        self._put(lambda db: db.insert("calls", row))

    def update_call(self, call_id: str, **fields: Any) -> None:
        def op(db: Db) -> None:
            if db.update("calls", call_id, fields) == 0:
                raise MissingRow(f"no row for call {call_id} (its insert was lost)")

        self._put(op)

    def add_event(self, call_id: str, t_ms: int, kind: str, data: str) -> None:
        self._put(lambda db: db.insert(
            "call_events", {"call_id": call_id, "t_ms": t_ms, "kind": kind, "data": data}))

    def add_transcript(self, call_id: str, speaker: str, start_ms: int, end_ms: int,
                       text: str) -> None:
        """One transcript row; `seq` numbers the call's rows in the order they were
        logged (ties on `start_ms` keep that order)."""
        self._put(lambda db: db.execute(
            "INSERT INTO transcript (call_id, seq, speaker, start_ms, end_ms, text) "
            "VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM transcript "
            "WHERE call_id = ?), ?, ?, ?, ?)",
            [call_id, call_id, speaker, start_ms, end_ms, text]))

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far is written (or `timeout`)."""
        done = threading.Event()
        self._q.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout)

    # -- read side and health ----------------------------------------------
    def reader(self) -> CallLogDb:
        return CallLogDb(self.dialect)

    def get(self, call_id: str) -> dict[str, Any] | None:
        with self.reader() as r:
            return r.get(call_id)

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        """The call's transcript in call time order (start_ms, then seq)."""
        with self.reader() as r:
            return r.transcript(call_id)

    def check(self) -> tuple[bool, str]:
        """Readiness (any thread): no write failed in the last `hold_s` seconds, and a
        write lock can be taken now (nothing is written)."""
        failed_at = self.failed_at
        if failed_at is not None and self.clock() - failed_at < self.hold_s:
            return False, (f"{self.location}: {self.write_errors} write(s) failed, last "
                           f"{self.clock() - failed_at:.0f} s ago: {self.last_error}")
        try:
            self.dialect.probe_write_lock(PROBE_TIMEOUT_S)
        except self.dialect.error as exc:
            return False, f"{self.location}: {exc}"
        return True, self.location

    # -- internals ---------------------------------------------------------
    def _put(self, op: Op) -> None:
        self._q.put(op)

    def _close_interrupted(self, db: Db) -> list[str]:
        return close_interrupted(db, self.worker)

    def _run(self) -> None:
        db = Db(self.dialect)
        while True:
            item = self._q.get()
            if item is _STOP:
                break
            if isinstance(item, threading.Event):  # flush(): everything before it is written
                item.set()
                continue
            assert callable(item)
            batch: list[Op] = [cast(Op, item)]
            stop: object = None
            while len(batch) < BATCH:  # what is queued already goes in one transaction
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if not callable(more) or isinstance(more, threading.Event):
                    stop = more
                    break
                batch.append(cast(Op, more))
            self._apply_batch(db, batch)
            if isinstance(stop, threading.Event):
                stop.set()
            elif stop is _STOP:
                break
        db.close()

    def _apply_batch(self, db: Db, batch: list[Op]) -> None:
        """Queued writes in one transaction (one commit: one fsync, one round trip); if
        the database refuses any of them, each is applied alone, so only that one is
        lost."""
        if len(batch) > 1:
            try:
                with db.transaction():
                    for op in batch:
                        op(db)
                return
            except Exception:
                pass  # retried one by one below, where each refusal is reported
        for op in batch:
            self._apply(db, op)

    def _apply(self, db: Db, op: Op) -> None:
        for attempt in range(RETRIES):
            if getattr(db.conn, "closed", False):  # PostgreSQL: the server went away
                try:
                    db.reconnect()
                except self.dialect.error as exc:
                    self._failed(exc)
                    return
            try:
                with db.transaction():
                    op(db)
                return
            except Exception as exc:
                if attempt + 1 < RETRIES and self.dialect.retryable(exc):
                    time.sleep(0.05 * (attempt + 1))  # another writer's lock: wait, retry
                    continue
                self._failed(exc)
                return

    def _failed(self, exc: Exception) -> None:
        self.write_errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.failed_at = self.clock()
        ok, suppressed = self._error_log.allow("write")
        if ok:
            log.error("call_log_write_failed", db=self.location, error=self.last_error,
                      write_errors=self.write_errors, suppressed=suppressed)
        if self.on_error is not None:
            try:
                self.on_error(self.last_error)
            except Exception:
                log.exception("call_log_on_error_failed")
