"""What the TCP guard holds (scripts/pjproject-patches/22-tcp-guard.patch): a stranger's
idle connections, and a carrier's reconnect burst.

1. `--strangers` connections from 127.0.0.9 (no trunk), opened and left idle: how
   many server file descriptors they hold once the server counted them.
2. `--burst` connections opened at once (non-blocking) from 127.0.1.1-127.0.1.200 (a
   trunk allowing 127.0.1.0/24; fewer per address than the per-source cap), each then
   sending one OPTIONS: time until every connection is established, and until every
   one has its 200 — with `sip.tcp.backlog` at `--backlog` (default 1024) and at
   pjsip's stock 5 for comparison, on the same build.

Loopback only; every phase is bounded (connections counted, deadlines).

    .venv/bin/python bench/tcp_guard.py --strangers 1000 --burst 600
"""

from __future__ import annotations

import argparse
import errno
import os
import select
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import BASE_CONFIG, STRANGER_IP, free_port, start_server  # noqa: E402
from tests.integration.rawsip import request  # noqa: E402
from vio_sbc.cli.status import samples  # noqa: E402

BURST_TRUNK = """  burst:
    kind: byoc
    inbound:
      allow: [127.0.1.0/24]
"""


def tcp_counter(url: str, event: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as resp:
        s = samples(resp.read().decode())
    return sum(v for lb, v in s.get("vio_tcp_connections_total", []) if lb["event"] == event)


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def strangers(n: int, port: int, pid: int, url: str) -> None:
    before = fds(pid)
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket()
        s.bind((STRANGER_IP, 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    deadline = time.monotonic() + 60
    while tcp_counter(url, "refused_stranger") < n and time.monotonic() < deadline:
        time.sleep(0.1)
    refused = tcp_counter(url, "refused_stranger")
    held = fds(pid) - before
    print(f"strangers: {n} connections from {STRANGER_IP} in {time.monotonic() - t0:.2f} s; "
          f"refused at accept {refused:.0f}; server descriptors held afterwards {held}")
    for s in socks:
        s.close()


def burst(n: int, port: int) -> tuple[float, float, int]:
    """(s until all connected, s until all answered, connections that failed)."""
    socks: dict[int, socket.socket] = {}
    t0 = time.monotonic()
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.1.{1 + i % 200}", 0))
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise SystemExit(f"connect: {os.strerror(err)}")
        socks[s.fileno()] = s
    pending = dict(socks)
    answered: set[int] = set()
    t_conn = t_ans = 0.0
    buf: dict[int, bytes] = {}
    failed = 0
    deadline = t0 + 120
    while (pending or len(answered) + failed < n) and time.monotonic() < deadline:
        want_w = list(pending.values())
        want_r = [s for fd, s in socks.items() if fd not in pending and fd not in answered]
        r, w, _ = select.select(want_r, want_w, [], 0.5)
        for s in w:
            fd = s.fileno()
            del pending[fd]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                failed += 1
                answered.add(fd)
                continue
            s.sendall(request("OPTIONS", port, src=s.getsockname()[0],
                              src_port=s.getsockname()[1], transport="TCP").encode())
            if not pending:
                t_conn = time.monotonic() - t0
        for s in r:
            fd = s.fileno()
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            buf[fd] = buf.get(fd, b"") + chunk
            if not chunk or b"\r\n\r\n" in buf[fd]:
                if not chunk or not buf[fd].startswith(b"SIP/2.0 200"):
                    failed += 1
                answered.add(fd)
        if len(answered) >= n and not t_ans:
            t_ans = time.monotonic() - t0
    for s in socks.values():
        s.close()
    return t_conn, t_ans or float("nan"), failed + len(pending)


def run(backlog: int, args: argparse.Namespace, tmp: Path) -> None:
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 50\n  tcp: {{backlog: "
                               f"{backlog}, max_connections_per_source: 32}}}}\n")
    text = text.replace("trunks:\n", "trunks:\n" + BURST_TRUNK, 1)
    srv = start_server(tmp, text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n", ["--grace", "1"])
    srv.wait_event("http_listening")
    try:
        if args.strangers:
            strangers(args.strangers, srv.port, srv.proc.pid, f"http://127.0.0.1:{http}/metrics")
            args.strangers = 0  # once is enough
        conn, ans, failed = burst(args.burst, srv.port)
        url = f"http://127.0.0.1:{http}/metrics"
        refused = {e: tcp_counter(url, e) for e in ("refused_stranger", "refused_per_source_cap")}
        print(f"backlog {backlog:>5}: burst of {args.burst} connections from 200 trunk "
              f"addresses: all established in {conn:.3f} s, all answered 200 in {ans:.3f} s, "
              f"failed {failed} (server counters: {refused})")
    finally:
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strangers", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=600)
    ap.add_argument("--backlog", type=int, default=1024)
    args = ap.parse_args()
    args.strangers = max(0, min(args.strangers, 5000))
    args.burst = max(1, min(args.burst, 6000))
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    for backlog in (args.backlog, 5):
        with tempfile.TemporaryDirectory() as tmp:
            run(backlog, args, Path(tmp))
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
