"""Sustained originate rate of the dialer against a SIPp callee on loopback.

Starts `vio-sbc run` with the dialer on and a trunk to a SIPp UAS on 127.0.0.3,
loads a campaign of --calls contacts with generous limits (--cps, --concurrency)
and prints how fast INVITEs went out, measured at SIPp and in the call log, and the
gap between consecutive INVITEs at SIPp (one start per trunk per main-loop tick: the
median gap is the tick's length under this load).
Bounded: at most 5000 calls and --timeout seconds. Every process is started and
stopped by PID.
Usage: .venv/bin/python bench/dialer_rate.py [--calls 300] [--cps 500] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import free_port, free_rtp_range  # noqa: E402

CALLEE_IP = "127.0.0.3"


def config(tmp: Path, uas_port: int, cps: float, concurrency: int) -> Path:
    port = free_port()
    lo, hi = free_rtp_range(size=4 * concurrency + 40)
    text = f"""
sip: {{listen: 127.0.0.1:{port}, max_calls: {concurrency + 20}}}
rtp: {{ports: {lo}-{hi}}}
storage: {{dir: {tmp / "var"}}}
agents: {{receptionist: {{kind: echo}}}}
trunks:
  out:
    kind: byoc
    inbound: {{allow: [{CALLEE_IP}/32]}}
    outbound: {{host: {CALLEE_IP}, port: {uas_port}, max_calls: {concurrency}, cps: {cps:g},
               options_interval_s: 0}}
numbers:
  "+14155550100": {{trunk: out, direction: both}}
log: {{level: warning}}
dialer: {{enabled: true, poll_s: 0.01}}
"""
    path = tmp / "vio.yaml"
    path.write_text(text)
    return path


def cli(cfg: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c", str(cfg)], check=True,
                   capture_output=True, text=True, timeout=60)


def done(db: Path) -> int:
    conn = sqlite3.connect(str(db), timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM jobs WHERE status IN "
                                "('answered','completed','failed','cancelled')").fetchone()[0])
    finally:
        conn.close()


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] \
        else 0.0


def gaps_ms(times: list[float]) -> dict[str, float]:
    """Spacing of consecutive INVITEs: with strict pacing the dialer starts at most one
    call per trunk per main-loop tick, so the median gap is the tick's length."""
    d = sorted(b - a for a, b in itertools.pairwise(times))
    if not d:
        return {}
    return {"p10": round(d[len(d) // 10] * 1000, 1), "p50": round(d[len(d) // 2] * 1000, 1),
            "p90": round(d[len(d) * 9 // 10] * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--cps", type=float, default=500.0, help="campaign and trunk cps")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--talk-ms", type=int, default=200, help="callee hangs up after this")
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()
    n = max(2, min(args.calls, 5000))
    sipp = shutil.which("sipp")
    if sipp is None:
        print("sipp not installed (make install)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="vio-dialer-bench-") as d:
        tmp = Path(d)
        uas_port = free_port(CALLEE_IP)
        media = free_rtp_range(CALLEE_IP, 4)[0]
        sipp_log = tmp / "callee.log"
        uas = subprocess.Popen(
            [sipp, "-sf", str(ROOT / "sipp_scenarios/uas_dialer.xml"), "-i", CALLEE_IP,
             "-p", str(uas_port), "-mi", CALLEE_IP, "-mp", str(media), "-m", str(n),
             "-d", str(args.talk_ms), "-nostdin", "-timeout", f"{int(args.timeout) + 30}s",
             "-trace_logs", "-log_file", str(sipp_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        cfg = config(tmp, uas_port, args.cps, args.concurrency)
        cli(cfg, "campaign", "create", "--name", "bench", "--from", "+14155550100", "--tz",
            "UTC", "--cps", f"{args.cps:g}", "--max-concurrent", str(args.concurrency))
        (tmp / "c.csv").write_text("number\n" + "".join(f"+1415{i:07d}\n" for i in range(n)))
        cli(cfg, "campaign", "load", "bench", str(tmp / "c.csv"))
        srv = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.timeout and srv.poll() is None:
                if (tmp / "var/dialer.db").exists() and done(tmp / "var/dialer.db") >= n:
                    break
                time.sleep(0.2)
            finished = done(tmp / "var/dialer.db")
        finally:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(30)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait(5)
            uas.terminate()
            uas.wait(10)
        ticks = sorted(int(line.split()[1]) / 1000.0
                       for line in sipp_log.read_text().splitlines()
                       if line.startswith("INVITE "))
        conn = sqlite3.connect(str(tmp / "var/vio.db"))
        placed = [float(r[0]) for r in conn.execute(
            "SELECT received_at FROM calls WHERE direction = 'outbound' ORDER BY received_at")]
        statuses = dict(conn.execute(
            "SELECT status, count(*) FROM calls WHERE direction = 'outbound' GROUP BY status"
        ).fetchall())
        conn.close()
        print(json.dumps({
            "calls": n, "jobs_done": finished, "cps_limit": args.cps,
            "max_concurrent": args.concurrency, "talk_ms": args.talk_ms,
            "invites_at_sipp": len(ticks),
            "originate_rate_at_sipp_per_s": round(rate(ticks), 1),
            "originate_rate_call_log_per_s": round(rate(placed), 1),
            "invite_gap_ms_at_sipp": gaps_ms(ticks),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "call_statuses": statuses,
        }, indent=2))
        return 0 if finished >= n else 1


if __name__ == "__main__":
    sys.exit(main())
