"""Turn latency of the embedded agent pipeline over real SIPp calls (a benchmark, not a test).

Starts `vio-sbc run` on loopback with the default scripted receptionist, and runs
N SIPp calls that each say "support" (answered with a reply) and then "goodbye"
(answered, then the agent hangs up). For every answered caller turn the server
logs the time from the end of the caller's speech (arrival of the last voiced
frame at the engine) to the first agent audio frame handed to the RTP stream
(`turn_latency_ms` in `call_ended`). That span includes the endpointing
hangover (`endpointing.stop_ms`, 600 ms by default) — the time the agent must
wait to know the caller has finished — then STT, intent matching and playout;
the script reports it with and without that hangover.

Per-call CPU: the engine thread and the STT worker report their thread CPU time
at shutdown (`engine_stopped`, `stt_stopped`), divided by the calls made.

    .venv/bin/python bench/turn_latency.py --calls 20 [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import run_sipp, start_server  # noqa: E402
from tests.integration.speech import make_pcap, scenario  # noqa: E402

CONFIG = """
sip:
  listen: 127.0.0.1:{port}
  max_calls: 100
rtp:
  ports: {rtp_min}-{rtp_max}
storage:
  dir: {dir}
trunks:
  pbx:
    kind: byoc
    inbound:
      allow: [{trunk_ip}/32]
numbers:
  "+14155550101": {{trunk: pbx}}
"""
STOP_MS = 600  # the default endpointing.stop_ms of the built-in receptionist


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()
    if not 1 <= args.calls <= 500 or not 1 <= args.concurrency <= 50:
        ap.error("--calls 1..500, --concurrency 1..50")
    tmp = Path(tempfile.mkdtemp(prefix="vio-bench-"))
    pcap = make_pcap(tmp / "turns.pcap", 3500, "support", 6000, "goodbye", 1000)
    sf = scenario(tmp / "turns.xml", [(str(pcap), 500)], end="agent", timeout_ms=30000)
    srv = start_server(tmp, CONFIG)
    t0 = time.monotonic()
    try:
        def one(i: int) -> int:
            wd = tmp / f"c{i}"
            wd.mkdir()
            return run_sipp(srv.addr, str(sf), number="+14155550101", timeout=60,
                            workdir=wd).rc

        with ThreadPoolExecutor(args.concurrency) as pool:
            rcs = list(pool.map(one, range(args.calls)))
        wall = time.monotonic() - t0
    finally:
        srv.stop()
    ended = [e for e in srv.lines if e.get("event") == "call_ended"]
    lat = [float(x) for e in ended for x in e.get("turn_latency_ms") or []]
    eng = next((e for e in srv.lines if e.get("event") == "engine_stopped"), {})
    stt = next((e for e in srv.lines if e.get("event") == "stt_stopped"), {})
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.platform()}, "
          f"Python {platform.python_version()}")
    print(f"calls: {args.calls} (concurrency {args.concurrency}), SIPp failures: "
          f"{sum(1 for rc in rcs if rc != 0)}, wall {wall:.1f} s")
    print(f"agent hang-ups: {sum(1 for e in ended if e.get('hangup_side') == 'agent')}")
    if lat:
        print(f"turns answered: {len(lat)}")
        print(f"end of caller speech -> first agent audio frame: p50 {pct(lat, 50):.0f} ms, "
              f"p95 {pct(lat, 95):.0f} ms, max {max(lat):.0f} ms "
              f"(mean {statistics.mean(lat):.0f} ms)")
        print(f"  of which endpointing hangover {STOP_MS} ms; after it: "
              f"p50 {pct(lat, 50) - STOP_MS:.0f} ms, p95 {pct(lat, 95) - STOP_MS:.0f} ms")
    eng_cpu = float(eng.get("cpu_s") or 0)
    stt_cpu = float(stt.get("cpu_s") or 0)
    print(f"agent engine thread CPU: {eng_cpu:.2f} s total, "
          f"{1000 * eng_cpu / args.calls:.0f} ms per call")
    print(f"STT worker CPU: {stt_cpu:.2f} s total, {1000 * stt_cpu / args.calls:.0f} ms per call; "
          f"decodes {stt.get('decodes')}, decode p50 {stt.get('decode_ms_p50')} ms, "
          f"max {stt.get('decode_ms_max')} ms, dropped {stt.get('dropped')}")
    return 0 if lat else 1


if __name__ == "__main__":
    raise SystemExit(main())
