"""A real caller over TCP on raw sockets, shaped like a user agent behind NAT: it
opens one connection to the server from an ephemeral port and sends its INVITE on
it, while its Contact names a listening socket of its own. Which socket the
server's in-dialog requests (a BYE) arrive on is then visible: the connection the
caller opened, or a new connection to the Contact's listener.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from dataclasses import dataclass, field

from tests.integration.rawsip import SDP_PCMU, Reply, parse_reply
from tests.integration.rtpsink import RtpSink


class SipStream:
    """SIP messages framed by Content-Length on one TCP connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def next(self, timeout: float) -> str | None:
        """The next whole message, or None at `timeout` or when the peer closed."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._take()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except OSError:  # timed out, or the socket is closed
                return None
            if not chunk:
                return None
            self.buf += chunk

    def _take(self) -> str | None:
        self.buf = self.buf.lstrip(b"\r\n")  # keep-alive CRLFs
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        if len(rest) < length:
            return None
        self.buf = rest[length:]
        return (head + sep + rest[:length]).decode("utf-8", "replace")


def answer_ok(request: str) -> str:
    """A 200 OK to `request` (its Via, From, To, Call-ID and CSeq)."""
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [ln for ln in head[1:] if ln.split(":", 1)[0].strip().lower()
            in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
    return "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"


@dataclass
class TcpCaller:
    server_port: int
    src: str = "127.0.0.2"
    number: str = "+14155550100"
    listener: socket.socket = field(init=False)  # the Contact's address
    contact_port: int = field(init=False)
    conn: socket.socket = field(init=False)  # the connection the caller opened
    stream: SipStream = field(init=False)
    rtp: RtpSink = field(init=False)
    call_id: str = ""
    from_tag: str = ""
    to_tag: str = ""
    remote_target: str = ""
    accepted: list[tuple[socket.socket, SipStream]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((self.src, 0))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.contact_port = int(self.listener.getsockname()[1])
        self.conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.conn.bind((self.src, 0))
        self.conn.settimeout(5)
        self.conn.connect(("127.0.0.1", self.server_port))
        self.stream = SipStream(self.conn)
        self.rtp = RtpSink(self.src)
        self.rtp.__enter__()
        self.call_id = f"tcp-{uuid.uuid4().hex}@{self.src}"
        self.from_tag = uuid.uuid4().hex[:10]

    @property
    def local_port(self) -> int:
        return int(self.conn.getsockname()[1])

    def close(self) -> None:
        self.rtp.__exit__()
        for s, _ in self.accepted:
            s.close()
        self.conn.close()
        self.listener.close()

    def _request(self, method: str, cseq: int, uri: str, body: str = "") -> str:
        to = f"<sip:{self.number}@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        return (f"{method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/TCP {self.src}:{self.contact_port};branch=z9hG4bK"
                f"{uuid.uuid4().hex[:16]};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:caller@{self.src}>;tag={self.from_tag}\r\n"
                f"To: {to}\r\nCall-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:caller@{self.src}:{self.contact_port};transport=tcp>\r\n"
                f"{ctype}Content-Length: {len(body.encode())}\r\n\r\n{body}")

    def start(self, timeout: float = 10.0) -> Reply:
        """INVITE on the caller's connection, the 200 (provisionals skipped), ACK."""
        uri = f"sip:{self.number}@127.0.0.1:{self.server_port};transport=tcp"
        self.stream.send(self._request("INVITE", 1, uri,
                                       SDP_PCMU.format(ip=self.src, rtp=self.rtp.port)))
        deadline = time.monotonic() + timeout
        while True:
            msg = self.stream.next(max(0.0, deadline - time.monotonic()))
            if msg is None:
                raise TimeoutError(f"no final answer to the INVITE of {self.call_id}")
            if not msg.startswith("SIP/2.0 "):
                continue
            reply = parse_reply(msg.encode())
            if reply.status >= 200:
                break
        if reply.status != 200:
            raise AssertionError(f"INVITE answered {reply.status} {reply.reason}")
        m = re.search(r";\s*tag=([^;>\s]+)", reply.headers.get("to", ""))
        self.to_tag = m.group(1) if m else ""
        c = re.search(r"<([^>]+)>", reply.headers.get("contact", ""))
        self.remote_target = c.group(1) if c else reply.headers.get("contact", "")
        self.stream.send(self._request("ACK", 1, self.remote_target))
        return reply

    def accept_new(self) -> None:
        """Take every connection the server opened to the Contact's listener."""
        while True:
            try:
                s, _ = self.listener.accept()
            except BlockingIOError:
                return
            s.setblocking(True)
            self.accepted.append((s, SipStream(s)))

    def wait_request(self, method: str, timeout: float = 10.0) -> tuple[str, str]:
        """The next request `method` from the server, answered 200 on the socket it came
        on: (`"caller"` | `"contact"`, its text). Polls both the caller's connection
        and any connection the server opened to the Contact."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.accept_new()
            for where, stream in [("caller", self.stream),
                                  *(("contact", st) for _, st in self.accepted)]:
                msg = stream.next(0.05)
                if msg is not None and msg.startswith(f"{method} "):
                    stream.send(answer_ok(msg))
                    return where, msg
        raise TimeoutError(f"no {method} from the server within {timeout}s")
