"""Security proof runs on loopback, bounded in time; prints the figures quoted in
docs/security.md. Needs `make install` (SIPp) and the test extras (sipvicious).

    .venv/bin/python bench/security_proof.py [--cps 10] [--seconds 10]

1. the malformed-SIP corpus (tests/fuzz/corpus.jsonl.gz) over UDP, a tenth over TCP;
2. SIPVicious svmap / svwar / svcrack from 127.0.0.9 (a stranger), with
   `sip.stranger_response: reject` and again with `drop`: for each tool the requests
   the server counted (`vio_rejected_requests_total` before and after), their rate, and
   every datagram the server sent, by destination address (an AF_PACKET socket on `lo`:
   needs root — without it the line says so). svwar and svcrack send from 127.0.0.1
   whatever `-b` says (measured here), also a stranger's address;
3. an overload run at 2x sip.max_cps from the trunk address 127.0.0.2;
after each, the server must still be running and take a legitimate call.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.gen_corpus import load  # noqa: E402
from tests.fuzz.runner import run_tcp, run_udp  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    BASE_CONFIG,
    SCENARIOS,
    STRANGER_IP,
    TRUNK_IP,
    Server,
    free_port,
    free_rtp_range,
    run_sipp,
    start_server,
)
from vio_sbc.cli.status import samples  # noqa: E402


def legit_call(srv: Server) -> str:
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    alive = srv.proc.poll() is None
    return f"server alive: {alive}; legitimate call afterwards: {'ok' if r.rc == 0 else 'FAILED'}"


def corpus(tmp: Path) -> None:
    low, high = free_rtp_range(size=400)
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 300\n  max_cps: 0\n"
                               "  admission: {{rate: 10000, burst: 10000}}\n")
    text += f"http: {{{{listen: 127.0.0.1:{http}}}}}\n"
    srv = start_server(tmp, text.replace("{rtp_min}-{rtp_max}", f"{low}-{high}"),
                       ["--grace", "2"])
    url = f"http://127.0.0.1:{http}/metrics"
    srv.wait_event("http_listening")
    try:
        entries = load()
        t0 = time.monotonic()
        udp = run_udp(entries, srv.port, TRUNK_IP)
        print(f"corpus UDP ({time.monotonic() - t0:.0f} s): {udp.summary()}")
        # which answers the SIP guard gave (no_dialog = its 481s, method_not_allowed its
        # 405s, not_implemented its 501s), and the application's refusals
        print(f"corpus UDP: rejected requests {{{rejected_counts(url)}}}")
        tcp = run_tcp([e for e in entries if int(e["id"]) % 10 == 0], srv.port, TRUNK_IP)
        print(f"corpus TCP: {tcp.summary()}")
        errors = sum(1 for ev in srv.lines if ev.get("event") == "incoming_call_failed")
        print(f"corpus: handler exceptions {errors}; {legit_call(srv)}")
    finally:
        print(f"corpus: server exit code {srv.stop()}")


def rejected(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        got = samples(resp.read().decode()).get("vio_rejected_requests_total", [])
    return {str(lb.get("reason")): v for lb, v in got if v}


def rejected_counts(url: str) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in rejected(url).items())


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


SO_ATTACH_FILTER = 26


def _bpf_udp_from(port: int) -> bytes:
    """A classic BPF program (as `tcpdump -dd` writes them) for Ethernet-framed IPv4 UDP
    from source port `port`, as the `struct sock_fprog` setsockopt takes."""
    code = [(0x28, 0, 0, 12), (0x15, 0, 6, 0x0800),  # ethertype IPv4
            (0x30, 0, 0, 23), (0x15, 0, 4, 17),  # protocol UDP
            (0xB1, 0, 0, 14), (0x48, 0, 0, 14), (0x15, 0, 1, port),  # UDP source port
            (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
    prog = b"".join(struct.pack("HBBI", *c) for c in code)
    buf = ctypes.create_string_buffer(prog, len(prog))
    _KEEP.append(buf)  # the kernel copies it at setsockopt; kept anyway
    return struct.pack("HL", len(code), ctypes.addressof(buf))


_KEEP: list[ctypes.Array[ctypes.c_char]] = []


class SentBy:
    """Counts the UDP datagrams 127.0.0.1:`port` (the server) sends, by destination
    address (any port), seen on `lo` by an AF_PACKET socket (bound to IPv4 it gets one
    copy of each). Root only: `error` says why not."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.to: collections.Counter[str] = collections.Counter()
        self.error = ""
        self._stop = threading.Event()
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
            # filter in the kernel: lo carries every helper's RTP, far more than a Python
            # loop reads on a loaded machine (the socket's buffer would drop what we count)
            self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _bpf_udp_from(port))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self._sock.bind(("lo", 0))
            self._sock.settimeout(0.1)
        except OSError as exc:
            self.error = f"cannot capture on lo ({exc})"
            return
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14 + 28:  # one copy each
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] == 17 and struct.unpack("!H", ip[ihl:ihl + 2])[0] == self.port:
                self.to[socket.inet_ntoa(ip[16:20])] += 1

    def snapshot(self) -> collections.Counter[str]:
        return collections.Counter(self.to)

    def text(self, since: collections.Counter[str] | None = None) -> str:
        if self.error:
            return self.error
        got = self.snapshot() - (since or collections.Counter())
        return ", ".join(f"{ip}={n}" for ip, n in sorted(got.items())) or "none"

    def close(self) -> None:
        if not self.error:
            self._stop.set()
            self._thread.join(2)
            self._sock.close()


