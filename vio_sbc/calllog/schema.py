"""The call-log schema and its versions: the one place tables and columns are defined.

`MIGRATIONS[i]` takes a database from version i to i + 1; migrations only add.
Steps are portable SQL with DDL type tokens (`{serial}`: an auto-numbered integer
primary key, `{real}`: a double) that the dialect renders, or `add_column` steps
(a column added unless it is there: two branches may each add the same column).
The version lives where the dialect keeps it (SQLite: `PRAGMA user_version`).

To add a column: append `[add_column("calls", "name", "TEXT")]` as a new migration
and document it in docs/calllog.md.
"""

from __future__ import annotations

from collections.abc import Callable

from vio_sbc.calllog.dialect import Db

Step = str | Callable[[Db], None]

# a call in one of these is still going on (a crash leaves it there: see store.py)
LIVE_STATUSES = ("received", "ringing", "answered", "dialing")
# every status a row can have: live, then final (an outbound call not answered is
# classified: vio_sbc.callcontrol.outcome.classify_outcome)
STATUSES = (*LIVE_STATUSES, "ended", "refused", "cancelled", "interrupted", "no_answer",
            "busy", "rejected", "failed")


def add_column(table: str, column: str, sql_type: str) -> Step:
    """A step adding a column unless it is there already."""

    def step(db: Db) -> None:
        if column not in db.dialect.columns(db.conn, table):
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
            received_at {real},
            ringing_at {real},
            answered_at {real},
            ended_at {real},
            duration_s {real},
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
            id {serial},
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
            id {serial},
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
    # 5: the worker that carried the call (a cluster sharing one PostgreSQL call log: its
    # recording is a file on that worker; a restart closes only its own live calls)
    [add_column("calls", "worker", "TEXT"),
     "CREATE INDEX IF NOT EXISTS calls_worker_status ON calls(worker, status)"],
    # 6: the SRTP suite of the call's audio (NULL: plain RTP); `transport` (udp, tcp,
    # tls) was there from 1
    [add_column("calls", "srtp", "TEXT")],
]


def run_step(db: Db, step: Step) -> None:
    if callable(step):
        step(db)
    else:
        db.execute(step.format(**db.dialect.types))


def migrate(db: Db, migrations: list[list[Step]] | None = None, scope: str = "calllog") -> int:
    """Bring the schema of `scope` (the call log's, or another sequence such as the
    dialer's) to its latest version; returns that version. Each version is one
    transaction under the dialect's schema lock, the version read again inside it:
    workers starting together migrate once."""
    steps_of = MIGRATIONS if migrations is None else migrations
    dialect = db.dialect
    dialect.prepare(db.conn)
    version = dialect.schema_version(db.conn, scope)
    while version < len(steps_of):
        with db.transaction():
            dialect.lock_schema(db.conn)
            version = dialect.schema_version(db.conn, scope)
            if version >= len(steps_of):
                break
            for step in steps_of[version]:
                run_step(db, step)
            version += 1
            dialect.set_schema_version(db.conn, version, scope)
    return version
