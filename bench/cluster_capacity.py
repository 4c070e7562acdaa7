"""A cluster (Kamailio front + N workers + PostgreSQL) under calls: prints figures.

    .venv/bin/python bench/cluster_capacity.py --workers 1,2 --calls 100 --rate 10 --hold 2000

For each worker count: a throwaway PostgreSQL (tests/pgserver.py), `vio-sbc cluster
run` (tests/integration/cluster_harness.py: the scripted agents, no STT, recordings
off), then SIPp (`uac_cluster.xml`) sends `--calls` calls at `--rate`/s, each held
`--hold` ms, through the front; then the same calls straight at worker w1 (no front).
Printed per run: calls answered and ended in the shared log, the share each worker
carried, the setup time (SIPp's INVITE → 200, p50/p95, through the front and
without it: the difference is what the front costs in latency), the CPU seconds
per call of the front (all kamailio processes, /proc) and of the workers, and the
PostgreSQL commits and rows written per call (pg_stat_database; commits also
measured over 3 s idle before the calls: the dialers' polls, subtracted for the
per-call figure when `--dialer` is given; off by default). The load average
is printed with the figures (a shared machine). Bounded: at most 200 calls a run.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.cluster_harness import (  # noqa: E402
    SALES,
    Callee,
    Cluster,
    start_cluster,
)
from tests.integration.conftest import SCENARIOS, free_port, free_rtp_range  # noqa: E402
from tests.pgserver import start_server  # noqa: E402
from vio_sbc.qa.sipp import sipp_command  # noqa: E402

MAX_CALLS = 200
IDLE_S = 3.0
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, timeout=10)
    return [int(x) for x in out.stdout.split()]


def pg_writes(cl: Cluster) -> tuple[int, int]:
    [row] = cl.query("SELECT xact_commit, tup_inserted + tup_updated AS rows FROM "
                     "pg_stat_database WHERE datname = current_database()")
    return int(row["xact_commit"]), int(row["rows"])


def sipp_run(target: str, work: Path, calls: int, rate: float, hold_ms: int,
             tag: str) -> tuple[int, list[float], str]:
    """(SIPp exit code, setup times in ms, Call-ID prefix)."""
    prefix = f"{tag}-{time.monotonic_ns()}"
    cmd = sipp_command(target, SCENARIOS / "uac_cluster.xml", source="127.0.0.2",
                       number=SALES, port=free_port("127.0.0.2"),
                       media_port=free_rtp_range("127.0.0.2", 4)[0], calls=calls,
                       limit=calls, rate=rate, timeout_s=calls / rate + hold_ms / 1000 + 60,
                       cid_prefix=prefix,
                       extra=["-key", "claim", "127.0.0.66", "-d", str(hold_ms),
                              "-trace_rtt", "-rtt_freq", "1"])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work,
                          timeout=calls / rate + hold_ms / 1000 + 90)
    setup: list[float] = []
    for f in work.glob("uac_cluster_*_rtt.csv"):  # Date_ms;response_time_ms;rtd_no
        with f.open() as fh:
            for row in list(csv.reader(fh, delimiter=";"))[1:]:
                try:
                    setup.append(float(row[1]))
                except (IndexError, ValueError):
                    pass
        f.unlink()
    return proc.returncode, setup, prefix


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 1) if len(values) > 1 \
        else round(values[0], 1)


def one(workers: int, calls: int, rate: float, hold_ms: int, work: Path,
        dialer: bool) -> dict[str, Any]:
    pg = start_server()
    callee = Callee(work)
    cl = start_cluster(work, pg.fresh_database(), callee.port, workers=workers,
                       dialer=dialer)
    try:
        front = next(e["pid"] for e in cl.named("front_started"))
        front_pids = [front, *children(front)]
        worker_pids = [cl.pid(f"w{i}") for i in range(1, workers + 1)]
        i0 = pg_writes(cl)[0]
        time.sleep(IDLE_S)  # a measurement window, not synchronisation: idle commits/s
        c0, f0, w0, p0 = time.time(), cpu_s(front_pids), cpu_s(worker_pids), pg_writes(cl)
        idle_per_s = (p0[0] - i0) / IDLE_S
        rc, setup, prefix = sipp_run(cl.front, work, calls, rate, hold_ms, "front")
        cl.wait("rows ended", lambda: sum(r["status"] == "ended" for r in cl.query(
            "SELECT status FROM calls WHERE sip_call_id LIKE %s", (prefix + "%",))) >= calls,
            30) if rc == 0 else None
        f1, w1, p1 = cpu_s(front_pids), cpu_s(worker_pids), pg_writes(cl)
        busy_s = time.time() - c0
        rows = cl.query("SELECT worker, status FROM calls WHERE sip_call_id LIKE %s",
                        (prefix + "%",))
        rc_d, setup_d, _ = sipp_run(cl.worker(1), work, calls, rate, hold_ms, "direct")
        return {
            "workers": workers, "calls": calls, "rate": rate, "hold_ms": hold_ms,
            "sipp_rc": rc, "sipp_rc_direct": rc_d,
            "ended": sum(r["status"] == "ended" for r in rows),
            "share": {w: sum(r["worker"] == w for r in rows)
                      for w in sorted({str(r["worker"]) for r in rows})},
            "setup_ms_front": {"p50": pct(setup, 50), "p95": pct(setup, 95)},
            "setup_ms_direct": {"p50": pct(setup_d, 50), "p95": pct(setup_d, 95)},
            "front_cpu_ms_per_call": round((f1 - f0) * 1000 / calls, 2),
            "workers_cpu_ms_per_call": round((w1 - w0) * 1000 / calls, 1),
            "pg_commits_per_call": round((p1[0] - p0[0]) / calls, 1),
            "pg_idle_commits_per_s": round(idle_per_s, 1),  # the dialers' polls
            "busy_s": round(busy_s, 1), "dialer": dialer,
            "pg_rows_per_call": round((p1[1] - p0[1]) / calls, 1),
            "seconds": round(time.time() - c0, 1), "loadavg": os.getloadavg(),
        }
    finally:
        cl.stop()
        callee.stop()
        pg.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="calls per second")
    ap.add_argument("--hold", type=int, default=2000, help="ms each call is held")
    ap.add_argument("--dialer", action="store_true",
                    help="dialers on (poll_s 0.05): their idle polling shows in the commits")
    a = ap.parse_args()
    if a.calls > MAX_CALLS:
        ap.error(f"--calls at most {MAX_CALLS} (a shared machine)")
    for n in (int(x) for x in a.workers.split(",")):
        with tempfile.TemporaryDirectory(prefix="vio-cluster-bench-") as tmp:
            res = one(n, a.calls, a.rate, a.hold, Path(tmp), a.dialer)
        print(res, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
