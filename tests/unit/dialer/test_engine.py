"""The Dialer over an in-memory originator: limits, retries, refusals, crash recovery.

The originator stands in for Softswitch.place_call/outbound_capacity (the SIP side is
covered by tests/integration/test_dialer.py); the clock is injected, nothing sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import Backend
from vio_sbc.config.model import DialerSettings
from vio_sbc.dialer.contract import OutboundRequest, OutboundResult
from vio_sbc.dialer.engine import Dialer
from vio_sbc.dialer.rules import RetryPolicy
from vio_sbc.dialer.store import Campaign, JobSpec, JobStore
from vio_sbc.errors import SipRefusal

FROM = "+14155550100"
T0 = datetime.fromisoformat("2026-11-25T10:00:00-05:00").timestamp()


class Switch:
    """Records calls; results are delivered by the test."""

    def __init__(self, max_calls: int = 10) -> None:
        self.max_calls = max_calls
        self.calls: dict[str, tuple[OutboundRequest, Callable[[OutboundResult], None]]] = {}
        self.placed: list[tuple[float, OutboundRequest]] = []
        self.refuse: SipRefusal | None = None
        self.clock = T0

    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str:
        if self.refuse is not None:
            raise self.refuse
        assert on_result is not None
        cid = f"call-{len(self.placed) + 1}"
        self.calls[cid] = (req, on_result)
        self.placed.append((self.clock, req))
        return cid

    def outbound_capacity(self, trunk: str) -> tuple[int, int]:
        return len(self.calls), self.max_calls

    def end(self, cid: str, outcome: str = "answered", status: int = 200) -> None:
        _, cb = self.calls.pop(cid)
        cb(OutboundResult(cid, outcome, status, "x", 1.0))


def make(tmp: Backend, sw: Switch, owner: str = "A", rows: dict[str, Any] | None = None,
         **settings: Any) -> Dialer:
    values: dict[str, Any] = {"enabled": True, "lease_s": 30.0, "poll_s": 0.01}
    values.update(settings)
    return Dialer(sw, JobStore(tmp("dialer.db"), owner=owner), DialerSettings(**values),
                  {FROM: "pbx"}, {"pbx": 100.0}, lambda cid: (rows or {}).get(cid),
                  clock=lambda: sw.clock)


def run(d: Dialer, sw: Switch, until: float, step: float = 0.05) -> None:
    while sw.clock < until:
        d.tick(sw.clock)
        sw.clock = round(sw.clock + step, 6)


def test_campaign_limits_hold(backend: Backend) -> None:
    sw = Switch()
    d = make(backend, sw)
    d.store.create_campaign(Campaign("c", FROM, None, "America/New_York",
                                     ("Mon-Fri 09:00-18:00",), cps=2.0, max_concurrent=3), T0)
    d.store.add_jobs([JobSpec(FROM, f"+1415555{i:04d}", campaign="c") for i in range(20)], T0)
    max_live = 0
    while sw.clock < T0 + 60 and d.store.counts("c")["completed"] < 20:
        d.tick(sw.clock)
        max_live = max(max_live, len(sw.calls))
        for cid in list(sw.calls):  # each call lasts 1.2 s
            if sw.placed[int(cid.split("-")[1]) - 1][0] + 1.2 <= sw.clock:
                sw.end(cid)
        sw.clock = round(sw.clock + 0.05, 6)
    assert d.store.counts("c")["completed"] == 20
    assert max_live == 3
    starts = [t for t, _ in sw.placed]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.5


def test_trunk_capacity_is_shared(backend: Backend) -> None:
    sw = Switch(max_calls=2)
    d = make(backend, sw)
    d.store.add_jobs([JobSpec(FROM, f"+1415555{i:04d}") for i in range(5)], T0)
    sw.calls["other"] = (OutboundRequest(FROM, "+1"), lambda r: None)  # not the dialer's
    run(d, sw, T0 + 2)
    assert len(sw.placed) == 1
    assert d.store.counts()["queued"] == 4


def test_busy_retries_then_fails_at_max_attempts(backend: Backend) -> None:
    sw = Switch()
    d = make(backend, sw)
    d.store.add_job(JobSpec(FROM, "+14155551000",
                            policy=RetryPolicy(max_attempts=3, busy_s=10)), T0)
    for n in range(1, 4):
        run(d, sw, sw.clock + 11)
        assert len(sw.placed) == n
        sw.end(f"call-{n}", "busy", 486)
        job = d.store.job(1)
        assert job["attempts"] == n
        assert job["status"] == ("retry_wait" if n < 3 else "failed")
    run(d, sw, sw.clock + 30)
    assert len(sw.placed) == 3
    assert [a["outcome"] for a in d.store.attempts(1)] == ["busy"] * 3
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sw.placed)]
    assert all(g >= 10 for g in gaps)


def test_refusals(backend: Backend) -> None:
    sw = Switch()
    d = make(backend, sw, refused_retry_s=5.0)
    jid = d.store.add_job(JobSpec(FROM, "+14155551000"), T0)
    sw.refuse = SipRefusal(503, "trunk pbx at max_calls")
    d.tick(sw.clock)
    job = d.store.job(jid)
    assert (job["status"], job["attempts"], job["not_before"]) == ("queued", 0, T0 + 5)
    sw.refuse = SipRefusal(404, "unknown number")
    run(d, sw, T0 + 6)
    job = d.store.job(jid)
    assert (job["status"], job["last_status"], job["attempts"]) == ("failed", 404, 1)


def test_drain_stops_claiming_and_live_calls_finish(backend: Backend) -> None:
    sw = Switch()
    d = make(backend, sw)
    d.store.add_jobs([JobSpec(FROM, f"+1415555{i:04d}") for i in range(3)], T0)
    d.tick(sw.clock)
    assert len(sw.placed) == 1
    d.drain()
    run(d, sw, T0 + 5)
    assert len(sw.placed) == 1
    sw.end("call-1")
    d.close(sw.clock)
    s = JobStore(backend("dialer.db"))
    assert s.counts()["completed"] == 1 and s.counts()["queued"] == 2


def test_crash_recovery_resolves_each_attempt_once(backend: Backend) -> None:
    """Owner A claims three jobs and dies; B resolves them from the call log after the
    lease: answered-but-cut -> answered, busy -> retry (a new attempt), none lost."""
    sw = Switch()
    a = make(backend, sw, owner="A")
    for i in range(3):
        a.store.add_job(JobSpec(FROM, f"+1415555100{i}",
                                policy=RetryPolicy(max_attempts=2, busy_s=1, failed_s=1)), T0)
    run(a, sw, T0 + 0.2)
    assert len(sw.placed) == 3
    rows = {"call-1": {"status": "interrupted", "answered_at": T0, "final_status": None},
            "call-2": {"status": "refused", "answered_at": None, "final_status": 486,
                       "final_reason": "Busy Here"}}
    # call-3 has no call-log row (the crash came first): outcome unknown -> a failed try
    sw2 = Switch()
    sw2.clock = sw.clock
    b = make(backend, sw2, owner="B", rows=rows)
    run(b, sw2, T0 + 29)
    assert sw2.placed == [] and b.stats["resolved"] == 0  # A's lease still holds
    run(b, sw2, T0 + 32)
    assert b.stats["resolved"] == 3
    jobs = b.store.jobs()
    assert [j["status"] for j in jobs] == ["answered", "dialing", "dialing"]
    assert sorted(r.to_number for _, r in sw2.placed) == ["+14155551001", "+14155551002"]
    for cid in list(sw2.calls):
        sw2.end(cid)
    assert [j["status"] for j in b.store.jobs()] == ["answered", "completed", "completed"]
    assert [[a["n"] for a in b.store.attempts(j["id"])] for j in jobs] == [[1], [1, 2], [1, 2]]
    assert [a["status"] for a in b.store.attempts(2)] == ["resolved", "done"]


@pytest.mark.parametrize("offset", [0.0, 9 * 3600.0])
def test_clock_offset_shifts_the_window(backend: Backend, offset: float) -> None:
    sw = Switch()
    d = make(backend, sw, clock_offset_s=offset)
    d.store.create_campaign(Campaign("c", FROM, None, "America/New_York",
                                     ("Mon-Fri 09:00-18:00",)), T0)
    d.store.add_job(JobSpec(FROM, "+14155551000", campaign="c"), T0)
    d.tick(sw.clock)
    assert len(sw.placed) == (1 if offset == 0 else 0)  # 10:00 vs 19:00 in New York


def test_result_reported_from_inside_place_call(backend: Backend) -> None:
    """A switch that fails the call synchronously still gets it recorded once."""

    class Instant(Switch):
        def place_call(self, req: OutboundRequest,
                       on_result: Callable[[OutboundResult], None] | None = None) -> str:
            assert on_result is not None
            on_result(OutboundResult("call-x", "failed", 500, "no route", 0.0))
            return "call-x"

    sw = Instant()
    d = make(backend, sw)
    jid = d.store.add_job(JobSpec(FROM, "+14155551000"), T0)
    d.tick(sw.clock)
    job = d.store.job(jid)
    assert (job["status"], job["last_status"], job["call_ids"]) == ("failed", 500, '["call-x"]')
    assert [(a["status"], a["call_id"]) for a in d.store.attempts(jid)] == [("done", "call-x")]
    assert d.live == {}


def test_reconfigure_follows_a_reload(backend: Backend) -> None:
    sw = Switch()
    d = make(backend, sw)
    d.store.add_jobs([JobSpec(FROM, f"+1415555{i:04d}") for i in range(2)], T0)
    d.reconfigure({}, {})  # the number no longer calls out
    run(d, sw, T0 + 1)
    assert sw.placed == []
    d.reconfigure({FROM: "pbx"}, {"pbx": 100.0})
    run(d, sw, T0 + 2)
    assert len(sw.placed) == 2
