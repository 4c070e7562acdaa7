"""Send the malformed-SIP corpus to a running server over UDP (and TCP) from a loopback
address and tally what comes back. Used by tests/integration/test_malformed.py and
bench/security_proof.py. Every loop is bounded in count and time."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.integration.rawsip import Reply, call_id_of, parse_reply, tcp_exchange


@dataclass
class Outcome:
    sent: int = 0
    finals: Counter[int] = field(default_factory=Counter)  # final status -> messages
    provisional_only: int = 0
    no_reply: int = 0
    answered: int = 0  # INVITEs that got 2xx (ACKed and hung up by the runner)
    by_id: dict[int, list[int]] = field(default_factory=dict)  # message id -> statuses

    def summary(self) -> str:
        finals = ", ".join(f"{k}: {v}" for k, v in sorted(self.finals.items()))
        return (f"sent {self.sent}; final replies {{{finals}}}; provisional only "
                f"{self.provisional_only}; no reply {self.no_reply}; answered {self.answered}")


def _tally(out: Outcome, ids: Sequence[int], replies: dict[int, list[Reply]]) -> None:
    for i in ids:
        statuses = [r.status for r in replies.get(i, [])]
        out.by_id[i] = statuses
        finals = [s for s in statuses if s >= 200]
        if finals:
            out.finals[finals[0]] += 1
        elif statuses:
            out.provisional_only += 1
        else:
            out.no_reply += 1


def _end_call(sock: socket.socket, reply: Reply, port: int, src: str) -> None:
    """ACK a 2xx and send BYE, from the reply's dialog headers."""
    h = reply.headers
    n = int(h.get("cseq", "1 INVITE").split()[0] or 1)
    target = f"sip:127.0.0.1:{port}"
    for method, cseq in (("ACK", n), ("BYE", n + 1)):
        msg = (f"{method} {target} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {src}:5999;branch=z9hG4bK{uuid.uuid4().hex[:12]};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: {h.get('from', '')}\r\nTo: {h.get('to', '')}\r\n"
               f"Call-ID: {h.get('call-id', '')}\r\nCSeq: {cseq} {method}\r\n"
               "Content-Length: 0\r\n\r\n")
        sock.sendto(msg.encode(), ("127.0.0.1", port))


def run_udp(entries: Sequence[dict[str, Any]], port: int, src: str = "127.0.0.2",
            per_second: float = 300.0, settle_s: float = 4.0) -> Outcome:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    sock.settimeout(0.2)
    by_cid: dict[str, int] = {}
    for e in entries:
        cid = call_id_of(str(e["data"]))
        if cid is not None:
            by_cid.setdefault(cid, int(e["id"]))
    replies: dict[int, list[Reply]] = {}
    oks: list[Reply] = []
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                data, _ = sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            if not data.startswith(b"SIP/2.0 "):
                continue
            try:
                reply = parse_reply(data)
            except (ValueError, IndexError):
                continue
            i = by_cid.get(reply.headers.get("call-id", ""))
            if i is None:
                continue
            got = replies.setdefault(i, [])
            if reply.status >= 200 and any(r.status >= 200 for r in got):
                continue  # a retransmission of the final answer
            got.append(reply)
            if 200 <= reply.status < 300 and reply.headers.get("cseq", "").endswith("INVITE"):
                oks.append(reply)
                _end_call(sock, reply, port, src)  # free the call (and its RTP ports)

    rx = threading.Thread(target=receive, daemon=True)
    rx.start()
    out = Outcome()
    t0 = time.monotonic()
    try:
        for n, e in enumerate(entries):
            ahead = n / per_second - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)  # pacing, not synchronisation
            sock.sendto(str(e["data"]).encode("latin-1"), ("127.0.0.1", port))
            out.sent += 1
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
        out.answered = len(oks)
    finally:
        stop.set()
        rx.join(2)
        sock.close()
    _tally(out, [int(e["id"]) for e in entries], replies)
    return out


def run_tcp(entries: Sequence[dict[str, Any]], port: int, src: str = "127.0.0.2",
            parallel: int = 8, timeout_s: float = 1.0) -> Outcome:
    """Each message on its own TCP connection (Via rewritten to TCP)."""

    def one(e: dict[str, Any]) -> tuple[int, list[Reply]]:
        data = str(e["data"]).replace("SIP/2.0/UDP", "SIP/2.0/TCP").encode("latin-1")
        got = tcp_exchange(data, port, src, timeout_s)
        replies = []
        for chunk in got.split(b"SIP/2.0 ")[1:]:
            try:
                replies.append(parse_reply(b"SIP/2.0 " + chunk))
            except (ValueError, IndexError):
                pass
        return int(e["id"]), replies

    with ThreadPoolExecutor(parallel) as pool:
        results = dict(pool.map(one, entries))
    out = Outcome(sent=len(entries))
    _tally(out, list(results), results)
    return out
