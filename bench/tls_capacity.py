"""TLS + SRTP calls next to plain ones: one server, one run, the same caller. Prints figures.

    .venv/bin/python bench/tls_capacity.py                 # 50 calls each way, 20 s hold
    .venv/bin/python bench/tls_capacity.py --calls 25,50 --hold 15 --repeat 2

SIPp here has no TLS, so the caller is bench/pj_caller.py (a pjsua2 process of our
own build) for both kinds: N concurrent calls of looped espeak-ng speech, plain RTP
over UDP from 127.0.0.2 (trunk `bench`) or SRTP (SDES, AES_CM_128_HMAC_SHA1_80) over
TLS from 127.0.0.4 (trunk `secure`, `media.srtp: mandatory`), against one vio-sbc
with the scripted receptionist. For each kind and step the server's CPU (% of one
core, /proc) is averaged over the hold while all calls are up (each step runs
`--repeat` rounds, alternating which kind goes first); frames delivered are
the server's `call_ended` rx_frames against call time x 50; the caller reports setup
time and RTP packets. The load average is printed with the figures: on a shared
machine a starved server shows less CPU than it needs, and the frames column says so.
Results: bench/results/tls-capacity-<UTC time>.json. Bounded: every caller has a
deadline; at most 200 calls a step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, Sampler, Server, free_port, free_tcp_port

sys.path.insert(0, str(ROOT))
from tests.integration.conftest import free_rtp_range
from tests.tlscerts import make_ca, make_cert
from vio_sbc.agent.tts import EspeakTts

RESULTS = ROOT / "bench" / "results"
PLAIN_IP, SECURE_IP = "127.0.0.2", "127.0.0.4"

CONFIG = """
sip:
  listen: "127.0.0.1:{port}"
  transports: [udp, tls]
  max_calls: 400
  max_cps: 0
  admission: {{rate: 1000, burst: 5000, max_failures: 1000}}
  tls: {{port: {tls_port}, cert_file: "{cert}", key_file: "{key}", ca_file: "{ca}"}}
rtp: {{ports: {rtp_min}-{rtp_max}}}
storage: {{dir: "{dir}", recordings: true}}
http: {{listen: "127.0.0.1:{http_port}"}}
workspace: {{default_agent: bench}}
agents:
  bench:
    kind: scripted
    greeting: "Thanks for calling. How can I help?"
    stt: {{provider: none}}
trunks:
  bench:
    kind: byoc
    inbound: {{allow: [{plain}/32]}}
  secure:
    kind: byoc
    inbound: {{allow: [{secure}/32]}}
    media: {{srtp: mandatory}}
numbers:
  "+14155550100": {{trunk: bench, direction: inbound}}
  "+14155550101": {{trunk: secure, direction: inbound}}
