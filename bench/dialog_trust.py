"""Cost of the dialog trust decider: the SIP guard calls into Python for every request
that belongs to one of our calls (scripts/pjproject-patches/21-dialog-trust.patch,
vio_sbc/sip/trust.py). How much does that cost per request?

One real call from 127.0.0.2 (raw-socket caller, tests/integration/dialog_peer.py),
then, one at a time (each waits for its answer):

* `--requests` OPTIONS inside the dialog from the caller: decider says allow, pjsip's
  dialog layer answers 500 (no dialog usage serves OPTIONS: docs/security.md);
* the same number from a stranger (127.0.0.9): decider says 403, the guard answers;
* the same number of OPTIONS outside any dialog from the trunk: no decider (baseline).

Printed per kind: the decider's own time per request (the patch's nanosecond counter,
C -> ctypes -> Python table -> C, via /metrics), server CPU per request (/proc ticks)
and the round trip p50. Then the Python decision alone (`DialogTrust.decide`, 100
calls live, timeit in this process). Loopback only; bounded by --requests.

    .venv/bin/python bench/dialog_trust.py --requests 2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import CLK_TCK, proc_ticks  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    BASE_CONFIG,
    STRANGER_IP,
    TRUNK_IP,
    free_port,
    start_server,
)
from tests.integration.dialog_peer import RawCall  # noqa: E402
from tests.integration.rawsip import UdpPeer, request  # noqa: E402
from tests.unit.sip.test_trust import FakeCall, cfg, req, route, trust  # noqa: E402
from vio_sbc.cli.status import samples  # noqa: E402


def trust_counters(url: str) -> tuple[float, float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        s = samples(resp.read().decode())
    return (sum(v for _, v in s.get("vio_dialog_trust_decisions", [])),
            sum(v for _, v in s.get("vio_dialog_trust_decider_seconds", [])))


def run(kind: str, n: int, send: UdpPeer, texts: list[str], port: int, pid: int,
        url: str, want: int) -> None:
    asked0, spent0 = trust_counters(url)
    ticks0 = proc_ticks(pid)
    rtts = []
    for text in texts:
        t0 = time.perf_counter()
        replies = send.exchange(text, port, timeout=5.0)
        rtts.append((time.perf_counter() - t0) * 1e6)
        if not replies or replies[-1].status != want:
            raise SystemExit(f"{kind}: answered {[r.status for r in replies]}, want {want}")
    cpu_us = (proc_ticks(pid) - ticks0) / CLK_TCK * 1e6 / n
    asked1, spent1 = trust_counters(url)
    asked = asked1 - asked0
    decider = (spent1 - spent0) / asked * 1e6 if asked else 0.0
    print(f"{kind:<34} n={n:<6} decider {decider:6.1f} us/request ({asked:.0f} decided)  "
          f"server CPU {cpu_us:6.1f} us/request  round trip p50 "
          f"{statistics.median(rtts):6.0f} us")


def python_only(n: int) -> None:
    c = cfg()
    calls = {f"c{i}": FakeCall(f"c{i}", i, "127.0.0.2", route(c)) for i in range(100)}
    decider, _ = trust(c, calls)
    for label, r in (("allow (peer)", req("OPTIONS", "127.0.0.2", 3)),
                     ("refuse (stranger; count + rate-limited log)",
                      req("OPTIONS", "127.0.0.9", 3))):
        us = timeit.timeit(lambda r=r: decider.decide(r), number=n) / n * 1e6
        print(f"Python decision alone, {label:<44} {us:6.1f} us/request")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    n = max(1, min(args.requests, 20000))
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        http = free_port()
        text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 50\n  max_cps: 0\n"
                                   "  admission: {{rate: 100000, burst: 100000}}\n")
        srv = start_server(Path(tmp), text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n",
                           ["--grace", "1"])
        url = f"http://127.0.0.1:{http}/metrics"
        srv.wait_event("http_listening")
        call = RawCall(srv.port, TRUNK_IP)
        stranger = UdpPeer(STRANGER_IP)
        trunk = UdpPeer(TRUNK_IP)
        try:
            call.start()
            # allowed, then pjsip's dialog layer answers 500 (no usage serves OPTIONS)
            run("in-dialog OPTIONS, peer (allow)", n, call.peer,
                [call.request("OPTIONS") for _ in range(n)], srv.port, srv.proc.pid, url, 500)
            run("in-dialog OPTIONS, stranger (403)", n, stranger,
                [call.request("OPTIONS", sender=stranger) for _ in range(n)], srv.port,
                srv.proc.pid, url, 403)
            run("out-of-dialog OPTIONS, trunk (none)", n, trunk,
                [request("OPTIONS", srv.port, src=TRUNK_IP, src_port=trunk.port,
                         call_id=f"b-{uuid.uuid4().hex}") for _ in range(n)],
                srv.port, srv.proc.pid, url, 200)
            call.bye()
        finally:
            call.close()
            stranger.close()
            trunk.close()
            srv.stop()
    import structlog  # the refusals' log lines go nowhere here

    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    python_only(n)
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
