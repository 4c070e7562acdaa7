"""Capacity benchmark: vio-sbc against a bare pjsua2 UAS, on loopback. Prints figures.

    .venv/bin/python bench/capacity.py                 # steps + baseline + CPS (~10 min)
    .venv/bin/python bench/capacity.py --soak 10000    # also 10,000 short calls, RSS sampled
    .venv/bin/python bench/capacity.py --steps 50,100 --no-cps --no-baseline   # quick look

For each step of concurrent calls, SIPp (from 127.0.0.2) places N calls of
speech (sipp_scenarios/uac_long_call.xml: the PCMU speech pcap looped) at
--rate calls/s and holds them; while all N are up, the server's CPU (% of one
core) and RSS are sampled from /proc/PID. vio-sbc's frame counters (call_ended
rx_frames vs call time x 50, and the periodic media_stats line) give frame
loss and the agent engine's lag; SIPp's -trace_rtt gives INVITE->200 latency.
The same steps run against bench/baseline_uas.py (no Python media, no agent).
Results: bench/results/capacity.json and capacity.png. Bounded: every run has a
deadline; stepping stops at the first step with failed calls or >5% frame loss.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    ROOT,
    Sampler,
    Server,
    free_port,
    pct,
    sipp,
    start_baseline,
    start_vio,
    stat_int,
    top_threads,
)

PCAP_S = 6.6  # one loop of the speech pcap in uac_long_call.xml
RESULTS = ROOT / "bench" / "results"


def step(kind: str, servers: list[Server], n: int, rate: float,
         work: Path) -> dict[str, Any]:
    """N calls spread evenly over `servers` (one SIPp per server, started together)."""
    reps = max(3, math.ceil((n / rate + 10) / PCAP_S))
    call_s = reps * PCAP_S
    ramp_s = n / rate
    tag = f"{kind}-{n}"
    server_s = Sampler([srv.pid for srv in servers]).start()
    sipp_pids: list[int] = []
    threads: list[tuple[str, float]] = []
    hold = (ramp_s + 1.0, call_s - 1.0)
    first = servers[0]
    mid = (hold[0] + hold[1]) / 2 - 1.0
    timer = threading.Timer(mid, lambda: threads.extend(top_threads(first.pid, 2.0)))
    share = [n // len(servers) + (1 if i < n % len(servers) else 0) for i in range(len(servers))]
    runs: list[Any] = [None] * len(servers)

    def one(i: int) -> None:
        runs[i] = sipp(f"127.0.0.1:{servers[i].port}", "uac_long_call.xml", work, f"{tag}-w{i}",
                       calls=share[i], limit=share[i], rate=rate / len(servers),
                       extra=["-set", "reps", str(reps)], timeout_s=call_s + ramp_s + 60,
                       on_start=sipp_pids.append)

    t0 = time.monotonic()
    timer.start()
    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for w in workers:
        w.start()
    while len(sipp_pids) < len(servers) and any(w.is_alive() for w in workers):
        time.sleep(0.05)
    sipp_s = Sampler(list(sipp_pids)).start()
    for w in workers:
        w.join()
    timer.cancel()
    server_s.stop()
    sipp_s.stop()
    win = server_s.window(t0 + hold[0], t0 + hold[1])
    swin = sipp_s.window(t0 + hold[0], t0 + hold[1])
    cpu = sum(x[1] for x in win) / len(win) if win else None
    ok = sum(stat_int(r.stats, "SuccessfulCall(C)") for r in runs)
    failed = sum(stat_int(r.stats, "FailedCall(C)") for r in runs)
    rtt = [v for r in runs for v in r.rtt_ms]
    res: dict[str, Any] = {
        "kind": kind, "calls": n, "processes": len(servers), "rate_cps": rate,
        "call_s": round(call_s, 1), "successful": ok, "failed": failed + max(0, n - ok - failed),
        "sipp_rc": max(r.rc for r in runs),
        "cpu_pct": round(cpu, 1) if cpu is not None else None,
        "cpu_pct_per_call": round(cpu / n, 3) if cpu is not None else None,
        "rss_mb": round(max((x[2] for x in win), default=0.0), 1),
        "sipp_cpu_pct": round(sum(x[1] for x in swin) / len(swin), 1) if swin else None,
        "setup_ms_p50": pct(rtt, 50), "setup_ms_p99": pct(rtt, 99),
        "threads_cpu_pct": [(name, round(c, 1)) for name, c in threads],
    }
    if kind.startswith("vio"):
        ended = [e for srv in servers for e in srv.events("call_ended")
                 if str(e.get("sip_call_id", "")).startswith(tag + "-")]
        rx = sum(int(e.get("rx_frames") or 0) for e in ended)
        exp = sum(int(float(e.get("duration_s") or 0) * 50) for e in ended)
        stats = [e for srv, k in zip(servers, share, strict=True) for e in srv.events("media_stats")
                 if e.get("media_calls", 0) >= 0.9 * k]
        res.update({
            "frames_rx": rx, "frames_expected": exp,
            "frame_loss_pct": round(100.0 * max(0, exp - rx) / exp, 3) if exp else None,
            "engine_lag_ms_max": max((e["engine_lag_ms"] for e in stats), default=None),
            "engine_backlog_max": max((e["engine_backlog"] for e in stats), default=None),
        })
    print(json.dumps(res), flush=True)
    return res


def run_steps(kind: str, srv: Server | list[Server], steps: list[int], rate: float,
              work: Path, deadline: float) -> list[dict[str, Any]]:
    servers = srv if isinstance(srv, list) else [srv]
    out = []
    for n in steps:
        if time.monotonic() + n / rate + 40 > deadline:
            print(f"# {kind}: skipping {n} calls and above (time budget)", flush=True)
            break
        r = step(kind, servers, n, rate, work)
        out.append(r)
        time.sleep(3)  # let the last BYEs and the call log settle
        if r["failed"] or (r.get("frame_loss_pct") or 0) > 5:
            break
    return out


def cps_search(srv: Server, rates: list[int], seconds: int, work: Path) -> dict[str, Any]:
    """Highest rate (of `rates`, tried in order) sustained `seconds` with 0 failures."""
    tried, best = [], None
    for r in rates:
        run = sipp(f"127.0.0.1:{srv.port}", "uac_echo_audio.xml", work, f"cps-{r}",
                   calls=r * seconds, limit=r * 4, rate=r, extra=["-d", "1000"],
                   timeout_s=seconds + 60)
        ok, failed = stat_int(run.stats, "SuccessfulCall(C)"), stat_int(run.stats, "FailedCall(C)")
        passed = run.rc == 0 and failed == 0 and ok == r * seconds
        tried.append({"cps": r, "calls": r * seconds, "successful": ok, "failed": failed,
                      "wall_s": round(run.wall_s, 1), "setup_ms_p99": pct(run.rtt_ms, 99),
                      "passed": passed})
        print(json.dumps({"cps_try": tried[-1]}), flush=True)
        if not passed:
            break
        best = r
        time.sleep(3)
    return {"seconds": seconds, "tried": tried, "best_cps": best}


def soak(srv: Server, calls: int, rate: int, work: Path) -> dict[str, Any]:
    s = Sampler([srv.pid], period=2.0).start()
    t0 = time.monotonic()
    run = sipp(f"127.0.0.1:{srv.port}", "uac_echo_audio.xml", work, "soak", calls=calls,
               limit=rate, rate=rate, extra=["-d", "200"], timeout_s=calls / rate * 3 + 60)
    s.stop()
    rss = [(round(t - t0, 1), round(m, 1)) for t, _c, m in s.samples]
    half = rss[len(rss) // 2:]
    return {"calls": calls, "rate_cps": rate, "successful": stat_int(run.stats,
            "SuccessfulCall(C)"), "failed": stat_int(run.stats, "FailedCall(C)"),
            "wall_s": round(run.wall_s, 1), "rss_mb_first": rss[2][1] if len(rss) > 2 else None,
            "rss_mb_last": rss[-1][1] if rss else None, "rss_mb_max": max(m for _, m in rss),
            "rss_mb_second_half_growth": round(half[-1][1] - half[0][1], 1) if half else None,
            "rss_samples": rss}


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:
        print("# no PNG: matplotlib missing (pip install -e '.[bench]')", flush=True)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    kinds = list(dict.fromkeys(r["kind"] for r in results["steps"]))
    for i, kind in enumerate(kinds):
        rows = [r for r in results["steps"] if r["kind"] == kind and r["cpu_pct"] is not None]
        label = {"vio": "vio-sbc (1 process)", "baseline": "raw pjsua2 baseline"}.get(
            kind, f"vio-sbc ({kind.split('-x')[-1]} processes)")
        style = "s--" if kind == "baseline" else "o-"
        a.plot([r["calls"] for r in rows], [r["cpu_pct"] for r in rows], style,
               color=f"C{i}", label=label)
        if kind != "baseline":
            b.plot([r["calls"] for r in rows], [r.get("frame_loss_pct") or 0 for r in rows],
                   style, color=f"C{i}", label=label)
    a.set(xlabel="concurrent calls", ylabel="server CPU (% of one core)", title="CPU")
    a.legend()
    a.grid(alpha=0.3)
    b.set(xlabel="concurrent calls", ylabel="frames lost (%)", title="Frame loss")
    b.axhline(1.0, color="grey", lw=0.8, ls=":")
    b.legend()
    b.grid(alpha=0.3)
    fig.suptitle(f"vio-sbc capacity, {results['machine']['cpus']} cores, "
                 f"{results['started'][:16]} UTC")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description="vio-sbc capacity benchmark (prints figures)")
    ap.add_argument("--steps", default="50,100,200,400", help="concurrent calls per step")
    ap.add_argument("--rate", type=float, default=50.0, help="call rate while ramping (cps)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--workers", type=int, default=0, metavar="N",
                    help="also run the steps against N vio-sbc processes, calls spread "
                    "evenly by running one SIPp per process")
    ap.add_argument("--no-cps", action="store_true")
    ap.add_argument("--cps", default="25,50,100", help="rates tried for the setup-rate test")
    ap.add_argument("--cps-seconds", type=int, default=60)
    ap.add_argument("--soak", type=int, default=0, metavar="CALLS",
                    help="also run CALLS sequential short calls (e.g. 10000)")
    ap.add_argument("--budget-min", type=float, default=14.0, help="time budget in minutes")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--keep", action="store_true",
                    help="keep the work dir (logs, SIPp files, call logs, recordings)")
    a = ap.parse_args()
    deadline = time.monotonic() + a.budget_min * 60
    steps = [int(x) for x in a.steps.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vio-bench-"))
    max_calls = max(steps) + 100
    rtp = (40000, 40000 + 4 * max_calls)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "kernel": platform.release(),
                    "loadavg_at_start": os.getloadavg()},
        "command": " ".join(sys.argv), "steps": [],
    }
    print(f"# work dir {work}; load average {os.getloadavg()}", flush=True)
    srv = start_vio(work, free_port(), max_calls, rtp)
    try:
        results["steps"] += run_steps("vio", srv, steps, a.rate, work, deadline)
        if not a.no_cps:
            results["cps"] = cps_search(srv, [int(x) for x in a.cps.split(",")],
                                        a.cps_seconds, work)
        if a.soak:
            results["soak"] = soak(srv, a.soak, 100, work)
    finally:
        results["vio_exit"] = srv.stop()
    if a.workers > 1:
        procs = []
        try:
            for i in range(a.workers):
                wdir = work / f"worker{i}"
                wdir.mkdir()
                lo = 40000 + i * 4 * max_calls // a.workers
                procs.append(start_vio(wdir, free_port(), max_calls // a.workers + 50,
                                       (lo, lo + 4 * max_calls // a.workers - 2)))
            results["steps"] += run_steps(f"vio-x{a.workers}", procs, steps, a.rate, work,
                                          deadline)
        finally:
            for p in procs:
                p.stop()
    if not a.no_baseline:
        base = start_baseline(work, free_port(), max_calls, rtp)
        try:
            results["steps"] += run_steps("baseline", base, steps, a.rate, work, deadline)
        finally:
            base.stop()
    results["loadavg_at_end"] = os.getloadavg()
    results["work_dir"] = str(work) if a.keep else None
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)  # recordings of every call live there
    (out / "capacity.json").write_text(json.dumps(results, indent=1))
    plot(results, out / "capacity.png")
    print_summary(results)
    return 0


def print_summary(results: dict[str, Any]) -> None:
    print("\n| server | calls | failed | CPU % | CPU %/call | RSS MB | frames lost % "
          "| engine lag ms | setup p50/p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results["steps"]:
        loss = r.get("frame_loss_pct")
        lag = r.get("engine_lag_ms_max")
        print(f"| {r['kind']} | {r['calls']} | {r['failed']} | {r['cpu_pct']} | "
              f"{r['cpu_pct_per_call']} | {r['rss_mb']} | {'-' if loss is None else loss} | "
              f"{'-' if lag is None else lag} | {r['setup_ms_p50']}/{r['setup_ms_p99']} |")
    if "cps" in results:
        print(f"\nCPS sustained {results['cps']['seconds']} s with 0 failures: "
              f"{results['cps']['best_cps']}")
    if "soak" in results:
        s = results["soak"]
        print(f"soak: {s['successful']}/{s['calls']} ok, RSS {s['rss_mb_first']} -> "
              f"{s['rss_mb_last']} MB (max {s['rss_mb_max']})")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
