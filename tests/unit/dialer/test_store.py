"""The dialer's job queue: atomic claims across connections, leases, windows, DNC."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from vio_sbc.calllog.dialect import Dialect
from vio_sbc.dialer.rules import Decision, RetryPolicy
from vio_sbc.dialer.store import Campaign, JobSpec, JobStore
from vio_sbc.dialer.windows import DialerError

FROM = "+14155550100"
# Wednesday 2026-11-25 10:00 in New York
T0 = datetime.fromisoformat("2026-11-25T10:00:00-05:00").timestamp()


def campaign(name: str = "c1", **kw: object) -> Campaign:
    values: dict[str, object] = dict(name=name, from_number=FROM, agent=None,
                                     tz="America/New_York", windows=("Mon-Fri 09:00-18:00",))
    values.update(kw)
    return Campaign(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(backend: Backend) -> JobStore:
    return JobStore(backend("dialer.db"), owner="A")


def test_schema_is_versioned_in_its_own_file(tmp_path: Path) -> None:
    s = JobStore(tmp_path / "dialer.db", owner="A")
    assert s.db.scalar("PRAGMA user_version") == 1
    tables = {r["name"] for r in s.db.query("SELECT name FROM sqlite_master")}
    assert {"campaigns", "jobs", "attempts", "dnc"} <= tables
    assert s.location.endswith("dialer.db")


def test_postgresql_keeps_the_dialer_version_beside_the_call_logs(pg_server: Any) -> None:
    """One database, two migration sequences: each scope has its own version row."""
    from vio_sbc.calllog.postgres import PgDialect
    from vio_sbc.calllog.schema import MIGRATIONS
    from vio_sbc.calllog.store import CallLog

    url = pg_server.fresh_schema()
    s = JobStore(PgDialect(url), owner="A")
    CallLog(PgDialect(url)).close()
    assert dict((r["scope"], r["version"]) for r in s.db.query("SELECT * FROM vio_schema")) \
        == {"dialer": 1, "calllog": len(MIGRATIONS)}
    types = {r["column_name"]: r["data_type"] for r in s.db.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'jobs'")}
    assert types["not_before"] == "double precision" and types["id"] == "bigint"
    s.close()


def _claim_all(path: str | Dialect, owner: str, start: Any, out: Any) -> None:
    s = JobStore(path, owner=owner)
    start.wait(10)
    got = []
    while (c := s.claim(T0, 60, from_numbers=[FROM])) is not None:
        got.append(c.job_id)
        time.sleep(0.002)  # the dialer places the call between claims; SQLite's busy
        # handler is not fair, so without a gap one process could take every job
    out.put(got)


def test_two_processes_never_claim_the_same_job(backend: Backend) -> None:
    """Two processes, each with its own connection, race over 300 jobs."""
    path = backend("dialer.db")
    a = JobStore(path, owner="A")
    a.add_jobs([JobSpec(FROM, f"+1415555{i:04d}") for i in range(300)], T0)
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, o, start, out)) for o in "AB"]
    for p in procs:
        p.start()
    got = [out.get(timeout=30), out.get(timeout=30)]
    for p in procs:
        p.join(10)
    claimed = got[0] + got[1]
    assert len(claimed) == 300 and len(set(claimed)) == 300
    assert got[0] and got[1]  # both really competed
    rows = a.jobs()
    assert {r["status"] for r in rows} == {"dialing"} and all(r["attempts"] == 1 for r in rows)
    assert len(a.attempts()) == 300
    assert {r["lease_owner"] for r in rows} == {"A", "B"}


def test_claim_writes_the_attempt_row_and_lease(store: JobStore) -> None:
    jid = store.add_job(JobSpec(FROM, "+14155551000", variables={"k": "v"}), T0)
    c = store.claim(T0, 30, from_numbers=[FROM])
    assert c is not None and c.job_id == jid and c.attempt == 1 and c.variables == {"k": "v"}
    job = store.job(jid)
    assert (job["status"], job["lease_owner"], job["lease_expires"]) == ("dialing", "A", T0 + 30)
    [att] = store.attempts(jid)
    assert (att["status"], att["owner"], att["n"], att["call_id"]) == ("dialing", "A", 1, None)
    assert store.claim(T0, 30, from_numbers=[FROM]) is None
    store.placed(c, "call-1", T0)
    assert store.attempts(jid)[0]["call_id"] == "call-1"
    assert store.job(jid)["call_ids"] == '["call-1"]'


def test_claim_respects_not_before_priority_and_from_numbers(store: JobStore) -> None:
    late = store.add_job(JobSpec(FROM, "+14155551001", not_before=T0 + 60), T0)
    low = store.add_job(JobSpec(FROM, "+14155551002"), T0)
    high = store.add_job(JobSpec(FROM, "+14155551003", priority=5), T0)
    other = store.add_job(JobSpec("+14155550199", "+14155551004"), T0)
    order = []
    while (c := store.claim(T0, 30, from_numbers=[FROM])) is not None:
        order.append(c.job_id)
    assert order == [high, low]
    c = store.claim(T0 + 60, 30, from_numbers=[FROM])
    assert c is not None and c.job_id == late
    assert store.job(other)["status"] == "queued"


def test_expired_lease_makes_an_orphan_not_a_claimable_job(backend: Backend) -> None:
    a = JobStore(backend("dialer.db"), owner="A")
    b = JobStore(backend("dialer.db"), owner="B")
    jid = a.add_job(JobSpec(FROM, "+14155551000"), T0)
    c = a.claim(T0, 30, from_numbers=[FROM])
    assert c is not None
    a.placed(c, "call-1", T0)
    assert b.orphans(T0 + 29) == []
    a.renew([jid], T0 + 20, 30)
    assert b.orphans(T0 + 49) == []
    # A died: its lease runs out; B sees an orphan with the attempt's call id, and
    # cannot claim the job again for a new attempt
    [o] = b.orphans(T0 + 51)
    assert (o.job_id, o.attempts, o.call_id, o.owner) == (jid, 1, "call-1", "A")
    assert b.claim(T0 + 51, 30, from_numbers=[FROM]) is None
    # resolving it is idempotent: a second resolver loses
    assert b.finish(jid, o.attempt_id or 0, "unknown", 0, "x", Decision("retry_wait", T0 + 60),
                    T0 + 51, resolved=True)
    assert not a.finish(jid, o.attempt_id or 0, "busy", 486, "late", Decision("failed"), T0 + 52)
    assert b.job(jid)["status"] == "retry_wait"
    assert b.attempts(jid)[0]["status"] == "resolved"  # the loser wrote nothing
    c2 = b.claim(T0 + 60, 30, from_numbers=[FROM])
    assert c2 is not None and c2.attempt == 2


def test_window_moves_not_before_without_using_an_attempt(store: JobStore) -> None:
    store.create_campaign(campaign(), T0)
    evening = datetime.fromisoformat("2026-11-25T19:00:00-05:00").timestamp()
    ny = store.add_job(JobSpec(FROM, "+14155551000", campaign="c1"), T0)
    tokyo = store.add_job(JobSpec(FROM, "+81312345678", campaign="c1", tz="Asia/Tokyo"), T0)
    # 19:00 in New York (closed); 09:00 Thursday in Tokyo (open)
    c = store.claim(evening, 30, from_numbers=[FROM])
    assert c is not None and c.job_id == tokyo
    job = store.job(ny)
    assert job["status"] == "queued" and job["attempts"] == 0
    assert job["not_before"] == datetime.fromisoformat("2026-11-26T09:00:00-05:00").timestamp()


def test_dnc_fails_the_job_before_any_attempt(store: JobStore) -> None:
    jid = store.add_job(JobSpec(FROM, "+14155551000"), T0)
    store.dnc_add("+14155551000", "asked", T0)
    assert store.claim(T0, 30, from_numbers=[FROM]) is None
    job = store.job(jid)
    assert (job["status"], job["last_outcome"], job["last_reason"], job["attempts"]) == (
        "failed", "dnc", "do-not-call list", 0)
    assert store.attempts(jid) == []


def test_pause_resume_cancel(store: JobStore) -> None:
    store.create_campaign(campaign(), T0)
    ids = [store.add_job(JobSpec(FROM, f"+1415555100{i}", campaign="c1"), T0) for i in range(3)]
    store.set_campaign_status("c1", "paused", T0)
    assert store.claim(T0, 30, from_numbers=[FROM]) is None
    store.set_campaign_status("c1", "active", T0)
    c = store.claim(T0, 30, from_numbers=[FROM])
    assert c is not None
    assert store.set_campaign_status("c1", "cancelled", T0) == 2
    assert store.job(c.job_id)["status"] == "dialing"  # a live attempt is never cut
    assert [store.job(i)["status"] for i in ids if i != c.job_id] == ["cancelled"] * 2
    # the live attempt ends busy: its retry is cancelled with the campaign
    assert store.finish(c.job_id, c.attempt_id, "busy", 486, "Busy Here",
                        Decision("retry_wait", T0 + 60), T0)
    assert store.job(c.job_id)["status"] == "cancelled"
    with pytest.raises(DialerError, match=r"^campaign 'c1' is cancelled$"):
        store.set_campaign_status("c1", "active", T0)


def test_held_campaigns_are_skipped(store: JobStore) -> None:
    store.create_campaign(campaign("c1"), T0)
    store.create_campaign(campaign("c2"), T0)
    store.add_job(JobSpec(FROM, "+14155551000", campaign="c1"), T0)
    j2 = store.add_job(JobSpec(FROM, "+14155551001", campaign="c2"), T0)
    cb = store.add_job(JobSpec(FROM, "+14155551002", priority=-1), T0)
    c = store.claim(T0, 30, from_numbers=[FROM], held_campaigns=["c1"])
    assert c is not None and c.job_id == j2
    c = store.claim(T0, 30, from_numbers=[FROM], held_campaigns=["c1"])
    assert c is not None and c.job_id == cb


def test_unplaced_gives_the_attempt_back(store: JobStore) -> None:
    jid = store.add_job(JobSpec(FROM, "+14155551000"), T0)
    c = store.claim(T0, 30, from_numbers=[FROM])
    assert c is not None
    store.unplaced(c, 503, "trunk at max_calls", T0 + 5)
    job = store.job(jid)
    assert (job["status"], job["attempts"], job["not_before"]) == ("queued", 0, T0 + 5)
    assert store.attempts(jid)[0]["status"] == "refused"


def test_duplicates_and_unknown_campaign(store: JobStore) -> None:
    store.create_campaign(campaign(), T0)
    out = store.add_jobs([JobSpec(FROM, "+14155551000", campaign="c1"),
                          JobSpec(FROM, "+14155551000", campaign="c1")], T0)
    assert isinstance(out[0], int) and out[1] == "+14155551000 is already in campaign c1"
    with pytest.raises(DialerError, match=r"^no campaign 'zz' \(campaigns: c1\)$"):
        store.campaign("zz")
    with pytest.raises(DialerError, match=r"^campaign 'c1' already exists$"):
        store.create_campaign(campaign(), T0)
    assert store.campaign("c1").policy == RetryPolicy()
