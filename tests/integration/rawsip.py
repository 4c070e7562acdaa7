"""A raw SIP peer over UDP/TCP sockets on loopback: handcrafted (and malformed)
requests that no well-behaved user agent would send, and the replies they get."""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass

SDP_PCMU = (
    "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio {rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case name -> value (last one wins)
    text: str


def parse_reply(data: bytes) -> Reply:
    text = data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    headers = {}
    for ln in lines[1:]:
        name, _, value = ln.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, text)


def request(method: str, server_port: int, *, src: str = "127.0.0.2", src_port: int = 0,
            number: str = "+14155550100", body: str = "", call_id: str | None = None,
            transport: str = "UDP", extra: str = "", cseq: str | None = None,
            content_length: int | None = None) -> str:
    """A well-formed request; tests mutate the text they get."""
    cid = call_id or f"raw-{uuid.uuid4().hex}@{src}"
    length = len(body.encode()) if content_length is None else content_length
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{method} sip:{number}@127.0.0.1:{server_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {src}:{src_port};branch=z9hG4bK{uuid.uuid4().hex[:16]}"
        ";rport\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:caller@{src}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {cid}\r\n"
        f"CSeq: {cseq or '1 ' + method}\r\n"
        f"Contact: <sip:caller@{src}:{src_port}>\r\n"
        f"{extra}{ctype}"
        f"Content-Length: {length}\r\n\r\n{body}"
    )


def call_id_of(text: str) -> str | None:
    for ln in text.split("\n"):
        name, _, value = ln.rstrip("\r").partition(":")
        if name.strip().lower() in ("call-id", "i"):
            return value.strip()
    return None


class UdpPeer:
    def __init__(self, src: str = "127.0.0.2") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((src, 0))
        self.src = src
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def exchange(self, text: str, server_port: int, timeout: float = 2.0) -> list[Reply]:
        """Send a request; its replies (matched by Call-ID); ACK a final non-2xx one."""
        cid = call_id_of(text)
        self.send(text, server_port)
        replies = self.replies(timeout=timeout, call_id=cid)
        if replies and replies[-1].status >= 300 and text.startswith("INVITE"):
            self.ack(text, replies[-1], server_port)
        return replies

    def unanswered(self, text: str, server_port: int, timeout: float = 10.0) -> list[Reply]:
        """Send `text`, then an OPTIONS from the same socket as a barrier, and return the
        replies that are not the barrier's, once its final answer has come. pjsip reads
        one UDP socket in order and answers each request before reading the next, so an
        answer to `text` would have been sent before the barrier's: "no reply" is then
        known, not guessed from a quiet window. (A barrier needs a source the server
        answers: in drop mode wait for the drop counter instead.)"""
        self.send(text, server_port)
        barrier = request("OPTIONS", server_port, src=self.src, src_port=self.port)
        barrier_id = call_id_of(barrier)
        self.send(barrier, server_port)
        out: list[Reply] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for reply in self.replies(timeout=deadline - time.monotonic(), until_final=False,
                                      stop_at=barrier_id):
                if reply.headers.get("call-id") == barrier_id:
                    if reply.status >= 200:
                        return out
                else:
                    out.append(reply)
        raise TimeoutError(f"no answer to the barrier OPTIONS in {timeout} s: {out}")

    def send(self, data: bytes | str, server_port: int) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.sock.sendto(raw, ("127.0.0.1", server_port))

    def replies(self, timeout: float = 2.0, until_final: bool = True,
                call_id: str | None = None, stop_at: str | None = None) -> list[Reply]:
        """Replies (to `call_id` only, if given) until a final (>= 200) one arrives or
        `timeout` passes (or, with `stop_at`, a final reply with that Call-ID)."""
        out: list[Reply] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65536)
            except TimeoutError:
                return out
            if not data.startswith(b"SIP/2.0 "):
                continue  # a request from the server (e.g. a BYE): not a reply
            try:
                reply = parse_reply(data)
            except (ValueError, IndexError):
                continue
            if call_id is not None and reply.headers.get("call-id") != call_id:
                continue  # e.g. a retransmission for an earlier request
            out.append(reply)
            if until_final and reply.status >= 200:
                return out
            if stop_at is not None and reply.status >= 200 and (
                    reply.headers.get("call-id") == stop_at):
                return out

    def ack(self, invite: str, reply: Reply, server_port: int) -> None:
        """ACK a non-2xx final answer to `invite` (same branch, the reply's To)."""
        lines = invite.split("\r\n")
        via = next(ln for ln in lines if ln.startswith("Via:"))
        frm = next(ln for ln in lines if ln.startswith("From:"))
        cid = next(ln for ln in lines if ln.startswith("Call-ID:"))
        cseq = next(ln for ln in lines if ln.startswith("CSeq:")).split()[1]
        ack = (f"ACK {lines[0].split()[1]} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n{frm}\r\n"
               f"To: {reply.headers.get('to', '')}\r\n{cid}\r\nCSeq: {cseq} ACK\r\n"
               "Content-Length: 0\r\n\r\n")
        self.send(ack, server_port)


def tcp_exchange(data: bytes, server_port: int, src: str = "127.0.0.2",
                 timeout: float = 2.0) -> bytes:
    """Send `data` on a fresh TCP connection; whatever comes back within `timeout`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    got = b""
    try:
        s.connect(("127.0.0.1", server_port))
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and got.split(b" ", 2)[1:2] and got[8:9] != b"1":
                break  # a final response arrived
    except OSError:
        pass
    finally:
        s.close()
    return got