log: {{level: info}}
"""


def speech(path: Path) -> Path:
    pcm = EspeakTts().render("Hello, I would like to book a table for two people tomorrow "
                             "evening. Could you tell me what time you open? Thank you.", 8000)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm + b"\0\0" * 8000)
    return path


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def run_kind(kind: str, n: int, hold: float, srv: Server, work: Path, ports: dict[str, int],
             ca: Path, wav: Path, rtp_base: int) -> dict[str, Any]:
    secure = kind == "tls+srtp"
    uri = (f"sip:+14155550101@127.0.0.1:{ports['tls']};transport=tls" if secure
           else f"sip:+14155550100@127.0.0.1:{ports['sip']}")
    cmd = [sys.executable, str(ROOT / "bench" / "pj_caller.py"), "--uri", uri,
           "--transport", "tls" if secure else "udp", "--srtp", "mandatory" if secure else "off",
           "--ca", str(ca), "--bind", SECURE_IP if secure else PLAIN_IP, "--calls", str(n),
           "--rate", "20", "--hold", str(hold), "--wav", str(wav), "--rtp-port", str(rtp_base),
           "--deadline", str(n / 20 + hold + 60)]
    ended_before = len(srv.events("call_ended"))
    caller = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=work)
    assert caller.stdout is not None
    server_cpu = Sampler([srv.pid]).start()
    caller_cpu = Sampler([caller.pid]).start()
    lines: dict[str, dict[str, Any]] = {}
    for line in caller.stdout:  # pjsua's banner lines too: only JSON counts
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and "event" in ev:
            lines[ev["event"]] = {**ev, "mono": time.monotonic()}
    caller.wait(30)
    server_cpu.stop()
    caller_cpu.stop()
    up, done = lines.get("up", {}), lines.get("done", {})
    t_up = up.get("mono", time.monotonic())
    window = (t_up + 3, t_up + hold - 1)
    cpu = [s[1] for s in server_cpu.window(*window)]
    ccpu = [s[1] for s in caller_cpu.window(*window)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(srv.events("call_ended")) - ended_before < n:
        time.sleep(0.2)
    ended = [e for e in srv.events("call_ended")[ended_before:]
             if e.get("trunk") == ("secure" if secure else "bench")]
    rx = sum(int(e.get("rx_frames") or 0) for e in ended)
    expected = sum(float(e.get("duration_s") or 0) * 50 for e in ended)
    return {
        "kind": kind, "calls": n, "confirmed": up.get("confirmed"), "failed": up.get("failed"),
        "setup_ms_p50": _round(up.get("setup_ms_p50")),
        "setup_ms_max": _round(up.get("setup_ms_max")),
        "server_cpu_pct": round(sum(cpu) / len(cpu), 1) if cpu else None,
        "server_cpu_per_call_pct": round(sum(cpu) / len(cpu) / n, 2) if cpu else None,
        "caller_cpu_pct": round(sum(ccpu) / len(ccpu), 1) if ccpu else None,
        "frames_delivered_pct": round(100 * rx / expected, 2) if expected else None,
        "caller_rx_packets_min": min(done.get("rx_packets") or [0]),
        "calls_ended": len(ended), "load_avg": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", default="50", help="comma-separated steps (max 200)")
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds per step, the order alternating (plain first, then tls first)")
    a = ap.parse_args()
    steps = [min(200, int(s)) for s in a.calls.split(",")]
    work = Path(tempfile.mkdtemp(prefix="vio-tls-bench-"))
    ca = make_ca(work / "pki")
    cert = make_cert(work / "pki", "server", ca, ips=("127.0.0.1",))
    wav = speech(work / "speech.wav")
    ports = {"sip": free_port(), "tls": free_tcp_port(), "http": free_tcp_port()}
    rtp_min, rtp_max = free_rtp_range("127.0.0.1", 4 * max(steps) + 40)
    cfg = work / "vio.yaml"
    cfg.write_text(CONFIG.format(port=ports["sip"], tls_port=ports["tls"], cert=cert.cert,
                                 key=cert.key, ca=ca.cert, dir=work / "var",
                                 http_port=ports["http"], plain=PLAIN_IP, secure=SECURE_IP,
                                 rtp_min=rtp_min, rtp_max=rtp_max))
    srv = Server([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg), "--grace", "5"],
                 work / "vio.log", work, ports["sip"])
    results: list[dict[str, Any]] = []
    try:
        srv.wait_event("listening")
        for n in steps:
            for rnd in range(max(1, a.repeat)):
                kinds = ("plain", "tls+srtp") if rnd % 2 == 0 else ("tls+srtp", "plain")
                for kind in kinds:
                    ip = SECURE_IP if kind == "tls+srtp" else PLAIN_IP
                    base = free_rtp_range(ip, 4 * n + 100)[0]
                    r = run_kind(kind, n, a.hold, srv, work, ports, ca.cert, wav, base)
                    results.append({**r, "round": rnd + 1})
                    print(json.dumps(results[-1]), flush=True)
    finally:
        srv.stop()
    print(f"\n{'kind':10} {'calls':>5} {'up':>4} {'server CPU %':>12} {'per call':>8} "
          f"{'frames %':>8} {'setup p50 ms':>12} {'load avg (1/5/15)':>20}")
    for r in results:
        load = "/".join(f"{x:.2f}" for x in r["load_avg"])
        print(f"{r['kind']:10} {r['calls']:>5} {r['confirmed']!s:>4} "
              f"{r['server_cpu_pct']!s:>12} {r['server_cpu_per_call_pct']!s:>8} "
              f"{r['frames_delivered_pct']!s:>8} {r['setup_ms_p50']!s:>12} {load:>20}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"tls-capacity-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps({"results": results, "cpus": os.cpu_count()}, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
