"""The job queue: campaigns, jobs, attempts, do-not-call — in SQLite (`dialer.db`) or in
the cluster's shared PostgreSQL database, through the call log's database seam.

Every state change is one short write transaction (SQLite: `BEGIN IMMEDIATE`), so any
number of connections (processes, workers) can share the queue: a job is claimed by
exactly one of them — PostgreSQL's claim locks the rows it looks at with
`FOR UPDATE ... SKIP LOCKED`, so two workers never take or wait on the same job —
and its attempt row is written in the same transaction, before the call is placed.
A job moves on (`finish`) only from `dialing`, and its attempt is written only by the
transaction that moved it, so a result and a lease-expiry recovery never both count.
See docs/dialer.md for the exactly-once rule.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vio_sbc.calllog.dialect import Db, Dialect, as_dialect
from vio_sbc.dialer import rules
from vio_sbc.dialer.rules import CLAIMABLE, DIALING, FAILED, QUEUED, Decision, RetryPolicy
from vio_sbc.dialer.schema import migrate
from vio_sbc.dialer.windows import DialerError, next_opening, parse_windows, zone
from vio_sbc.fileperm import private_file

CAMPAIGN_STATUSES = ("active", "paused", "cancelled")


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    from_number: str
    agent: str | None
    tz: str
    windows: tuple[str, ...]
    cps: float = 1.0
    max_concurrent: int = 5
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    priority: int = 0
    status: str = "active"


@dataclass(frozen=True, slots=True)
class JobSpec:
    from_number: str
    to_number: str
    campaign: str | None = None
    agent: str | None = None
    name: str | None = None
    tz: str | None = None
    not_before: float = 0.0
    priority: int = 0
    policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=1))
    variables: dict[str, str] = field(default_factory=dict)
    source_line: int | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A job claimed for one attempt (its attempt row already written)."""

    job_id: int
    attempt_id: int
    attempt: int
    campaign: str | None
    from_number: str
    to_number: str
    agent: str | None
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class Orphan:
    """A job left in `dialing` by an owner whose lease expired."""

    job_id: int
    attempts: int
    policy: RetryPolicy
    attempt_id: int | None
    call_id: str | None
    owner: str | None


