"""Call-log migration 3 heals databases migrated on a branch whose migration 2 differed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from vio_sbc.store.schema import MIGRATIONS, migrate


def columns(db: sqlite_utils.Database) -> set[str]:
    return {r[1] for r in db.execute("PRAGMA table_info(calls)").fetchall()}


def test_a_database_whose_version_2_added_dialer_job_id_gets_transfer_outcome(
        tmp_path: Path) -> None:
    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "vio.db")))
    for sql in MIGRATIONS[0]:
        assert isinstance(sql, str)
        db.execute(sql)
    db.execute("ALTER TABLE calls ADD COLUMN dialer_job_id TEXT")  # the trunks branch's 2
    db.execute("PRAGMA user_version = 2")
    assert migrate(db) == len(MIGRATIONS) >= 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)


def test_fresh_database_has_both_columns(tmp_path: Path) -> None:
    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "vio.db")))
    assert migrate(db) == len(MIGRATIONS) >= 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)


def test_a_database_migrated_on_the_calllog_branch_heals(tmp_path: Path) -> None:
    """The calllog branch had the call-record columns and the transcript as its 3; main's
    3 (dialer_job_id) is then skipped, and 4 adds only what is missing."""
    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "vio.db")))
    for sql in MIGRATIONS[0]:
        assert isinstance(sql, str)
        db.execute(sql)
    db.execute("ALTER TABLE calls ADD COLUMN transfer_outcome TEXT")
    db.execute("ALTER TABLE calls ADD COLUMN summary TEXT")
    db.execute("CREATE TABLE transcript (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, "
               "seq INTEGER NOT NULL, speaker TEXT NOT NULL, start_ms INTEGER, end_ms INTEGER, "
               "text TEXT NOT NULL)")
    db.execute("PRAGMA user_version = 3")
    assert migrate(db) == len(MIGRATIONS) == 4
    assert {"dialer_job_id", "transfer_outcome", "summary", "cost", "recording_path"} <= \
        columns(db)
