"""The dialer inside `vio-sbc run`, placing real calls to a SIPp callee on loopback.

Limits are measured twice: from the callee's side (SIPp logs each INVITE and call end)
and from our call log. Time is injected with `dialer.clock_offset_s`, never slept.
"""

from __future__ import annotations

import itertools
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import Server, start_server
from tests.integration.dialer_harness import (
    FROM,
    Callee,
    cli,
    dialer_config,
    dialer_db,
    jobs_done,
    max_overlap,
    rows,
    wait_until,
)
from vio_sbc.config import load_config
from vio_sbc.dialer.api import schedule_callback

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]
NY = ZoneInfo("America/New_York")


def campaign(srv: Server, contacts: list[str], *opts: str, extra_csv: str = "") -> None:
    out = cli(srv.config, "campaign", "create", "--name", "c", "--from", FROM,
              "--tz", "America/New_York", *opts)
    assert out.returncode == 0, out.stderr
    csv = srv.config.parent / "contacts.csv"
    csv.write_text("number,tz\n" + "".join(f"{n},\n" for n in contacts) + extra_csv)
    out = cli(srv.config, "campaign", "load", "c", str(csv))
    assert out.returncode == 0, out.stdout + out.stderr


def call_log(srv: Server) -> list[dict[str, object]]:
    return [dict(r) for r in rows(srv.db, "SELECT * FROM calls WHERE direction = 'outbound' "
                                  "ORDER BY received_at")]


def stop(srv: Server) -> None:
    rc = srv.stop()
    assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


def test_campaign_never_exceeds_max_concurrent_or_cps(tmp_path: Path) -> None:
    """20 contacts, --max-concurrent 3 --cps 2, calls of ~1.7 s: without the cap 4 would
    overlap. The trunk allows 10 calls at 5 cps, so the campaign's limits are the ones
    that bind."""
    callee = Callee(tmp_path, talk_ms=1500)
    srv = start_server(tmp_path, dialer_config(callee.port, cps=5, max_calls=10))
    try:
        numbers = [f"+1415555{1000 + i}" for i in range(20)]
        campaign(srv, numbers, "--cps", "2", "--max-concurrent", "3")
        wait_until("20 jobs done", jobs_done(srv, 20), 90, srv)
        status = cli(srv.config, "campaign", "status", "c")
        assert "completed 20" in status.stdout and "20/20 done (100%)" in status.stdout
    finally:
        stop(srv)
        callee.stop()
    seen = callee.calls()
    assert sorted(c.number for c in seen) == numbers  # each contact called exactly once
    assert all(c.end_ms is not None for c in seen)
    # callee's side: concurrency and pacing (ms ticks of SIPp's clock)
    assert max_overlap([(c.invite_ms, c.end_ms or 0) for c in seen]) == 3
    starts = [c.invite_ms for c in seen]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 480  # 2 cps: 500 ms apart
    assert all(c - a >= 980 for a, _, c in zip(starts, starts[1:], starts[2:], strict=False))
    # our side: the call log
    log = call_log(srv)
    assert len(log) == 20 and {r["status"] for r in log} == {"ended"}
    assert max_overlap([(float(r["received_at"]), float(r["ended_at"]))  # type: ignore[arg-type]
                        for r in log]) == 3
    t = [float(r["received_at"]) for r in log]  # type: ignore[arg-type]
    assert min(b - a for a, b in itertools.pairwise(t)) >= 0.49
    # each attempt links to its call-log record
    attempts = rows(lambda: dialer_db(srv), "SELECT * FROM attempts")
    assert sorted(a["call_id"] for a in attempts) == sorted(str(r["id"]) for r in log)
    assert {str(r["dialer_job_id"]) for r in log} == {str(a["job_id"]) for a in attempts}