def scanners(tmp: Path, mode: str) -> None:
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n",
                               f"  max_calls: 50\n  stranger_response: {mode}\n")
    srv = start_server(tmp, text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n")
    srv.wait_event("http_listening")
    bindir = Path(sys.executable).parent
    url = f"http://127.0.0.1:{http}/metrics"
    sent = SentBy(srv.port)
    try:
        common = ["-b", STRANGER_IP, "-p", str(srv.port)]
        runs = [
            ("svmap", [*common, "127.0.0.1"]),
            ("svwar", [*common, "-e", "14155550000-14155550199", "--force",
                       "--maximumtime", "8", "127.0.0.1"]),
            ("svwar", [*common, "-m", "INVITE", "-e", "14155550000-14155550199", "--force",
                       "--maximumtime", "8", "127.0.0.1"]),
            ("svcrack", [*common, "-u", "14155550100", "-r", "1000-1999",
                         "--maximumtime", "8", "127.0.0.1"]),
        ]
        for tool, args in runs:
            exe = shutil.which(f"sipvicious_{tool}", path=str(bindir))
            if exe is None:
                print(f"{tool}: not installed (pip install sipvicious)")
                continue
            t0, before, sent_before = time.monotonic(), rejected(url), sent.snapshot()
            # svcrack never stops by itself when every REGISTER gets 403: bounded here
            try:
                p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30,
                                   cwd=tmp)
                rc, out = str(p.returncode), (p.stdout + p.stderr).strip().splitlines()
            except subprocess.TimeoutExpired:
                rc, out = "none (still running, stopped after 30 s)", []
            took = time.monotonic() - t0
            counted = delta(rejected(url), before)
            total = sum(counted.values())
            print(f"[{mode}] {tool} {' '.join(args[3:])}: rc {rc}, {took:.1f} s: "
                  f"{out[-1] if out else ''}")
            print(f"[{mode}] {tool}: requests counted {total:g} "
                  f"({', '.join(f'{k}={v:g}' for k, v in counted.items()) or 'none'}), "
                  f"{total / took:.0f}/s; datagrams the server sent, by address: "
                  f"{sent.text(sent_before)}")
        with srv.db() as c:
            rows = c.execute("SELECT count(*) FROM calls").fetchone()[0]
        refused = sum(1 for ev in srv.lines if ev.get("event") == "stranger_refused")
        blocks = sum(1 for ev in srv.lines if ev.get("event") == "source_blocked")
        print(f"[{mode}] scanners: call rows {rows}; stranger log lines {refused}; "
              f"blocks {blocks}; rejected requests {{{rejected_counts(url)}}}; "
              f"{legit_call(srv)}")
    finally:
        print(f"[{mode}] scanners: datagrams the server sent in all, by address (any "
              f"port; {TRUNK_IP} is the legitimate call): {sent.text()}")
        sent.close()
        print(f"[{mode}] scanners: server exit code {srv.stop()}")


