"""Generate the malformed-SIP corpus: real INVITE/REGISTER/OPTIONS texts, mutated.

    python -m tests.fuzz.gen_corpus            # rewrites tests/fuzz/corpus.jsonl.gz

Deterministic (fixed seed): the same corpus comes out every time, so the file in the
repository can be checked against this script (tests/unit/test_fuzz_corpus.py). Each
line is {"id", "base", "ops", "data"}; `data` is the message as latin-1 text (any
byte value survives the JSON round trip). Messages claim to come from 127.0.0.2 with
`rport`, so replies go back to whichever socket sends them.
"""

from __future__ import annotations

import gzip
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

SEED = 20261125
COUNT = {"INVITE": 700, "REGISTER": 200, "OPTIONS": 200}
CORPUS = Path(__file__).with_name("corpus.jsonl.gz")
SRC = "127.0.0.2"
NUMBER = "+14155550100"

SDP = (
    "v=0\r\no=qa 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n"
    "t=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    "a=ptime:20\r\na=sendrecv\r\n"
)


def base(method: str, i: int) -> str:
    """A well-formed request like SIPp or a PBX sends."""
    body = SDP if method == "INVITE" else ""
    uri = f"sip:{NUMBER}@127.0.0.1:5060" if method != "REGISTER" else "sip:127.0.0.1:5060"
    extra = ""
    if method == "INVITE":
        extra = "Content-Type: application/sdp\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
    if method == "REGISTER":
        extra = ('Expires: 3600\r\nAuthorization: Digest username="100", realm="x", '
                 'nonce="abc", uri="sip:127.0.0.1", response="0123456789abcdef"\r\n')
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {SRC}:5999;branch=z9hG4bK-fz{i};rport\r\n"
        "Max-Forwards: 70\r\n"
        f'From: "QA" <sip:+14155559999@{SRC}>;tag=fz{i}\r\n'
        f"To: <sip:{NUMBER}@127.0.0.1>\r\n"
        f"Call-ID: fz-{i}@{SRC}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:qa@{SRC}:5999>\r\n"
        f"User-Agent: fuzz\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )


def _split(msg: str) -> tuple[list[str], str]:
    head, sep, body = msg.partition("\r\n\r\n")
    return head.split("\r\n"), body if sep else ""


def _join(lines: list[str], body: str) -> str:
    return "\r\n".join(lines) + "\r\n\r\n" + body


def _header_index(lines: list[str], r: random.Random) -> int:
    return r.randrange(1, len(lines)) if len(lines) > 1 else 0


def truncate(msg: str, r: random.Random) -> str:
    return msg[: r.randrange(0, max(1, len(msg)))]


