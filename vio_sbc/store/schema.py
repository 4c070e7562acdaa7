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
    # 4: call records: billing, recording, summary, cost; the transcript. Every column is
    # added if missing (a database migrated on the calllog branch had these as its 3).
    [
        *(add_column("calls", name, sql_type) for name, sql_type in (
            ("billable_s", "INTEGER"),
            ("transfer_outcome", "TEXT"),
            ("recording_path", "TEXT"),
            ("summary", "TEXT"),
            ("summary_provider", "TEXT"),
            ("summary_error", "TEXT"),
            ("cost", "TEXT"),            # Decimal as text, e.g. "0.012750"
            ("cost_currency", "TEXT"),
            ("cost_breakdown", "TEXT"),  # JSON object
            ("dialer_job_id", "TEXT"),
        )),
        """CREATE TABLE IF NOT EXISTS transcript (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL REFERENCES calls(id),
            seq INTEGER NOT NULL,
            speaker TEXT NOT NULL,
            start_ms INTEGER,
            end_ms INTEGER,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS transcript_call ON transcript(call_id, start_ms, seq)",
        "CREATE INDEX IF NOT EXISTS calls_ended ON calls(ended_at)",
    ],
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
