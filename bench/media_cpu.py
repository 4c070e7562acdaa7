"""Per-call CPU of the media path: N concurrent SIPp calls playing speech.

Starts `vio-sbc run` on free loopback ports (by PID), places N concurrent calls
from 127.0.0.2 with sipp_scenarios/uac_speech_dtmf.xml (7 s of PCMA speech each
way through the echo agent), samples the server's CPU time from /proc while all
calls are up, and prints CPU per call and frame delivery from the call log.

    .venv/bin/python bench/media_cpu.py --calls 20 50 100
    .venv/bin/python bench/media_cpu.py --calls 50 --source-check off   # vs latch (default)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vio_sbc.qa.sipp import free_udp_port

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


CONFIG = """
sip: {{listen: "127.0.0.1:{port}", max_calls: {max_calls}}}
rtp: {{ports: "{rtp0}-{rtp1}", source_check: "{policy}"}}
storage: {{dir: "{dir}"}}
agents:
  receptionist: {{kind: scripted, greeting: "Hello."}}
  echo: {{kind: echo}}
trunks:
  pbx: {{kind: byoc, inbound: {{allow: [127.0.0.2/32]}}}}
numbers:
  "+14155550100": {{trunk: pbx, direction: both, agent: echo}}
log: {{level: warning}}
"""


def run_step(n: int, tmp: Path, policy: str = "latch") -> dict[str, float | str]:
    port = free_udp_port("127.0.0.1")
    rtp0 = 40000
    cfg = tmp / f"vio-{n}.yaml"
    cfg.write_text(CONFIG.format(port=port, max_calls=n + 10, rtp0=rtp0, rtp1=rtp0 + 4 * n + 100,
                                 dir=tmp / f"var-{n}", policy=policy))
    srv = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the SIP port to be bound
            out = subprocess.run(["ss", "-lun"], capture_output=True, text=True).stdout
            if f"127.0.0.1:{port}" in out:
                break
            time.sleep(0.2)
        idle0 = cpu_seconds(srv.pid)
        time.sleep(2)
        idle = (cpu_seconds(srv.pid) - idle0) / 2
        sipp = subprocess.Popen(
            ["sipp", f"127.0.0.1:{port}", "-sf", str(ROOT / "sipp_scenarios/uac_speech_dtmf.xml"),
             "-s", "+14155550100", "-i", "127.0.0.2", "-mi", "127.0.0.2",
             "-mp", str(free_udp_port("127.0.0.2") & ~1), "-m", str(n), "-l", str(n),
             "-r", str(min(n, 50)), "-nostdin", "-timeout", "90s", "-timeout_error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        ramp = n / min(n, 50)
        time.sleep(ramp + 1.0)  # all calls up (7 s of speech left in the newest)
        c0, t0 = cpu_seconds(srv.pid), time.monotonic()
        time.sleep(4.0)
        busy = (cpu_seconds(srv.pid) - c0) / (time.monotonic() - t0)
        rss = rss_mb(srv.pid)
        rc = sipp.wait(120)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(30)
    db = sqlite3.connect(tmp / f"var-{n}" / "vio.db")
    rows = db.execute("SELECT duration_s, rx_frames, rx_voiced_frames FROM calls "
                      "WHERE status='ended'").fetchall()
    expected = sum(r[0] * 50 for r in rows)
    got = sum(r[1] for r in rows)
    return {
        "calls": n, "source_check": policy, "ended": len(rows), "sipp_rc": rc,
        "cpu_idle_pct": round(100 * idle, 1), "cpu_busy_pct": round(100 * busy, 1),
        "cpu_per_call_pct": round(100 * (busy - idle) / n, 3),
        "rss_mb": round(rss, 1),
        "frames_delivered_pct": round(100 * got / expected, 2) if expected else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--source-check", choices=["latch", "strict", "off"], default="latch",
                    help="rtp.source_check of the server (the per-packet cost of the check)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for n in args.calls:
            print(json.dumps(run_step(n, Path(d), args.source_check)), flush=True)


if __name__ == "__main__":
    main()
