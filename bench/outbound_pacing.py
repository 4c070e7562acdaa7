"""Outbound calls through a 407-challenging trunk: setup time and admission under load.

Starts `vio-sbc run` (by PID) with a Twilio-like trunk pointing at a SIPp UAS
(sipp_scenarios/uas_twilio_407.xml on 127.0.0.4: 407 digest challenge, 180, 200,
echo, BYE after --hold ms), then offers --calls outbound calls over the control
socket at --rate calls/s. Prints how many were admitted / refused (cps or
max_calls), answered, and the setup time INVITE -> answered (407 round trip
included) from the server's log.

    .venv/bin/python bench/outbound_pacing.py --calls 30 --rate 4 --cps 2 --max-calls 5
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vio_sbc import control  # noqa: E402
from vio_sbc.qa.sipp import free_udp_port  # noqa: E402

CONFIG = """
sip: {{listen: "127.0.0.1:{port}", max_calls: 100}}
rtp: {{ports: "{rtp0}-{rtp1}"}}
storage: {{dir: "{dir}"}}
agents:
  receptionist: {{kind: scripted, greeting: "Hello."}}
trunks:
  tw:
    kind: twilio
    outbound: {{host: 127.0.0.4, port: {term}, username: vio-term, password_file: term.pw,
               max_calls: {max_calls}, cps: {cps}, options_interval_s: 0}}
numbers:
  "+14155550130": {{trunk: tw, direction: outbound}}
"""


def ts(ev: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(ev["timestamp"]).replace("Z", "+00:00")).timestamp()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--rate", type=float, default=4.0, help="offered calls per second")
    ap.add_argument("--cps", type=float, default=2.0)
    ap.add_argument("--max-calls", type=int, default=5)
    ap.add_argument("--hold", type=int, default=1500, help="ms the far end keeps each call")
    a = ap.parse_args()
    calls = min(a.calls, 200)  # bounded
    tmp = Path(tempfile.mkdtemp(prefix="vio-bench-"))
    term = free_udp_port("127.0.0.4")
    rtp0 = 40000
    pw = tmp / "term.pw"  # the trunk's digest password, owner-only (password_file)
    pw.write_text("pw\n")
    pw.chmod(0o600)
    (tmp / "vio.yaml").write_text(CONFIG.format(
        port=free_udp_port("127.0.0.1"), rtp0=rtp0, rtp1=rtp0 + 999, dir=tmp / "var", term=term,
        max_calls=a.max_calls, cps=a.cps))
    uas = subprocess.Popen(
        ["sipp", "-sf", str(ROOT / "sipp_scenarios/uas_twilio_407.xml"), "-i", "127.0.0.4",
         "-p", str(term), "-mi", "127.0.0.4", "-mp", "41000", "-rtp_echo", "-d", str(a.hold),
         "-set", "from", "+14155550130", "-nostdin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    srv = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "run", "-c",
                            str(tmp / "vio.yaml")], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, cwd=tmp)
    lines: list[dict[str, Any]] = []

    def read() -> None:
        assert srv.stdout is not None
        for line in srv.stdout:
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass

    threading.Thread(target=read, daemon=True).start()
    sock = control.socket_path(tmp / "var")
    deadline = time.monotonic() + 30
    while not any(e.get("event") == "listening" for e in lines):
        if time.monotonic() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.05)
    results: list[dict[str, Any]] = []

    def one() -> None:
        msg = {"op": "call_out", "from": "+14155550130", "to": "+14155559000"}
        try:
            results.append(list(control.call(sock, msg, timeout=60))[-1])
        except control.ControlError as exc:
            results.append({"ok": False, "error": str(exc)})

    threads = []
    t0 = time.monotonic()
    for i in range(calls):
        time.sleep(max(0.0, t0 + i / a.rate - time.monotonic()))
        th = threading.Thread(target=one)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(90)
    srv.send_signal(signal.SIGTERM)
    srv.wait(30)
    if uas.poll() is None:
        uas.kill()
    uas.wait(10)
    refused: dict[str, int] = {}
    for r in results:
        if not r.get("ok"):
            key = "cps" if "cps" in r.get("error", "") else (
                "max_calls" if "max_calls" in r.get("error", "") else r.get("error", "?"))
            refused[key] = refused.get(key, 0) + 1
    outcomes = [r["result"]["outcome"] for r in results if r.get("ok")]
    dialing = {e["call_id"]: ts(e) for e in lines if e.get("event") == "call_dialing"}
    setup = sorted((ts(e) - dialing[e["call_id"]]) * 1000 for e in lines
                   if e.get("event") == "call_answered" and e.get("call_id") in dialing)
    print(f"offered {calls} calls at {a.rate:g}/s; trunk cps {a.cps:g}, max_calls "
          f"{a.max_calls}; far end holds {a.hold} ms")
    print(f"admitted {len(outcomes)}, refused {sum(refused.values())} {refused}")
    print(f"outcomes {dict((o, outcomes.count(o)) for o in sorted(set(outcomes)))}")
    if setup:
        print(f"setup INVITE->answered (incl. 407): p50 {statistics.median(setup):.1f} ms, "
              f"max {setup[-1]:.1f} ms over {len(setup)} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
