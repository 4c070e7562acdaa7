"""Just enough SIP message parsing for routing decisions: pure, no pjsua2.

pjsua2 hands us the INVITE as text (`SipRxData.wholeMsg`); routing needs the
Request-URI, a few headers and the transport. Malformed input raises
`SipParseError` with a precise message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vio_sbc.errors import VioError

_COMPACT = {
    "f": "from", "t": "to", "i": "call-id", "m": "contact", "v": "via", "l": "content-length",
}
_VIA_PROTO = re.compile(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)", re.I)
_ANGLE = re.compile(r"<([^>]*)>")


class SipParseError(VioError, ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SipRequest:
    method: str
    uri: str
    headers: dict[str, str]  # lower-case name -> first value

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def transport(self) -> str:
        via = self.header("via")
        if via:
            m = _VIA_PROTO.match(via)
            if m:
                return m.group(1).lower()
        return "udp"

    @property
    def call_id(self) -> str:
        return self.header("call-id") or ""


def parse_request(text: str) -> SipRequest:
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = [ln.rstrip("\r") for ln in head.split("\n")]
    if not lines or not lines[0].strip():
        raise SipParseError("SIP request is empty")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("SIP/"):
        raise SipParseError(f"SIP request line is malformed: {lines[0][:80]!r}")
    method, uri, _version = parts
    headers: dict[str, str] = {}
    last: str | None = None
    for ln in lines[1:]:
        if not ln:
            continue
        if ln[0] in " \t" and last is not None:  # folded continuation
            headers[last] = headers[last] + " " + ln.strip()
            continue
        name, sep, value = ln.partition(":")
        if not sep:
            raise SipParseError(f"SIP header line has no colon: {ln[:80]!r}")
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key not in headers:
            headers[key] = value.strip()
            last = key
        else:
            last = None
    return SipRequest(method=method.upper(), uri=uri, headers=headers)


def addr_uri(value: str) -> str:
    """The URI inside a From/To/Contact value: `"Bob" <sip:b@h>;tag=1` -> `sip:b@h`."""
    m = _ANGLE.search(value)
    if m:
        return m.group(1).strip()
    return value.strip().split(";", 1)[0].strip()


def source_ip(src: str) -> str:
    """`127.0.0.2:5060` / `[::1]:5060` -> the address part."""
    s = src.strip()
    if s.startswith("["):
        return s[1 : s.index("]")]
    if s.count(":") == 1:
        return s.split(":", 1)[0]
    return s


def datagram_length_problem(text: str, headers: dict[str, str]) -> str | None:
    """Why a request received as one UDP datagram has a Content-Length that does not
    match its body (RFC 3261 18.3: larger must be rejected; smaller would cut the
    body, which then cannot be what the sender meant), or None when it matches or
    is absent."""
    value = headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        return f"Content-Length is not a number: {value[:20]!r}"
    sep = text.find("\r\n\r\n")
    if sep >= 0:
        body = text[sep + 4:]
    else:
        sep = text.find("\n\n")
        body = text[sep + 2:] if sep >= 0 else ""
    actual = len(body.encode("utf-8", "surrogateescape"))
    declared = int(value)
    if declared != actual:
        return f"Content-Length {declared} does not match the {actual}-byte body"
    return None