def test_calls_only_inside_the_window(tmp_path: Path) -> None:
    """The dialer's clock starts at Wed 2026-11-25 08:59:57 in New York (clock_offset_s):
    nothing is dialled before 09:00; then the New York contacts are, and the Tokyo
    contact (23:00 there) waits for 09:00 Tokyo time."""
    start = datetime(2026, 11, 25, 8, 59, 57, tzinfo=NY)
    opening = datetime(2026, 11, 25, 9, 0, tzinfo=NY).timestamp()
    callee = Callee(tmp_path, talk_ms=200)
    offset = start.timestamp() - datetime.now().timestamp()
    srv = start_server(tmp_path, dialer_config(callee.port, clock_offset_s=offset))
    try:
        campaign(srv, ["+14155551000", "+14155551001", "+14155551002"],
                 "--window", "Mon-Fri 09:00-18:00", "--cps", "5",
                 extra_csv="+81312345678,Asia/Tokyo\n")
        wait_until("3 jobs done", jobs_done(srv, 3), 30, srv)
        [tokyo] = rows(lambda: dialer_db(srv),
                       "SELECT * FROM jobs WHERE to_number = '+81312345678'")
    finally:
        stop(srv)
        callee.stop()
    log = call_log(srv)
    assert len(log) == 3
    # dialer time of each INVITE = wall time + offset: all inside the window
    assert min(float(r["received_at"]) + offset for r in log) >= opening  # type: ignore[arg-type]
    assert sorted(c.number for c in callee.calls()) == ["+14155551000", "+14155551001",
                                                        "+14155551002"]
    assert (tokyo["status"], tokyo["attempts"]) == ("queued", 0)
    assert tokyo["not_before"] == datetime(2026, 11, 26, 9, 0,
                                           tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def test_busy_callee_is_retried_per_policy_and_stops_at_max_attempts(tmp_path: Path) -> None:
    callee = Callee(tmp_path, talk_ms=200)
    srv = start_server(tmp_path, dialer_config(callee.port))
    try:
        campaign(srv, ["+14155551486", "+14155551000"], "--max-attempts", "3",
                 "--retry-busy", "1.5", "--cps", "5")
        wait_until("2 jobs done", jobs_done(srv, 2), 40, srv)
        [busy] = rows(lambda: dialer_db(srv), "SELECT * FROM jobs WHERE to_number = ?",
                      ("+14155551486",))
        attempts = rows(lambda: dialer_db(srv), "SELECT * FROM attempts WHERE job_id = ? "
                        "ORDER BY n", (busy["id"],))
    finally:
        stop(srv)
        callee.stop()
    assert (busy["status"], busy["attempts"], busy["last_status"]) == ("failed", 3, 486)
    assert [(a["n"], a["outcome"], a["sip_status"]) for a in attempts] == [
        (1, "busy", 486), (2, "busy", 486), (3, "busy", 486)]
    invites = [c.invite_ms for c in callee.calls() if c.number == "+14155551486"]
    assert len(invites) == 3  # and no fourth: max attempts reached
    assert all(b - a >= 1480 for a, b in itertools.pairwise(invites))  # retry-busy 1.5 s
    busy_rows = [r for r in call_log(srv) if r["callee"] == "+14155551486"]
    assert [(r["status"], r["final_status"]) for r in busy_rows] == [("busy", 486)] * 3


def test_scheduled_callbacks_fire_at_their_time(tmp_path: Path) -> None:
    """One callback from `vio-sbc dial --at`, one from the library call an agent makes."""
    callee = Callee(tmp_path, talk_ms=200)
    srv = start_server(tmp_path, dialer_config(callee.port))
    try:
        at_cli = datetime.now(NY) + timedelta(seconds=3)
        out = cli(srv.config, "dial", "--from", FROM, "--to", "+14155551000",
                  "--at", at_cli.isoformat())
        assert out.returncode == 0, out.stderr
        at_lib = datetime.now(NY) + timedelta(seconds=4)
        schedule_callback(load_config(srv.config), FROM, "+14155551001", at_lib,
                          variables={"topic": "invoice"})
        wait_until("2 callbacks done", jobs_done(srv, 2), 30, srv)
    finally:
        stop(srv)
        callee.stop()
    log = {r["callee"]: r for r in call_log(srv)}
    for number, at in (("+14155551000", at_cli), ("+14155551001", at_lib)):
        placed = float(log[number]["received_at"])  # type: ignore[arg-type]
        assert at.timestamp() <= placed < at.timestamp() + 2.0
        assert log[number]["status"] == "ended"
    assert sorted(c.number for c in callee.calls()) == ["+14155551000", "+14155551001"]


def test_kill_9_mid_campaign_then_restart_ends_every_job_exactly_once(tmp_path: Path) -> None:
    """SIGKILL while calls are live; after a restart (lease 2 s) every job ends once:
    no job lost, and no attempt dialled twice (one INVITE per attempt, at most)."""
    callee = Callee(tmp_path, talk_ms=2000)
    config = dialer_config(callee.port, lease_s=2)
    srv = start_server(tmp_path, config)
    numbers = [f"+1415555{1000 + i}" for i in range(12)]
    try:
        campaign(srv, numbers, "--cps", "3", "--max-concurrent", "3", "--max-attempts", "2",
                 "--retry-failed", "1", "--retry-no-answer", "1")
        wait_until("2 jobs done", jobs_done(srv, 2), 30, srv)
        wait_until("calls live", lambda: bool(rows(
            lambda: dialer_db(srv), "SELECT 1 FROM attempts WHERE status = 'placed'")), 10, srv)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        before = rows(lambda: dialer_db(srv), "SELECT * FROM jobs WHERE status = 'dialing'")
        assert before, "nothing was live at the kill"
        srv2 = start_server(tmp_path, config)
        try:
            wait_until("12 jobs done", jobs_done(srv2, 12), 90, srv2)
        finally:
            stop(srv2)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait(5)
        callee.stop()
    jobs = rows(lambda: dialer_db(srv2), "SELECT * FROM jobs")
    attempts = rows(lambda: dialer_db(srv2), "SELECT * FROM attempts ORDER BY id")
    assert len(jobs) == 12
    assert {j["status"] for j in jobs} <= {"completed", "answered", "failed"}
    assert any(a["status"] == "resolved" for a in attempts)  # the crash path was taken
    invites: dict[str, int] = {}
    for c in callee.calls():
        invites[c.number] = invites.get(c.number, 0) + 1
    log = call_log(srv2)
    for j in jobs:
        mine = [a for a in attempts if a["job_id"] == j["id"] and a["status"] != "refused"]
        assert [a["n"] for a in mine] == list(range(1, j["attempts"] + 1))
        assert j["attempts"] <= 2
        # one INVITE per attempt at most; every call-log row of the job belongs to one
        # attempt (a row the killed process had not yet written may be missing)
        assert invites.get(j["to_number"], 0) <= len(mine)
        ids = [a["call_id"] for a in mine if a["call_id"]]
        assert len(ids) == len(set(ids))
        assert {str(r["id"]) for r in log if r["dialer_job_id"] == str(j["id"])} <= set(ids)
    # each attempt cut off by the kill was resolved from the call log, not dialled again;
    # a callee who had answered is not called again
    for j in before:
        [cut] = [a for a in attempts if a["job_id"] == j["id"] and a["n"] == j["attempts"]
                 and a["status"] != "refused"]
        assert cut["status"] == "resolved"
        row = next(r for r in jobs if r["id"] == j["id"])
        if cut["outcome"] == "answered":
            assert (row["status"], row["attempts"]) == ("answered", j["attempts"])


def test_sigterm_stops_claiming_lets_live_calls_finish_and_keeps_the_rest(
        tmp_path: Path) -> None:
    callee = Callee(tmp_path, talk_ms=2500)
    srv = start_server(tmp_path, dialer_config(callee.port), extra_args=["--grace", "20"])
    numbers = [f"+1415555{1000 + i}" for i in range(8)]
    try:
        campaign(srv, numbers, "--cps", "5", "--max-concurrent", "2")
        wait_until("2 calls live", lambda: len(rows(
            lambda: dialer_db(srv), "SELECT 1 FROM attempts WHERE status = 'placed'")) == 2,
            15, srv)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(40) == 0, srv.raw[-20:]
    finally:
        stop(srv)
        callee.stop()
    jobs = rows(lambda: dialer_db(srv), "SELECT * FROM jobs ORDER BY id")
    counts = {s: sum(1 for j in jobs if j["status"] == s) for s in {j["status"] for j in jobs}}
    assert counts == {"completed": 2, "queued": 6}
    assert all(j["attempts"] == 0 for j in jobs if j["status"] == "queued")
    assert len(callee.calls()) == 2 and all(c.end_ms is not None for c in callee.calls())
    assert {r["status"] for r in call_log(srv)} == {"ended"}
    assert [e["event"] for e in srv.lines if e["event"].startswith("dialer_")][-2:] == [
        "dialer_attempt_ended", "dialer_stopped"]
