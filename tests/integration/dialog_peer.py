"""A real caller on raw sockets that keeps its dialog's identifiers, so a test can
send requests inside that dialog from other addresses (a stranger's re-INVITE, BYE,
REFER, an INVITE with Replaces) and see whether the call keeps its audio.

`RawCall` is a UAC over UDP: INVITE with an SDP pointing at its `RtpSink` (which
counts and echoes every RTP packet the server sends), 200, ACK; then `request()`
builds any request of the dialog, and `bye()` ends it.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from dataclasses import dataclass, field

from tests.integration.rawsip import SDP_PCMU, Reply, UdpPeer
from tests.integration.rtpsink import RtpSink


def sdp(ip: str, rtp_port: int) -> str:
    return SDP_PCMU.format(ip=ip, rtp=rtp_port)


def _tag(value: str) -> str:
    m = re.search(r";\s*tag=([^;>\s]+)", value)
    return m.group(1) if m else ""


@dataclass
class RawCall:
    server_port: int
    src: str = "127.0.0.2"
    number: str = "+14155550100"
    peer: UdpPeer = field(init=False)
    rtp: RtpSink = field(init=False)
    call_id: str = ""
    from_tag: str = ""
    to_tag: str = ""
    cseq: int = 1
    remote_target: str = ""  # the server's Contact: the Request-URI inside the dialog
    answer: Reply | None = None
    offer_lines: str = ""  # extra media-level SDP lines of the INVITE's offer

    def __post_init__(self) -> None:
        self.peer = UdpPeer(self.src)
        self.rtp = RtpSink(self.src)
        self.rtp.__enter__()
        self.call_id = f"dlg-{uuid.uuid4().hex}@{self.src}"
        self.from_tag = uuid.uuid4().hex[:10]

    def close(self) -> None:
        self.rtp.__exit__()
        self.peer.close()

    # -- requests of the dialog -----------------------------------------------------
    def headers(self, method: str, *, via_host: str, via_port: int, cseq: int,
                transport: str = "UDP") -> str:
        to = f"<sip:{self.number}@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        return (f"Via: SIP/2.0/{transport} {via_host}:{via_port};branch=z9hG4bK"
                f"{uuid.uuid4().hex[:16]};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:caller@{self.src}>;tag={self.from_tag}\r\n"
                f"To: {to}\r\n"
                f"Call-ID: {self.call_id}\r\n"
                f"CSeq: {cseq} {method}\r\n")

    def request(self, method: str, *, sender: UdpPeer | None = None, extra: str = "",
                body: str = "", uri: str | None = None, cseq: int | None = None) -> str:
        """A request of this dialog as `sender` (default: the caller itself) would send
        it: its own Via and Contact, the dialog's Call-ID, tags and the next CSeq."""
        s = sender or self.peer
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        ruri = uri or self.remote_target or f"sip:{self.number}@127.0.0.1:{self.server_port}"
        ctype = "Content-Type: application/sdp\r\n" if body else ""
        return (f"{method} {ruri} SIP/2.0\r\n"
                + self.headers(method, via_host=s.src, via_port=s.port, cseq=cseq)
                + f"Contact: <sip:caller@{s.src}:{s.port}>\r\n{extra}{ctype}"
                f"Content-Length: {len(body.encode())}\r\n\r\n{body}")

    # -- the call -------------------------------------------------------------------
    def start(self, timeout: float = 10.0, offer: bool = True) -> Reply:
        """INVITE, wait for the 200 (provisional answers skipped), ACK it. Without
        `offer` the INVITE has no SDP (delayed offer): the ACK carries our answer."""
        body = sdp(self.src, self.rtp.port) + self.offer_lines if offer else ""
        invite = self.request("INVITE", body=body, cseq=1,
                              uri=f"sip:{self.number}@127.0.0.1:{self.server_port}")
        self.cseq = 1
        self.peer.send(invite, self.server_port)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no final answer to the INVITE of {self.call_id}")
            replies = self.peer.replies(timeout=left, call_id=self.call_id)
            final = [r for r in replies if r.status >= 200]
            if final:
                break
        answer = final[-1]
        if answer.status != 200:
            raise AssertionError(f"INVITE answered {answer.status} {answer.reason}")
        self.answer = answer
        self.to_tag = _tag(answer.headers.get("to", ""))
        contact = answer.headers.get("contact", "")
        m = re.search(r"<([^>]+)>", contact)
        self.remote_target = m.group(1) if m else contact
        self.ack(1, "" if offer else sdp(self.src, self.rtp.port))
        return answer

    def ack(self, cseq: int, body: str = "") -> None:
        self.peer.send(self.request("ACK", cseq=cseq, body=body), self.server_port)

    def bye(self, timeout: float = 5.0) -> list[Reply]:
        return self.peer.exchange(self.request("BYE"), self.server_port, timeout=timeout)

    def wait_request(self, method: str, timeout: float = 10.0) -> str:
        """The next request `method` the server sends to the caller (answered 200)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} from the server within {timeout}s")
            self.peer.sock.settimeout(left)
            try:
                data, addr = self.peer.sock.recvfrom(65536)
            except TimeoutError:
                continue
            text = data.decode("utf-8", "replace")
            if text.startswith(f"{method} "):
                head = text.split("\r\n\r\n", 1)[0].split("\r\n")
                keep = [ln for ln in head[1:] if ln.split(":", 1)[0].lower()
                        in ("via", "from", "to", "call-id", "cseq")]
                ok = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
                self.peer.sock.sendto(ok.encode(), addr)
                return text

    def wait_rtp(self, more: int, since: float, timeout: float = 10.0) -> int:
        """Block until `more` RTP packets arrived after monotonic time `since`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.rtp.after(since)
            if got >= more:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {got} RTP packets after the mark, wanted {more}")
            time.sleep(0.02)


class Listener:
    """A UDP socket that counts what reaches it (is anyone dialling this address?)."""

    def __init__(self, host: str, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self.sock.setblocking(False)

    def datagrams(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(65536))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()
