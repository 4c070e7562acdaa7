"""Call-log schema, versioned with PRAGMA user_version. Migrations only add."""

from __future__ import annotations

import sqlite_utils

MIGRATIONS: list[list[str]] = [
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
    # outbound calls placed for a dialer job (vio_sbc/sip/outcall.py)
    [
        "ALTER TABLE calls ADD COLUMN dialer_job_id TEXT",
    ],
]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema to the latest version; returns that version."""
    db.enable_wal()
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for i, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.conn:
            for sql in statements:
                db.execute(sql)
            db.execute(f"PRAGMA user_version = {i}")
        version = i
    return version
