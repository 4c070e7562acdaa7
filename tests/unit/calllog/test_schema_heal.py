"""Call-log migration 3 heals databases migrated on a branch whose migration 2 differed."""

from __future__ import annotations

from pathlib import Path

from vio_sbc.calllog.dialect import Db, SqliteDialect
from vio_sbc.calllog.schema import MIGRATIONS, migrate, run_step


def columns(db: Db) -> set[str]:
    return db.dialect.columns(db.conn, "calls")


def version_1(path: Path) -> Db:
    db = Db(SqliteDialect(path))
    for step in MIGRATIONS[0]:
        run_step(db, step)
    return db


def test_a_database_whose_version_2_added_dialer_job_id_gets_transfer_outcome(
        tmp_path: Path) -> None:
    db = version_1(tmp_path / "vio.db")
    db.execute("ALTER TABLE calls ADD COLUMN dialer_job_id TEXT")  # the trunks branch's 2
    db.execute("PRAGMA user_version = 2")
    assert migrate(db) == len(MIGRATIONS) >= 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)


def test_fresh_database_has_both_columns(tmp_path: Path) -> None:
    db = Db(SqliteDialect(tmp_path / "vio.db"))
    assert migrate(db) == len(MIGRATIONS) >= 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)


def test_a_database_migrated_on_the_calllog_branch_heals(tmp_path: Path) -> None:
    """The calllog branch had the call-record columns and the transcript as its 3; main's
    3 (dialer_job_id) is then skipped, and 4 adds only what is missing."""
    db = version_1(tmp_path / "vio.db")
    db.execute("ALTER TABLE calls ADD COLUMN transfer_outcome TEXT")
    db.execute("ALTER TABLE calls ADD COLUMN summary TEXT")
    db.execute("CREATE TABLE transcript (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, "
               "seq INTEGER NOT NULL, speaker TEXT NOT NULL, start_ms INTEGER, end_ms INTEGER, "
               "text TEXT NOT NULL)")
    db.execute("PRAGMA user_version = 3")
    assert migrate(db) == len(MIGRATIONS) >= 6
    assert {"dialer_job_id", "transfer_outcome", "summary", "cost", "recording_path", "srtp",
            "worker"} <= \
        columns(db)


def test_the_sqlite_schema_renders_portable_tokens(tmp_path: Path) -> None:
    """DDL types come from the dialect: SQLite's REAL and INTEGER PRIMARY KEY."""
    db = Db(SqliteDialect(tmp_path / "vio.db"))
    migrate(db)
    types = {r["name"]: r["type"] for r in db.query("PRAGMA table_info(calls)")}
    assert types["received_at"] == "REAL" and types["id"] == "TEXT"
    events = {r["name"]: (r["type"], r["pk"]) for r in db.query("PRAGMA table_info(call_events)")}
    assert events["id"] == ("INTEGER", 1)