class JobStore:
    def __init__(self, where: Dialect | str | Path, owner: str | None = None) -> None:
        """`where`: the queue's dialect (`dialect_for(cfg, "dialer.db")`), or an SQLite
        file's path; `owner`: this dialer's name on its leases and attempts."""
        self.dialect = as_dialect(where)
        self.location = self.dialect.location
        if self.dialect.name == "sqlite":
            private_file(Path(self.location))  # 0600 whatever the umask (fileperm.py)
        self.owner = owner or uuid.uuid4().hex[:12]
        self.db = Db(self.dialect)
        if self.dialect.name == "sqlite":
            self.db.execute("PRAGMA synchronous = NORMAL")
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[Db]:
        """One write transaction (SQLite: BEGIN IMMEDIATE takes the write lock up front)."""
        with self.db.transaction() as db:
            yield db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.db.query(sql, params)

    # -- campaigns ---------------------------------------------------------------------
    def create_campaign(self, c: Campaign, now: float) -> None:
        with self.tx() as conn:
            if conn.one("SELECT 1 AS x FROM campaigns WHERE name = ?", (c.name,)):
                raise DialerError(f"campaign {c.name!r} already exists")
            conn.execute(
                "INSERT INTO campaigns (name, from_number, agent, tz, windows, cps, "
                "max_concurrent, policy, priority, status, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (c.name, c.from_number, c.agent, c.tz, json.dumps(list(c.windows)), c.cps,
                 c.max_concurrent, c.policy.to_json(), c.priority, c.status, now))

    def campaign(self, name: str) -> Campaign:
        rows = self._rows("SELECT * FROM campaigns WHERE name = ?", (name,))
        if not rows:
            known = [r["name"] for r in self._rows("SELECT name FROM campaigns ORDER BY name")]
            raise DialerError(f"no campaign {name!r}"
                              + (f" (campaigns: {', '.join(known)})" if known else ""))
        r = rows[0]
        return Campaign(name=r["name"], from_number=r["from_number"], agent=r["agent"],
                        tz=r["tz"], windows=tuple(json.loads(r["windows"])), cps=r["cps"],
                        max_concurrent=r["max_concurrent"],
                        policy=RetryPolicy.from_json(r["policy"]), priority=r["priority"],
                        status=r["status"])

    def campaigns(self) -> list[Campaign]:
        return [self.campaign(r["name"])
                for r in self._rows("SELECT name FROM campaigns ORDER BY name")]

    def set_campaign_status(self, name: str, status: str, now: float) -> int:
        """Pause, resume or cancel; cancel also cancels the jobs not yet being dialed
        (returns how many). Live calls are never cut."""
        current = self.campaign(name).status
        if current == "cancelled" and status != "cancelled":
            raise DialerError(f"campaign {name!r} is cancelled")
        with self.tx() as conn:
            conn.execute("UPDATE campaigns SET status = ? WHERE name = ?", (status, name))
            if status != "cancelled":
                return 0
            cur = conn.execute(
                "UPDATE jobs SET status = 'cancelled', updated_at = ?, ended_at = ? "
                f"WHERE campaign = ? AND status IN {CLAIMABLE}", (now, now, name))
            return int(cur.rowcount)

    # -- jobs ---------------------------------------------------------------------------
    def add_job(self, spec: JobSpec, now: float) -> int:
        with self.tx() as conn:
            return int(self._insert_job(conn, spec, now))

    def add_jobs(self, specs: Sequence[JobSpec], now: float) -> list[int | str]:
        """Insert many in one transaction; per spec the job id, or why it was skipped."""
        out: list[int | str] = []
        with self.tx() as conn:
            for spec in specs:
                job_id = self._insert_job(conn, spec, now, skip_duplicate=True)
                out.append(job_id if job_id is not None
                           else f"{spec.to_number} is already in campaign {spec.campaign}")
        return out

    def _insert_job(self, conn: Db, s: JobSpec, now: float, *,
                    skip_duplicate: bool = False) -> Any:
        """The new job's id (None: a duplicate number in its campaign, skipped)."""
        skip = " ON CONFLICT DO NOTHING" if skip_duplicate else ""
        return conn.scalar(
            "INSERT INTO jobs (campaign, from_number, to_number, agent, name, tz, not_before, "
            "priority, attempts, max_attempts, policy, status, variables, source_line, "
            f"created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,0,?,?,?,?,?,?,?){skip} "
            "RETURNING id",
            (s.campaign, s.from_number, s.to_number, s.agent, s.name, s.tz, s.not_before,
             s.priority, s.policy.max_attempts, s.policy.to_json(), QUEUED,
             json.dumps(s.variables, sort_keys=True), s.source_line, now, now))

    def job(self, job_id: int) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise DialerError(f"no job {job_id}")
        return rows[0]

    def jobs(self, campaign: str | None = None) -> list[dict[str, Any]]:
        if campaign is None:
            return self._rows("SELECT * FROM jobs ORDER BY id")
        return self._rows("SELECT * FROM jobs WHERE campaign = ? ORDER BY id", (campaign,))

    def callbacks(self, *, done: bool = False) -> list[dict[str, Any]]:
        """Single jobs (`vio-sbc dial`, agents' callbacks): waiting ones, or all."""
        where = "" if done else f" AND status IN {(*CLAIMABLE, DIALING)}"
        return self._rows(f"SELECT * FROM jobs WHERE campaign IS NULL{where} ORDER BY id")

    def cancel_job(self, job_id: int, now: float) -> None:
        """Cancel one job not yet being dialed (a live call is never cut)."""
        status = self.job(job_id)["status"]
        if status not in CLAIMABLE:
            raise DialerError(f"job {job_id} is {status}: only a queued or retry_wait job "
                              "can be cancelled")
        with self.tx() as conn:
            conn.execute("UPDATE jobs SET status = 'cancelled', updated_at = ?, ended_at = ? "
                         f"WHERE id = ? AND status IN {CLAIMABLE}", (now, now, job_id))

    def attempts(self, job_id: int | None = None) -> list[dict[str, Any]]:
        if job_id is None:
            return self._rows("SELECT * FROM attempts ORDER BY id")
        return self._rows("SELECT * FROM attempts WHERE job_id = ? ORDER BY id", (job_id,))

    def counts(self, campaign: str | None = None) -> dict[str, int]:
        where, params = ("WHERE campaign = ?", (campaign,)) if campaign else ("", ())
        out = {s: 0 for s in rules.STATUSES}
        for r in self._rows(f"SELECT status, count(*) AS n FROM jobs {where} GROUP BY status",
                            params):
            out[r["status"]] = r["n"]
        return out

    def live_by_campaign(self) -> dict[str, int]:
        return {r["campaign"]: r["n"] for r in self._rows(
            "SELECT campaign, count(*) AS n FROM jobs WHERE status = 'dialing' "
            "AND campaign IS NOT NULL GROUP BY campaign")}

    # -- do-not-call --------------------------------------------------------------------
    def dnc_add(self, number: str, reason: str | None, now: float) -> None:
        with self.tx() as conn:
            conn.execute("INSERT INTO dnc (number, reason, added_at) VALUES (?,?,?) "
                         "ON CONFLICT (number) DO UPDATE SET reason = excluded.reason, "
                         "added_at = excluded.added_at", (number, reason, now))

    def dnc_remove(self, number: str) -> bool:
        with self.tx() as conn:
            return int(conn.execute("DELETE FROM dnc WHERE number = ?", (number,)).rowcount) > 0

    def dnc_list(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM dnc ORDER BY number")

    # -- the dialer's side --------------------------------------------------------------
    def claim(self, now: float, lease_s: float, *, from_numbers: Sequence[str],
              held_campaigns: Sequence[str] = (), scan: int = 20) -> Claim | None:
        """Atomically take the best due job for one attempt, or None.

        In the same transaction: a number on the do-not-call list fails its job; a job
        outside its calling window gets `not_before` = the next opening (no attempt
        used); the claimed job goes to `dialing` under this owner's lease, its attempt
        count goes up and its attempt row is written — all before any call is placed."""
        if not from_numbers:
            return None
        nums = ",".join("?" for _ in from_numbers)
        held = ("AND (j.campaign IS NULL OR j.campaign NOT IN ("
                + ",".join("?" for _ in held_campaigns) + ")) ") if held_campaigns else ""
        sql = (
            "SELECT j.*, c.windows AS c_windows, c.tz AS c_tz FROM jobs j "
            "LEFT JOIN campaigns c ON c.name = j.campaign "
            f"WHERE j.status IN {CLAIMABLE} AND j.not_before <= ? "
            "AND (j.campaign IS NULL OR c.status = 'active') "
            f"AND j.from_number IN ({nums}) {held}"
            "ORDER BY j.priority DESC, j.not_before, j.id LIMIT ?"
            + self.dialect.skip_locked("j"))
        with self.tx() as conn:
            rows = conn.query(sql, (now, *from_numbers, *held_campaigns, scan))
            for r in rows:
                if conn.one("SELECT 1 AS x FROM dnc WHERE number = ?", (r["to_number"],)):
                    self._end(conn, r["id"], FAILED, now, outcome="dnc", code=0,
                              reason="do-not-call list")
                    continue
                opening = _opening(r, now)
                if opening is None:
                    self._end(conn, r["id"], FAILED, now, outcome="no_window", code=0,
                              reason="no calling window ever opens")
                    continue
                if opening > now:
                    conn.execute("UPDATE jobs SET not_before = ?, updated_at = ? WHERE id = ?",
                                 (opening, now, r["id"]))
                    continue
                n = r["attempts"] + 1
                conn.execute(
                    "UPDATE jobs SET status = 'dialing', attempts = ?, lease_owner = ?, "
                    "lease_expires = ?, updated_at = ? WHERE id = ?",
                    (n, self.owner, now + lease_s, now, r["id"]))
                attempt_id = conn.scalar(
                    "INSERT INTO attempts (job_id, n, owner, status, started_at) "
                    "VALUES (?,?,?,'dialing',?) RETURNING id", (r["id"], n, self.owner, now))
                return Claim(job_id=r["id"], attempt_id=int(attempt_id), attempt=n,
                             campaign=r["campaign"], from_number=r["from_number"],
                             to_number=r["to_number"], agent=r["agent"],
                             variables=json.loads(r["variables"]))
        return None

    def placed(self, claim: Claim, call_id: str, now: float) -> None:
        with self.tx() as conn:
            conn.execute("UPDATE attempts SET status = 'placed', call_id = ? WHERE id = ?",
                         (call_id, claim.attempt_id))
            ids = json.loads(conn.scalar("SELECT call_ids FROM jobs WHERE id = ?",
                                         (claim.job_id,)))
            conn.execute("UPDATE jobs SET call_ids = ?, updated_at = ? WHERE id = ?",
                         (json.dumps([*ids, call_id]), now, claim.job_id))

    def unplaced(self, claim: Claim, status: int, reason: str, retry_at: float) -> None:
        """place_call refused up front for a passing reason (capacity, trunk down): the
        attempt did not happen, so its number is given back and the job queued again."""
        with self.tx() as conn:
            conn.execute("UPDATE attempts SET status = 'refused', sip_status = ?, reason = ?, "
                         "ended_at = ? WHERE id = ?", (status, reason, retry_at, claim.attempt_id))
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, not_before = ?, "
                "lease_owner = NULL, lease_expires = NULL, last_status = ?, last_reason = ? "
                "WHERE id = ? AND status = 'dialing'", (retry_at, status, reason, claim.job_id))

    def finish(self, job_id: int, attempt_id: int, outcome: str, sip_status: int, reason: str,
               decision: Decision, now: float, *, resolved: bool = False) -> bool:
        """Record an attempt's end and move its job on. False if the job had already
        moved on (the result arrived twice, or another owner resolved it)."""
        with self.tx() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = ?, not_before = coalesce(?, not_before), "
                "last_outcome = ?, last_status = ?, last_reason = ?, lease_owner = NULL, "
                "lease_expires = NULL, updated_at = ?, ended_at = ? "
                "WHERE id = ? AND status = 'dialing'",
                (decision.status, decision.not_before, outcome, sip_status, reason, now,
                 now if decision.status in rules.TERMINAL else None, job_id))
            if cur.rowcount != 1:
                return False  # moved on already: its attempt keeps what was written then
            conn.execute(
                "UPDATE attempts SET status = ?, outcome = ?, sip_status = ?, reason = ?, "
                "ended_at = ? WHERE id = ?",
                ("resolved" if resolved else "done", outcome, sip_status, reason, now,
                 attempt_id))
            # a retry of a campaign cancelled while this attempt was live is cancelled
            conn.execute("UPDATE jobs SET status = 'cancelled', ended_at = ? WHERE id = ? "
                         "AND status = 'retry_wait' AND campaign IN "
                         "(SELECT name FROM campaigns WHERE status = 'cancelled')", (now, job_id))
            return True

    def _end(self, conn: Db, job_id: int, status: str, now: float, *,
             outcome: str, code: int, reason: str) -> None:
        conn.execute("UPDATE jobs SET status = ?, last_outcome = ?, last_status = ?, "
                     "last_reason = ?, updated_at = ?, ended_at = ? WHERE id = ?",
                     (status, outcome, code, reason, now, now, job_id))

    def renew(self, job_ids: Sequence[int], now: float, lease_s: float) -> None:
        if not job_ids:
            return
        marks = ",".join("?" for _ in job_ids)
        with self.tx() as conn:
            conn.execute(f"UPDATE jobs SET lease_expires = ? WHERE lease_owner = ? "
                         f"AND status = 'dialing' AND id IN ({marks})",
                         (now + lease_s, self.owner, *job_ids))

    def orphans(self, now: float) -> list[Orphan]:
        """Jobs in `dialing` whose owner's lease has expired, with their last attempt."""
        out = []
        for r in self._rows("SELECT * FROM jobs WHERE status = ? AND lease_expires < ?",
                            (DIALING, now)):
            att = self._rows("SELECT * FROM attempts WHERE job_id = ? ORDER BY id DESC "
                             "LIMIT 1", (r["id"],))
            a = att[0] if att else None
            out.append(Orphan(job_id=r["id"], attempts=r["attempts"],
                              policy=RetryPolicy.from_json(r["policy"]),
                              attempt_id=a["id"] if a else None,
                              call_id=a["call_id"] if a else None, owner=r["lease_owner"]))
        return out


def _opening(row: Mapping[str, Any], now: float) -> float | None:
    """Epoch time the job's calling window next opens (`now` if open); campaign jobs only."""
    if row["c_windows"] is None:
        return now
    windows = parse_windows(json.loads(row["c_windows"]))
    tz = zone(row["tz"] or row["c_tz"])
    at = next_opening(windows, tz, datetime.fromtimestamp(now, UTC))
    return None if at is None else at.timestamp()