def drop_header(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    if len(lines) > 1:
        del lines[_header_index(lines, r)]
    return _join(lines, body)


def drop_named(name: str) -> Callable[[str, random.Random], str]:
    def op(msg: str, r: random.Random) -> str:
        lines, body = _split(msg)
        return _join([ln for ln in lines if not ln.lower().startswith(name + ":")], body)

    op.__name__ = f"drop_{name.replace('-', '_')}"
    return op


def dup_header(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    i = _header_index(lines, r)
    lines[i + 1:i + 1] = [lines[i]] * r.choice([1, 2, 10, 200])
    return _join(lines, body)


def huge_header(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    size = r.choice([1024, 8192, 20000, 50000])
    name = r.choice(["X-Junk", "Subject", "Via", "To", "Call-ID", "Contact"])
    lines.insert(_header_index(lines, r), f"{name}: " + "A" * size)
    return _join(lines, body)


def bad_content_length(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    value = r.choice(["-1", "abc", "99999999999999999999", str(len(body) + r.randrange(1, 500)),
                      str(max(0, len(body) - r.randrange(1, 50))), "", "0x10", " 1 2"])
    out = [ln for ln in lines if not ln.startswith("Content-Length:")]
    return _join([*out, f"Content-Length: {value}"], body)


def flip_bytes(msg: str, r: random.Random) -> str:
    chars = list(msg)
    for _ in range(r.randrange(1, 12)):
        if chars:
            chars[r.randrange(len(chars))] = chr(r.choice([0, 0xFF, 0x0A, 0x0D, 0x3A, 0x20,
                                                           r.randrange(256)]))
    return "".join(chars)


def garbage_line(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    junk = "".join(r.choice(string.printable.replace(":", "")) for _ in range(r.randrange(1, 80)))
    lines.insert(_header_index(lines, r), junk.replace("\r", "").replace("\n", ""))
    return _join(lines, body)


def bad_method(msg: str, r: random.Random) -> str:
    method = r.choice(["FOO", "invite", "", "INV ITE", "PUBLISH", "NOTIFY", "PRACK", "UPDATE",
                       "REFER", "INFO", "BYE", "CANCEL", "ACK", "X" * 300])
    _first, _, rest = msg.partition(" ")
    return f"{method} {rest}"


def bad_cseq(msg: str, r: random.Random) -> str:
    value = r.choice(["abc INVITE", "1", "4294967296 INVITE", "-1 INVITE", "1 BYE", "1 OPTIONS",
                      "", "1 INVITE extra", "99999999999999999999 REGISTER"])
    lines, body = _split(msg)
    return _join([f"CSeq: {value}" if ln.startswith("CSeq:") else ln for ln in lines], body)


def bad_uri(msg: str, r: random.Random) -> str:
    uri = r.choice(["sip:", "<>", "tel:+", "sip:@", "sip:" + "9" * 500 + "@127.0.0.1",
                    "http://127.0.0.1/", "sip:+14155550100@[::1", "sip:%00@127.0.0.1",
                    "sips:+14155550100@127.0.0.1", "sip:+14155550100@127.0.0.1;transport=xyz"])
    first, _, rest = msg.partition("\r\n")
    parts = first.split(" ")
    if len(parts) == 3:
        parts[1] = uri
    return " ".join(parts) + "\r\n" + rest


def bad_via(msg: str, r: random.Random) -> str:
    via = r.choice(["SIP/2.0/XYZ 127.0.0.2:5999", "SIP/2.0/UDP", "SIP/3.0/UDP 127.0.0.2;rport",
                    "SIP/2.0/UDP 127.0.0.2:99999;rport", "SIP/2.0/UDP [::1:5999;rport",
                    "garbage", "SIP/2.0/UDP 127.0.0.2:5999;branch=;rport"])
    lines, body = _split(msg)
    return _join([f"Via: {via}" if ln.startswith("Via:") else ln for ln in lines], body)


def lf_only(msg: str, r: random.Random) -> str:
    return msg.replace("\r\n", "\n")


def folding(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    i = _header_index(lines, r)
    lines[i + 1:i + 1] = [" \t continued"] * r.choice([1, 5, 100])
    return _join(lines, body)


def bad_header_name(msg: str, r: random.Random) -> str:
    lines, body = _split(msg)
    i = _header_index(lines, r)
    name, sep, value = lines[i].partition(":")
    lines[i] = r.choice([" " + name, name + " \t ", "\u00e9" + name, "", ":"]) + sep + value
    return _join(lines, body)


def _sdp_op(fn: Callable[[str, random.Random], str], name: str
            ) -> Callable[[str, random.Random], str]:
    def op(msg: str, r: random.Random) -> str:
        lines, body = _split(msg)
        if not body:
            body = SDP
            lines = [ln for ln in lines if not ln.startswith("Content-Length:")]
            lines.append("Content-Type: application/sdp")
            lines.append("Content-Length: 0")
        new = fn(body, r)
        lines = [f"Content-Length: {len(new.encode('latin-1', 'replace'))}"
                 if ln.startswith("Content-Length:") else ln for ln in lines]
        return _join(lines, new)

    op.__name__ = name
    return op


SDP_MUTATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "sdp_no_media": lambda b, r: "\r\n".join(ln for ln in b.split("\r\n")
                                             if not ln.startswith(("m=", "a="))),
    "sdp_unsupported_codec_only": lambda b, r: b.replace("RTP/AVP 0 8 101", r.choice(
        ["RTP/AVP 18", "RTP/AVP 3", "RTP/AVP 96"])).replace(
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000\r\na=rtpmap:96 opus/48000/2"),
    "sdp_bad_connection": lambda b, r: b.replace("c=IN IP4 127.0.0.2",
                                                 r.choice(["c=IN IP4", "c=XX", "c=IN IP4 999.1.1.1",
                                                           "c=IN IP6 zz::"])),
    "sdp_bad_port": lambda b, r: b.replace("m=audio 40000", r.choice(
        ["m=audio 0", "m=audio 99999", "m=audio -1", "m=audio x"])),
    "sdp_garbage": lambda b, r: "".join(r.choice(string.printable)
                                        for _ in range(r.randrange(200))),
    "sdp_no_version": lambda b, r: b.replace("v=0\r\n", ""),
    "sdp_many_media": lambda b, r: b + "m=audio 40002 RTP/AVP 0\r\n" * r.choice([2, 50]),
    "sdp_bad_rtpmap": lambda b, r: b.replace("a=rtpmap:0 PCMU/8000", r.choice(
        ["a=rtpmap:0", "a=rtpmap:x PCMU/abc", "a=rtpmap:0 PCMU/0", "a=rtpmap:" + "9" * 40])),
    "sdp_inactive": lambda b, r: b.replace("a=sendrecv", "a=inactive"),
}

OPS: list[Callable[[str, random.Random], str]] = [
    truncate, drop_header, dup_header, huge_header, bad_content_length, flip_bytes,
    garbage_line, bad_method, bad_cseq, bad_uri, bad_via, lf_only, folding, bad_header_name,
    drop_named("call-id"), drop_named("contact"), drop_named("from"), drop_named("to"),
    drop_named("via"), drop_named("cseq"), drop_named("content-length"),
    *(_sdp_op(fn, name) for name, fn in SDP_MUTATIONS.items()),
]
UDP_MAX = 60000  # stay within one datagram


def generate() -> list[dict[str, object]]:
    r = random.Random(SEED)
    out: list[dict[str, object]] = []
    i = 0
    for method, count in COUNT.items():
        for _ in range(count):
            msg = base(method, i)
            ops = r.sample(OPS, r.choice([1, 1, 1, 2, 3]))
            for op in ops:
                msg = op(msg, r)
            raw = msg.encode("latin-1", "replace")[:UDP_MAX]
            out.append({"id": i, "base": method, "ops": [op.__name__ for op in ops],
                        "data": raw.decode("latin-1")})
            i += 1
    return out


def dump(entries: list[dict[str, object]]) -> bytes:
    text = "".join(json.dumps(e, ensure_ascii=True, sort_keys=True) + "\n" for e in entries)
    return gzip.compress(text.encode("ascii"), mtime=0)


def load(path: Path = CORPUS) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="ascii") as f:
        return [json.loads(line) for line in f]


if __name__ == "__main__":
    CORPUS.write_bytes(dump(generate()))
    print(f"{CORPUS}: {sum(COUNT.values())} messages")
