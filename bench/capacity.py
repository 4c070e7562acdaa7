"""Capacity benchmark: vio-sbc against a bare pjsua2 UAS, on loopback. Prints figures.

    .venv/bin/python bench/capacity.py                 # steps + baseline + CPS (~10 min)
    .venv/bin/python bench/capacity.py --soak 10000    # also 10,000 short calls, RSS sampled
    .venv/bin/python bench/capacity.py --steps 50,100 --no-cps   # quick look
    .venv/bin/python bench/capacity.py --agent stt     # scripted agent with speech recognition
    .venv/bin/python bench/capacity.py --agent ws      # WebSocket agent (echo server)
    .venv/bin/python bench/capacity.py --no-record     # call recording off

The server's config is written by bench/harness.py and sets what the benchmark
needs whatever today's defaults are (no sip.max_cps, an admission bucket holding
the ramp, /metrics on). Agent variants (`--agent`): `scripted` (the receptionist,
speech recognition off), `stt` (the same with intents: every caller turn decoded by
pocketsphinx), `ws` (a WebSocket agent against bench/ws_bridge.py's echo server,
which sends every caller frame back as agent audio); `--no-record` turns call
recording off.

For each step of concurrent calls, SIPp (from 127.0.0.2) places N calls of
speech (sipp_scenarios/uac_long_call.xml: the PCMU speech pcap looped) at
--rate calls/s and holds them; while all N are up, the server's CPU (% of one
core) and RSS are sampled from /proc/PID. vio-sbc's frame counters (call_ended
rx_frames vs call time x 50, and the periodic media_stats line) give frame
loss and the agent engine's lag; SIPp's -trace_rtt gives INVITE->200 latency.
The same steps run against bench/baseline_uas.py (no Python media, no agent).
The engine lag p50/p99 come from the `vio_engine_lag_seconds` histogram (scraped
from /metrics at the start and end of the hold), `/readyz` is read mid-hold, and
the Python callbacks per second of the clock thread from `media_stats`.
Results: bench/results/<name>-<UTC date and time>.json and .png (name:
capacity-<agent>[-norec], `--name` to change it). Bounded: every run has a deadline;
stepping stops at the first step with failed calls or >5% frame loss.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    ROOT,
    Sampler,
    Server,
    free_port,
    histogram,
    pct,
    quantile,
    scrape,
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
    scraped: dict[str, Any] = {}

    def at_hold(key: str) -> None:
        scraped[key] = [scrape(srv) for srv in servers]
        if key == "end":
            scraped["ready"] = [scrape(srv, "/readyz") for srv in servers]

    scrapes = [threading.Timer(hold[0], at_hold, ("start",)),
               threading.Timer(hold[1], at_hold, ("end",))]
    share = [n // len(servers) + (1 if i < n % len(servers) else 0) for i in range(len(servers))]
    runs: list[Any] = [None] * len(servers)

    def one(i: int) -> None:
        runs[i] = sipp(f"127.0.0.1:{servers[i].port}", "uac_long_call.xml", work, f"{tag}-w{i}",
                       calls=share[i], limit=share[i], rate=rate / len(servers),
                       extra=["-set", "reps", str(reps)], timeout_s=call_s + ramp_s + 60,
                       on_start=sipp_pids.append)

    t0 = time.monotonic()
    timer.start()
    for sc in scrapes:
        sc.start()
    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for w in workers:
        w.start()
    while len(sipp_pids) < len(servers) and any(w.is_alive() for w in workers):
        time.sleep(0.05)
    sipp_s = Sampler(list(sipp_pids)).start()
    for w in workers:
        w.join()
    timer.cancel()
    for sc in scrapes:
        sc.cancel()
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
            "engine_lag_ms_max": max((e.get("engine_lag_now_ms", e["engine_lag_ms"])
                                      for e in stats), default=None),
            "engine_backlog_max": max((e["engine_backlog"] for e in stats), default=None),
            "py_callbacks_per_s": callbacks_per_s(servers, share),
            "tx_audio_frames": sum(int(e.get("tx_audio_frames") or 0) for e in ended),
        })
        res.update(lag_quantiles(scraped))
        res["ready_at_hold_end"] = [('"ready": true' in r) for r in scraped.get("ready", [])]
        if kind.startswith("vio") and any(srv.events("ws_agent_closed") for srv in servers):
            closed = [e for srv in servers for e in srv.events("ws_agent_closed")]
            res.update({"ws_sent": sum(int(e.get("sent") or 0) for e in closed),
                        "ws_received": sum(int(e.get("received") or 0) for e in closed),
                        "ws_dropped": sum(int(e.get("dropped") or 0) for e in closed)})
    print(json.dumps(res), flush=True)
    return res


def lag_quantiles(scraped: dict[str, Any]) -> dict[str, Any]:
    """Engine lag p50/p99/max-bucket over the hold, from the histogram's two scrapes
    (the worse of several servers)."""
    p50: list[float] = []
    p99: list[float] = []
    for a, b in zip(scraped.get("start", []), scraped.get("end", []), strict=False):
        h0, h1 = histogram(a, "vio_engine_lag_seconds"), histogram(b, "vio_engine_lag_seconds")
        for q, out in ((0.5, p50), (0.99, p99)):
            v = quantile(h0, h1, q)
            if v is not None:
                out.append(v)
    return {"engine_lag_ms_p50": round(1000 * max(p50), 1) if p50 else None,
            "engine_lag_ms_p99": round(1000 * max(p99), 1) if p99 else None}


def callbacks_per_s(servers: list[Server], share: list[int]) -> float | None:
    """Python callbacks per second made by the bridge's clock thread into media ports,
    from the first and last media_stats lines with (nearly) all calls up."""
    total = 0.0
    seen = False
    for srv, k in zip(servers, share, strict=True):
        ev = [e for e in srv.events("media_stats") if e.get("media_calls", 0) >= 0.9 * k
              and "py_callbacks" in e]
        if len(ev) < 2:
            continue
        t = [datetime.fromisoformat(str(e.get("timestamp", "1970-01-01")).rstrip("Z"))
             .timestamp() for e in (ev[0], ev[-1])]
        if t[1] > t[0]:
            total += (ev[-1]["py_callbacks"] - ev[0]["py_callbacks"]) / (t[1] - t[0])
            seen = True
    return round(total, 1) if seen else None


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
    ap.add_argument("--agent", choices=("scripted", "stt", "ws"), default="scripted",
                    help="the agent on every call: scripted (no speech recognition), stt "
                    "(scripted with pocketsphinx), ws (WebSocket echo server)")
    ap.add_argument("--no-record", action="store_true", help="call recording off")
    ap.add_argument("--name", default="",
                    help="results file stem (default capacity-<agent>[-norec])")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--keep", action="store_true",
                    help="keep the work dir (logs, SIPp files, call logs, recordings)")
    ap.add_argument("--cluster", type=int, default=0, metavar="N",
                    help="instead: a Kamailio front + 1..N workers over PostgreSQL "
                    "(bench/cluster_capacity.py, calls through the front)")
    a = ap.parse_args()
    if a.cluster:
        from cluster_capacity import main as cluster_main

        sys.argv = [sys.argv[0], "--workers", ",".join(map(str, range(1, a.cluster + 1)))]
        return cluster_main()
    deadline = time.monotonic() + a.budget_min * 60
    steps = [int(x) for x in a.steps.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vio-bench-"))
    max_calls = max(steps) + 100
    rtp = (40000, 40000 + 4 * max_calls)
    name = a.name or f"capacity-{a.agent}{'-norec' if a.no_record else ''}"
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "kernel": platform.release(),
                    "loadavg_at_start": os.getloadavg()},
        "command": " ".join(sys.argv), "agent": a.agent, "recording": not a.no_record,
        "steps": [],
    }
    print(f"# work dir {work}; load average {os.getloadavg()}", flush=True)
    echo: Any = None
    ws_url = ""
    if a.agent == "ws":
        from ws_bridge import serve

        port_q: Any = mp.Queue()
        echo = mp.Process(target=serve, args=(port_q,), daemon=True)
        echo.start()
        ws_url = f"ws://127.0.0.1:{port_q.get(timeout=30)}/bench"
    opts: dict[str, Any] = {"agent": a.agent, "record": not a.no_record, "ws_url": ws_url}
    try:
        return _run(a, results, work, steps, max_calls, rtp, deadline, opts, out, name)
    finally:
        if echo is not None:
            echo.terminate()
            echo.join(5)


def _run(a: argparse.Namespace, results: dict[str, Any], work: Path, steps: list[int],
         max_calls: int, rtp: tuple[int, int], deadline: float, opts: dict[str, Any],
         out: Path, name: str) -> int:
    srv = start_vio(work, free_port(), max_calls, rtp, **opts)
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
                                       (lo, lo + 4 * max_calls // a.workers - 2), **opts))
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
    stem = f"{name}-{results['started'][:16].replace(':', '')}"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    plot(results, out / f"{stem}.png")
    print(f"# results: {out / stem}.json (.png)", flush=True)
    print_summary(results)
    return 0


def print_summary(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\nagent {results.get('agent')}, recording {results.get('recording')}; load "
          f"average at start {tuple(round(x, 2) for x in m['loadavg_at_start'])}, at end "
          f"{tuple(round(x, 2) for x in results['loadavg_at_end'])}")
    print("\n| server | calls | failed | CPU % | CPU %/call | RSS MB | frames lost % "
          "| engine lag p50/p99/max ms | py callbacks/s | setup p50/p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def d(v: Any) -> str:
        return "-" if v is None else str(v)

    for r in results["steps"]:
        lag = (f"{d(r.get('engine_lag_ms_p50'))}/{d(r.get('engine_lag_ms_p99'))}/"
               f"{d(r.get('engine_lag_ms_max'))}") if "frames_rx" in r else "-"
        print(f"| {r['kind']} | {r['calls']} | {r['failed']} | {r['cpu_pct']} | "
              f"{r['cpu_pct_per_call']} | {r['rss_mb']} | {d(r.get('frame_loss_pct'))} | "
              f"{lag} | {d(r.get('py_callbacks_per_s'))} | "
              f"{r['setup_ms_p50']}/{r['setup_ms_p99']} |")
    for r in results["steps"]:
        if r.get("threads_cpu_pct"):
            print(f"threads at {r['kind']} {r['calls']}: " + ", ".join(
                f"{n} {c}%" for n, c in r["threads_cpu_pct"]))
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
