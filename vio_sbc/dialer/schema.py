"""Schema of the dialer's queue: `<storage.dir>/dialer.db` with SQLite, the shared
PostgreSQL database (`storage.database`) in a cluster.

Portable SQL through the call log's database seam (`vio_sbc.calllog.dialect`): the
DDL tokens `{serial}` and `{real}` are the dialect's types, and the version is the
`dialer` scope's (SQLite: PRAGMA user_version of its own file; PostgreSQL: a row of
`vio_schema`), so the two migration sequences never meet. Migrations only add.
"""

from __future__ import annotations

from vio_sbc.calllog.dialect import Db
from vio_sbc.calllog.schema import Step
from vio_sbc.calllog.schema import migrate as migrate_scope

SCOPE = "dialer"

MIGRATIONS: list[list[Step]] = [
    # 1: campaigns, jobs, attempts, do-not-call
    [
        """CREATE TABLE IF NOT EXISTS campaigns (
            name TEXT PRIMARY KEY,
            from_number TEXT NOT NULL,
            agent TEXT,
            tz TEXT NOT NULL,
            windows TEXT NOT NULL,          -- JSON list of "Mon-Fri 09:00-18:00"
            cps {real} NOT NULL,
            max_concurrent INTEGER NOT NULL,
            policy TEXT NOT NULL,           -- JSON RetryPolicy
            priority INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,           -- active | paused | cancelled
            created_at {real} NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS jobs (
            id {serial},
            campaign TEXT REFERENCES campaigns(name),
            from_number TEXT NOT NULL,
            to_number TEXT NOT NULL,
            agent TEXT,
            name TEXT,
            tz TEXT,                        -- callee's zone; NULL: the campaign's
            not_before {real} NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            policy TEXT NOT NULL,           -- JSON RetryPolicy
            status TEXT NOT NULL,
            last_outcome TEXT,
            last_status INTEGER,
            last_reason TEXT,
            variables TEXT NOT NULL DEFAULT '{{}}',
            lease_owner TEXT,
            lease_expires {real},
            call_ids TEXT NOT NULL DEFAULT '[]',
            source_line INTEGER,            -- line of the contacts CSV it came from
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL,
            ended_at {real}
        )""",
        "CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, not_before)",
        "CREATE INDEX IF NOT EXISTS jobs_campaign ON jobs(campaign, status)",
        """CREATE UNIQUE INDEX IF NOT EXISTS jobs_campaign_number ON jobs(campaign, to_number)
            WHERE campaign IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS attempts (
            id {serial},
            job_id INTEGER NOT NULL REFERENCES jobs(id),
            n INTEGER NOT NULL,             -- the job's attempt number
            owner TEXT NOT NULL,            -- dialer instance that made it
            status TEXT NOT NULL,           -- dialing | placed | done | refused | resolved
            call_id TEXT,                   -- call-log id (vio.db calls.id)
            outcome TEXT,
            sip_status INTEGER,
            reason TEXT,
            started_at {real} NOT NULL,
            ended_at {real}
        )""",
        "CREATE INDEX IF NOT EXISTS attempts_job ON attempts(job_id)",
        """CREATE TABLE IF NOT EXISTS dnc (
            number TEXT PRIMARY KEY,
            reason TEXT,
            added_at {real} NOT NULL
        )""",
    ],
]


def migrate(db: Db) -> int:
    """Bring the dialer's schema to the latest version; returns that version."""
    return migrate_scope(db, MIGRATIONS, SCOPE)
