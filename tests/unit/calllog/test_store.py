from __future__ import annotations

from pathlib import Path

from tests.conftest import Backend
from vio_sbc.calllog.dialect import Db
from vio_sbc.calllog.schema import MIGRATIONS
from vio_sbc.calllog.store import CallLog, close_interrupted


def test_rows_written_and_live_calls_closed_as_interrupted(backend: Backend) -> None:
    db = backend()
    log = CallLog(db)
    log.open_call({"id": "a", "direction": "inbound", "status": "received", "received_at": 1.0})
    log.open_call({"id": "b", "direction": "inbound", "status": "received", "received_at": 2.0})
    log.update_call("a", status="ended", ended_at=3.0)
    log.update_call("b", status="answered", answered_at=2.5)
    log.add_event("b", 10, "dtmf", "5")
    assert log.flush()
    log.close()
    assert log.get("a") is not None
    # simulate a crash: "b" stayed live; a new CallLog closes it
    log2 = CallLog(db)
    assert log2.interrupted_on_start == 1 and log2.interrupted_ids == ["b"]
    row = log2.get("b")
    assert row is not None and row["status"] == "interrupted" and row["hangup_side"] == "system"
    assert log2.get("a")["status"] == "ended"  # type: ignore[index]
    log2.close()
    conn = Db(db)
    assert conn.query("SELECT kind, data FROM call_events") == [{"kind": "dtmf", "data": "5"}]
    assert db.schema_version(conn.conn, "calllog") == len(MIGRATIONS)
    if db.name == "sqlite":
        assert conn.scalar("PRAGMA journal_mode") == "wal"
    conn.close()


def test_a_worker_closes_only_its_own_calls_and_each_once(backend: Backend) -> None:
    """A cluster's shared log: w1 restarting leaves w2's live call alone; two processes
    closing w1's calls at once close each call once between them."""
    log = CallLog(backend(), worker="w1")
    other = CallLog(backend(), worker="w2")
    for i in range(20):
        log.open_call({"id": f"a{i}", "direction": "inbound", "status": "answered"})
    other.open_call({"id": "b", "direction": "inbound", "status": "answered"})
    assert log.flush() and other.flush()
    log.close()
    other.close()
    assert log.get("a0")["worker"] == "w1"  # type: ignore[index]
    dbs = [Db(backend()), Db(backend())]
    closed = close_interrupted(dbs[0], "w1") + close_interrupted(dbs[1], "w1")
    assert sorted(closed) == sorted(f"a{i}" for i in range(20))
    assert dbs[0].scalar("SELECT status FROM calls WHERE id = 'b'") == "answered"
    restarted = CallLog(backend(), worker="w2")
    assert restarted.interrupted_ids == ["b"]
    restarted.close()
    for d in dbs:
        d.close()


def test_transfer_outcome_column_is_added_once_even_if_already_there(tmp_path: Path) -> None:
    from vio_sbc.calllog.dialect import Db, SqliteDialect
    from vio_sbc.calllog.schema import migrate, run_step

    db = Db(SqliteDialect(tmp_path / "v.db"))
    for step in MIGRATIONS[0]:
        run_step(db, step)
    # another branch's migration added the same column already, at version 1
    db.execute("ALTER TABLE calls ADD COLUMN transfer_outcome TEXT")
    db.execute("PRAGMA user_version = 1")
    assert migrate(db) == len(MIGRATIONS)
    cols = [r["name"] for r in db.query("PRAGMA table_info(calls)")]
    assert cols.count("transfer_outcome") == 1
    fresh = Db(SqliteDialect(tmp_path / "w.db"))
    migrate(fresh)
    assert "transfer_outcome" in fresh.dialect.columns(fresh.conn, "calls")


def test_migration_from_version_1_adds_columns_and_transcript(tmp_path: Path) -> None:
    """A log written by version 1 (one with a dialer_job_id column already added by
    another migration) upgrades without losing rows or colliding on that column."""
    from vio_sbc.calllog.dialect import Db, SqliteDialect
    from vio_sbc.calllog.schema import migrate, run_step

    db = Db(SqliteDialect(tmp_path / "vio.db"))
    with db.transaction():
        for step in MIGRATIONS[0]:
            run_step(db, step)
        db.execute("ALTER TABLE calls ADD COLUMN dialer_job_id TEXT")
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO calls (id, direction, status, dialer_job_id) "
                   "VALUES ('old', 'outbound', 'ended', 'job-7')")
    assert migrate(db) == len(MIGRATIONS)
    cols = db.dialect.columns(db.conn, "calls")
    assert {"billable_s", "transfer_outcome", "recording_path", "summary", "summary_provider",
            "summary_error", "cost", "cost_currency", "cost_breakdown", "dialer_job_id"} <= cols
    assert db.scalar("SELECT dialer_job_id FROM calls") == "job-7"
    assert [r["name"] for r in db.query("PRAGMA table_info(transcript)")] == [
        "id", "call_id", "seq", "speaker", "start_ms", "end_ms", "text"]
    assert migrate(db) == len(MIGRATIONS)  # idempotent
    db.close()


def test_a_refused_write_is_counted_reported_and_fails_the_check(backend: Backend) -> None:
    from structlog.testing import capture_logs

    seen: list[str] = []
    now = [100.0]
    where = backend()
    log = CallLog(where, on_error=seen.append, hold_s=60, clock=lambda: now[0])
    assert log.check() == (True, where.location)
    row = {"id": "a", "direction": "inbound", "status": "received"}
    log.open_call(row)
    with capture_logs() as logs:
        log.open_call(row)  # the same primary key: the database refuses it
        assert log.flush()
    refusal = ("IntegrityError", "UNIQUE") if where.name == "sqlite" else (
        "UniqueViolation", "duplicate key")
    assert log.write_errors == 1 and len(seen) == 1 and refusal[1] in seen[0]
    ok, detail = log.check()
    assert not ok and "1 write(s) failed" in detail and refusal[0] in detail
    assert [e["event"] for e in logs] == ["call_log_write_failed"]
    log.update_call("a", status="ended")  # later writes succeed: still failing for hold_s
    assert log.flush() and not log.check()[0]
    now[0] += 60
    assert log.check()[0] and log.get("a")["status"] == "ended"  # type: ignore[index]
    log.close()


def test_an_update_of_a_row_never_written_is_a_failure(backend: Backend) -> None:
    log = CallLog(backend())
    log.update_call("never-opened", status="ended")
    assert log.flush()
    assert log.write_errors == 1 and "MissingRow" in (log.last_error or "")
    log.close()


def test_cleanup_never_touches_a_call_in_progress(backend: Backend) -> None:
    """Any live status, `dialing` included (cleanup.py once listed three of the four)."""
    from vio_sbc.calllog.queries import CallLogDb
    from vio_sbc.calllog.schema import LIVE_STATUSES

    log = CallLog(backend())
    for i, status in enumerate((*LIVE_STATUSES, "ended")):
        log.open_call({"id": f"c{i}", "direction": "outbound", "status": status,
                       "received_at": 1.0, "recording_path": f"/r/{i}.wav"})
    assert log.flush()
    log.close()
    with CallLogDb(backend()) as db:
        assert db.ended_before(10.0) == [(f"c{len(LIVE_STATUSES)}",
                                          f"/r/{len(LIVE_STATUSES)}.wav")]
