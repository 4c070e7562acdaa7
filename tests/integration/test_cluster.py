"""A cluster on loopback: real Kamailio front (generated kamailio.cfg), two real workers,
one throwaway PostgreSQL, SIPp callers and a SIPp callee (docs/cluster.md).

One cluster for the module (starting it costs ~5 s); the tests run in file order and
each reads only the rows its own SIPp run made (Call-ID prefixes). Load stays bounded:
at most 200 calls, ~30 at once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cluster_harness import (
    SALES,
    STRANGER_IP,
    SUPPORT,
    TRUNK_IP,
    Callee,
    Cluster,
    callers,
    start_cluster,
)
from tests.pgserver import PgServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
TERMINAL = ("answered", "completed", "failed", "cancelled")
LIVE = ("received", "ringing", "answered", "dialing")


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def callee(tmp_dir: Path) -> Iterator[Callee]:
    c = Callee(tmp_dir)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def cluster(tmp_dir: Path, pg_server: PgServer, callee: Callee) -> Iterator[Cluster]:
    cl = start_cluster(tmp_dir, pg_server.fresh_database(), callee.port)
    yield cl
    rc = cl.stop()
    assert rc == 0, f"launcher exit {rc}: {cl.raw[-20:]}"
    assert cl.named("front_stopped") and len(cl.named("worker_stopped")) == 2


def rows(cl: Cluster, prefix: str) -> list[dict[str, Any]]:
    return cl.query("SELECT * FROM calls WHERE sip_call_id LIKE %s", (prefix + "%",))


def test_200_calls_through_the_front_are_spread_over_both_workers(
        cluster: Cluster, tmp_dir: Path) -> None:
    """100 calls to each of two numbers (two agents), from the trunk, through the front;
    each SIPp call carries a forged X-Vio-Source that the front replaces."""
    runs = [callers(cluster.front, tmp_dir, "uac_cluster.xml", number=n, calls=100, rate=10,
                    limit=30, hold_ms=1000, tag=tag)
            for n, tag in ((SALES, "sales"), (SUPPORT, "support"))]
    for run in runs:
        assert run.wait(120) == 0, run.output()[-2000:]
    done = [runs[0].prefix, runs[1].prefix]

    def all_logged() -> bool:
        got = [r for p in done for r in rows(cluster, p)]
        return len(got) == 200 and all(r["status"] == "ended" for r in got)

    cluster.wait("200 ended rows", all_logged, 30)
    got = {p: rows(cluster, p) for p in done}
    assert {r["agent"] for r in got[done[0]]} == {"sales"}
    assert {r["agent"] for r in got[done[1]]} == {"support"}
    every = got[done[0]] + got[done[1]]
    assert {r["source"] for r in every} == {TRUNK_IP}  # the forged header did not pass
    share = sum(r["worker"] == "w1" for r in every) / len(every)
    assert 0.35 <= share <= 0.65, f"w1 carried {share:.0%}"
    assert {r["worker"] for r in every} == {"w1", "w2"}

    def transcribed() -> bool:
        n = cluster.query("SELECT count(DISTINCT t.call_id) AS n FROM transcript t JOIN calls c "
                          "ON c.id = t.call_id WHERE c.sip_call_id LIKE %s OR "
                          "c.sip_call_id LIKE %s", (done[0] + "%", done[1] + "%"))
        return int(n[0]["n"]) == 200

    cluster.wait("a transcript row for every call", transcribed, 20)
    out = cluster.cli("calls", "--worker", "w2", "--json")
    assert out.returncode == 0 and '"worker": "w2"' in out.stdout
    out = cluster.cli("status", "--worker", "2", "--json")  # w2's own control socket
    assert out.returncode == 0, out.stderr
    assert f'"config": "{cluster.config}"' in out.stdout


def test_a_stranger_is_refused_at_the_front(cluster: Cluster, tmp_dir: Path) -> None:
    run = callers(cluster.front, tmp_dir, "uac_expect_403.xml", number=SALES, calls=1, rate=1,
                  limit=1, hold_ms=0, source=STRANGER_IP, tag="stranger")
    assert run.wait(30) == 0, run.output()[-2000:]
    assert rows(cluster, run.prefix) == []  # it never reached a worker
    assert not any("stranger_refused" == e.get("event") for e in cluster.events)


def test_a_worker_believes_the_source_header_only_from_the_front(
        cluster: Cluster, tmp_dir: Path) -> None:
    # a stranger straight at a worker, claiming the trunk's address: 403
    run = callers(cluster.worker(1), tmp_dir, "uac_claim_403.xml", number=SALES, calls=1,
                  rate=1, limit=1, hold_ms=0, source=STRANGER_IP, claim=TRUNK_IP,
                  tag="claim")
    assert run.wait(30) == 0, run.output()[-2000:]
    assert rows(cluster, run.prefix) == []
    # the trunk straight at a worker, claiming another address: judged by its own
    run = callers(cluster.worker(2), tmp_dir, "uac_cluster.xml", number=SALES, calls=1,
                  rate=1, limit=1, hold_ms=200, claim="127.0.0.66", tag="direct")
    assert run.wait(30) == 0, run.output()[-2000:]
    cluster.wait("the direct call's row", lambda: len(rows(cluster, run.prefix)) == 1, 10)
    [row] = rows(cluster, run.prefix)
    assert (row["source"], row["worker"], row["agent"]) == (TRUNK_IP, "w2", "sales")


def test_an_outbound_call_leaves_through_the_front(cluster: Cluster, callee: Callee) -> None:
    out = cluster.cli("dial", "--from", SALES, "--to", "+14155557001", "--max-attempts", "1")
    assert out.returncode == 0, out.stderr

    def seen() -> bool:
        return any(n == "+14155557001" for _, n, _ in callee.invites())

    cluster.wait("the callee's INVITE", seen, 30)
    [hop] = [h for _, n, h in callee.invites() if n == "+14155557001"]
    assert hop == cluster.front  # the carrier saw the front, not a worker
    cluster.wait("the outbound row ended", lambda: [r["status"] for r in cluster.query(
        "SELECT status FROM calls WHERE callee LIKE %s", ("%+14155557001%",))] == ["ended"], 30)


def test_kill_9_of_a_worker_under_load(cluster: Cluster, callee: Callee, tmp_dir: Path) -> None:
    """A campaign of 100 jobs on both workers' dialers and 60 inbound calls; w2 is killed
    (SIGKILL) mid-way and restarted by the launcher. Every job ends exactly once, each
    number is dialled once; w2's live calls are closed as interrupted once; every
    inbound call that was not live on w2 ends normally."""
    out = cluster.cli("campaign", "create", "--name", "k", "--from", SALES, "--tz", "UTC",
                      "--window", "Mon-Sun 00:00-24:00", "--cps", "5", "--max-concurrent",
                      "12", "--max-attempts", "1")
    assert out.returncode == 0, out.stderr
    numbers = [f"+1415556{i:04d}" for i in range(100)]
    csv = tmp_dir / "k.csv"
    csv.write_text("number\n" + "".join(f"{n}\n" for n in numbers))
    inbound = callers(cluster.front, tmp_dir, "uac_cluster.xml", number=SUPPORT, calls=60,
                      rate=3, limit=20, hold_ms=3000, tag="load")
    out = cluster.cli("campaign", "load", "k", str(csv))
    assert out.returncode == 0, out.stdout + out.stderr

    def ended(n: int) -> bool:
        got = cluster.query("SELECT count(*) AS n FROM jobs WHERE campaign = 'k' AND "
                            "status IN ('answered', 'completed', 'failed', 'cancelled')")
        return int(got[0]["n"]) >= n

    cluster.wait("30 jobs done", lambda: ended(30), 90)
    victim = cluster.pid("w2")
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()
    cluster.wait("w2 restarted", lambda: bool(cluster.named("worker_restarted", worker="w2")),
                 20)
    cluster.wait("all 100 jobs done", lambda: ended(100), 150)
    inbound.wait(200)

    jobs = cluster.query("SELECT id, to_number, status, attempts FROM jobs "
                         "WHERE campaign = 'k'")
    assert len(jobs) == 100 and all(j["status"] in TERMINAL for j in jobs)
    assert all(j["attempts"] == 1 for j in jobs)
    attempts = cluster.query("SELECT a.job_id, a.status, a.call_id FROM attempts a JOIN jobs j "
                             "ON j.id = a.job_id WHERE j.campaign = 'k'")
    assert len(attempts) == 100 and {a["status"] for a in attempts} <= {"done", "resolved"}
    dialled = [n for _, n, _ in callee.invites() if n in set(numbers)]
    assert len(dialled) == len(set(dialled)), "a number was dialled twice"
    assert len(dialled) == sum(a["call_id"] is not None for a in attempts)

    # w2's calls live at the kill: interrupted, each closed (and recovered) once
    w2 = cluster.query("SELECT id, status, received_at FROM calls WHERE worker = 'w2' AND "
                       "received_at < %s", (killed_at,))
    assert not [r for r in w2 if r["status"] in LIVE]
    cut = [r["id"] for r in w2 if r["status"] == "interrupted"]
    assert cut, "the kill hit no live call"
    recovered = cluster.query("SELECT call_id, count(*) AS n FROM call_events WHERE "
                              "kind = 'recovered' AND call_id = ANY(%s) GROUP BY call_id",
                              (cut,))
    assert sorted(r["call_id"] for r in recovered) == sorted(cut)
    assert {r["n"] for r in recovered} == {1}
    # every inbound call has its row; those not cut by the kill ended normally
    load = rows(cluster, inbound.prefix)
    assert len(load) == 60
    assert {r["status"] for r in load if r["id"] not in cut} == {"ended"}


def test_a_reload_regenerates_the_front(cluster: Cluster, tmp_dir: Path) -> None:
    """SIGHUP to `cluster run` after adding an address to the trunk's ACL: the front is
    regenerated and restarted, and a call from that address now goes through."""
    new_ip = "127.0.0.4"
    run = callers(cluster.front, tmp_dir, "uac_expect_403.xml", number=SALES, calls=1,
                  rate=1, limit=1, hold_ms=0, source=new_ip, tag="before")
    assert run.wait(30) == 0, run.output()[-2000:]
    text = cluster.config.read_text()
    cluster.config.write_text(text.replace(f'allow: ["{TRUNK_IP}/32"]',
                                           f'allow: ["{TRUNK_IP}/32", "{new_ip}/32"]'))
    cluster.proc.send_signal(signal.SIGHUP)
    cluster.wait("the front reloaded",
                 lambda: bool(cluster.named("cluster_reloaded", front="restart")), 20)
    cluster.wait("the workers active again", lambda: cluster.active_workers() == 2, 20)
    cluster.wait("both workers reloaded", lambda: len(cluster.named("config_reloaded")) >= 2, 20)
    run = callers(cluster.front, tmp_dir, "uac_cluster.xml", number=SALES, calls=1, rate=1,
                  limit=1, hold_ms=200, source=new_ip, tag="after")
    assert run.wait(30) == 0, run.output()[-2000:]
    cluster.wait("its row", lambda: len(rows(cluster, run.prefix)) == 1, 10)
    assert rows(cluster, run.prefix)[0]["source"] == new_ip