def overload(tmp: Path, cps: float, seconds: float) -> None:
    low, high = free_rtp_range(size=600)  # RTP ports for every admitted call
    text = BASE_CONFIG.replace(
        "  max_calls: 50\n", f"  max_calls: 200\n  max_cps: {cps:g}\n"
        "  admission: {{rate: 1000, burst: 1000}}\n")  # max_cps alone sheds
    srv = start_server(tmp, text.replace("{rtp_min}-{rtp_max}", f"{low}-{high}"))
    total = int(2 * cps * seconds)
    try:
        cmd = [shutil.which("sipp") or "sipp", srv.addr, "-sf",
               str(SCENARIOS / "uac_overload.xml"), "-s", "+14155550101", "-i", TRUNK_IP,
               "-p", str(free_port(TRUNK_IP)), "-mi", TRUNK_IP,
               "-mp", str(free_rtp_range(TRUNK_IP, 4)[0]), "-rtp_echo", "-d", "2000",
               "-r", f"{2 * cps:g}", "-m", str(total), "-l", str(total), "-nostdin",
               "-timeout", f"{int(seconds) + 60}s", "-timeout_error", "-cid_str", "ovl-%u-%p@%s"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90, cwd=tmp)
        if p.returncode != 0:
            print("sipp:", (p.stdout + p.stderr)[-1500:])
        deadline = time.monotonic() + 20
        while True:
            with srv.db() as c:
                rows = c.execute("SELECT status, final_status, rx_voiced_frames, "
                                 "tx_audio_frames FROM calls WHERE ended_at IS NOT NULL "
                                 "AND sip_call_id LIKE 'ovl-%'").fetchall()
            if len(rows) >= total or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        admitted = [r for r in rows if r["status"] == "ended"]
        shed = [r for r in rows if r["final_status"] == 503]
        audio = [r for r in admitted if r["rx_voiced_frames"] > 5 and r["tx_audio_frames"] > 20]
        other = len(rows) - len(admitted) - len(shed)
        print(f"overload: offered {total} calls at {2 * cps:g}/s against max_cps {cps:g} "
              f"(sipp rc {p.returncode}): admitted {len(admitted)} ({len(audio)} with audio "
              f"both ways), shed with 503 {len(shed)}, other {other}")
        print(f"overload: {legit_call(srv)}")
    finally:
        print(f"overload: server exit code {srv.stop()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cps", type=float, default=10.0, help="sip.max_cps of the overload run")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the overload run")
    ap.add_argument("--overload-only", action="store_true")
    ap.add_argument("--only", help="run only the parts whose name contains this "
                    "(corpus, scanners, scanners-drop, overload)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        runs: list[tuple[str, Callable[[Path], None]]] = [
            ("corpus", corpus),
            ("scanners-reject", lambda p: scanners(p, "reject")),
            ("scanners-drop", lambda p: scanners(p, "drop"))]
        for name, fn in ([] if args.overload_only else runs):
            if args.only and args.only not in name:
                continue
            sub = Path(d) / name
            sub.mkdir()
            fn(sub)
        if args.only and args.only != "overload":
            return
        sub = Path(d) / "overload"
        sub.mkdir()
        overload(sub, args.cps, args.seconds)


if __name__ == "__main__":
    main()
