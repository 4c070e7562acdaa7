"""Schema of the dialer's own database, `<storage.dir>/dialer.db`.

Versioned with PRAGMA user_version, like the call log, but in a separate file so
the two migration sequences never meet. Migrations only add.
"""

from __future__ import annotations

import sqlite_utils

MIGRATIONS: list[list[str]] = [
    # 1: campaigns, jobs, attempts, do-not-call
    [
        """CREATE TABLE IF NOT EXISTS campaigns (
            name TEXT PRIMARY KEY,
            from_number TEXT NOT NULL,
            agent TEXT,
            tz TEXT NOT NULL,
            windows TEXT NOT NULL,          -- JSON list of "Mon-Fri 09:00-18:00"
            cps REAL NOT NULL,
            max_concurrent INTEGER NOT NULL,
            policy TEXT NOT NULL,           -- JSON RetryPolicy
            priority INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,           -- active | paused | cancelled
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY,
            campaign TEXT REFERENCES campaigns(name),
            from_number TEXT NOT NULL,
            to_number TEXT NOT NULL,
            agent TEXT,
            name TEXT,
            tz TEXT,                        -- callee's zone; NULL: the campaign's
            not_before REAL NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            policy TEXT NOT NULL,           -- JSON RetryPolicy
            status TEXT NOT NULL,
            last_outcome TEXT,
            last_status INTEGER,
            last_reason TEXT,
            variables TEXT NOT NULL DEFAULT '{}',
            lease_owner TEXT,
            lease_expires REAL,
            call_ids TEXT NOT NULL DEFAULT '[]',
            source_line INTEGER,            -- line of the contacts CSV it came from
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            ended_at REAL
        )""",
        "CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, not_before)",
        "CREATE INDEX IF NOT EXISTS jobs_campaign ON jobs(campaign, status)",
        """CREATE UNIQUE INDEX IF NOT EXISTS jobs_campaign_number ON jobs(campaign, to_number)
            WHERE campaign IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS attempts (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            n INTEGER NOT NULL,             -- the job's attempt number
            owner TEXT NOT NULL,            -- dialer instance that made it
            status TEXT NOT NULL,           -- dialing | placed | done | refused | resolved
            call_id TEXT,                   -- call-log id (vio.db calls.id)
            outcome TEXT,
            sip_status INTEGER,
            reason TEXT,
            started_at REAL NOT NULL,
            ended_at REAL
        )""",
        "CREATE INDEX IF NOT EXISTS attempts_job ON attempts(job_id)",
        """CREATE TABLE IF NOT EXISTS dnc (
            number TEXT PRIMARY KEY,
            reason TEXT,
            added_at REAL NOT NULL
        )""",
    ],
]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the schema to the latest version; returns that version."""
    db.enable_wal()
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for i, statements in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql in statements:
                db.execute(sql)
            db.execute(f"PRAGMA user_version = {i}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        version = i
    return version
