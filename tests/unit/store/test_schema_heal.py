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
    assert migrate(db) == len(MIGRATIONS) == 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)


def test_fresh_database_has_both_columns(tmp_path: Path) -> None:
    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "vio.db")))
    assert migrate(db) == 3
    assert {"dialer_job_id", "transfer_outcome"} <= columns(db)
