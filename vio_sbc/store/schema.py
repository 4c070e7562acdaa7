"""Call-log schema, versioned with PRAGMA user_version. Migrations only add."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

Step = str | Callable[[sqlite_utils.Database], None]


def add_column(table: str, column: str, sql_type: str) -> Step:
    """A migration step adding a column unless it is there already (two branches may
    each add the same column in their own migration)."""

    def step(db: sqlite_utils.Database) -> None:
        cols = {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in cols:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")

    return step


MIGRATIONS: list[list[Step]] = [
    # 1: calls and their events
    [
        """CREATE TABLE IF NOT EXISTS calls (
            id TEXT PRIMARY KEY,
            sip_call_id TEXT,
            direction TEXT NOT NULL,
            trunk TEXT,
            number TEXT,
            agent TEXT,
            default_agent INTEGER,
            caller TEXT,
            callee TEXT,
            source TEXT,
            transport TEXT,
            status TEXT NOT NULL,
            received_at REAL,
            ringing_at REAL,
            answered_at REAL,
            ended_at REAL,
            duration_s REAL,
            final_status INTEGER,
            final_reason TEXT,
            hangup_side TEXT,
            codec TEXT,
            rx_frames INTEGER,
            rx_voiced_frames INTEGER,
            tx_frames INTEGER,
            tx_audio_frames INTEGER
        )""",
        "CREATE INDEX IF NOT EXISTS calls_received ON calls(received_at)",
        "CREATE INDEX IF NOT EXISTS calls_sip_call_id ON calls(sip_call_id)",
        """CREATE TABLE IF NOT EXISTS call_events (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL REFERENCES calls(id),
            t_ms INTEGER,
            kind TEXT NOT NULL,
            data TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS call_events_call ON call_events(call_id)",
    ],
    # 2: outcome of a blind transfer (REFER): "completed 200 OK", "failed 501 Not Implemented"
    [add_column("calls", "transfer_outcome", "TEXT")],
    # 3: outbound calls placed for a dialer job (vio_sbc/sip/outcall.py). Both columns are
    # added if missing: a database migrated on a branch that had either one as its 2 heals.
    [add_column("calls", "dialer_job_id", "TEXT"),
     add_column("calls", "transfer_outcome", "TEXT")],
]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema to the latest version; returns that version."""
    db.enable_wal()
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for i, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.conn:
            for sql in statements:
                if callable(sql):
                    sql(db)
                else:
                    db.execute(sql)
            db.execute(f"PRAGMA user_version = {i}")
        version = i
    return version
