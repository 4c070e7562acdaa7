from __future__ import annotations

import sqlite3
from pathlib import Path

from vio_sbc.store.calllog import CallLog
from vio_sbc.store.schema import MIGRATIONS


def test_rows_written_and_live_calls_closed_as_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "vio.db"
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
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT kind, data FROM call_events").fetchall() == [("dtmf", "5")]


def test_transfer_outcome_column_is_added_once_even_if_already_there(tmp_path: Path) -> None:
    import sqlite_utils

    from vio_sbc.store.schema import migrate

    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "v.db"))
    for sql in MIGRATIONS[0]:
        assert isinstance(sql, str)
        db.execute(sql)
    # another branch's migration added the same column already, at version 1
    db.execute("ALTER TABLE calls ADD COLUMN transfer_outcome TEXT")
    db.execute("PRAGMA user_version = 1")
    assert migrate(db) == len(MIGRATIONS)
    cols = [r[1] for r in db.execute("PRAGMA table_info(calls)").fetchall()]
    assert cols.count("transfer_outcome") == 1
    fresh = sqlite_utils.Database(sqlite3.connect(tmp_path / "w.db"))
    migrate(fresh)
    assert "transfer_outcome" in [r[1] for r in fresh.execute("PRAGMA table_info(calls)")]


def test_migration_from_version_1_adds_columns_and_transcript(tmp_path: Path) -> None:
    """A log written by version 1 (one with a dialer_job_id column already added by
    another migration) upgrades without losing rows or colliding on that column."""
    import sqlite_utils

    from vio_sbc.store.schema import migrate

    db = tmp_path / "vio.db"
    conn = sqlite3.connect(db)
    for sql in MIGRATIONS[0]:
        assert isinstance(sql, str)
        conn.execute(sql)
    conn.execute("ALTER TABLE calls ADD COLUMN dialer_job_id TEXT")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO calls (id, direction, status, dialer_job_id) "
                 "VALUES ('old', 'outbound', 'ended', 'job-7')")
    conn.commit()
    assert migrate(sqlite_utils.Database(conn)) == len(MIGRATIONS)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(calls)")}
    assert {"billable_s", "transfer_outcome", "recording_path", "summary", "summary_provider",
            "summary_error", "cost", "cost_currency", "cost_breakdown", "dialer_job_id"} <= cols
    assert conn.execute("SELECT dialer_job_id FROM calls").fetchone() == ("job-7",)
    assert [r[1] for r in conn.execute("PRAGMA table_info(transcript)")] == [
        "id", "call_id", "seq", "speaker", "start_ms", "end_ms", "text"]
    assert migrate(sqlite_utils.Database(conn)) == len(MIGRATIONS)  # idempotent
    conn.close()
