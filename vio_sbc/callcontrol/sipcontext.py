"""The SIP context an inbound call gives its agent: which INVITE headers pass, size-limited.
Pure: plain headers in, plain variables out.

A trunk's `pass_headers` lists header names or patterns (`X-*`, `P-Asserted-Identity`,
`Diversion`, `History-Info`, `Remote-Party-ID`...; case-insensitive, `*` matches any
run of characters). Each header that matches passes under its lower-case name
(`x-customer-id`); `request_user` (the Request-URI's user part) and `caller_name`
(From's display name) always pass when present. Credentials never pass, whatever the
patterns say (`NEVER`). Values are cut to `MAX_VALUE` characters with control
characters removed; once the values together reach `MAX_TOTAL` characters, further
headers are left out (and counted in `dropped`). Log only `redacted(...)`.

Outbound, `outbound_headers`: a call's variables named like an `X-` header (a dialer
job's `x-customer-id: 42`) go out as INVITE headers (`X-Customer-Id: 42`), within the
same limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import unquote

MAX_VALUE = 256  # characters per value
MAX_TOTAL = 2048  # characters of all values of one call
NEVER = frozenset({"authorization", "proxy-authorization", "www-authenticate",
                   "proxy-authenticate", "cookie", "authentication-info"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_X_NAME = re.compile(r"[Xx]-[A-Za-z0-9-]{1,62}")
_DISPLAY = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<')


@dataclass(frozen=True, slots=True)
class SipContext:
    variables: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()  # headers that matched but did not fit in MAX_TOTAL

    def redacted(self) -> dict[str, str]:
        """What a log line may say: each variable's name and length, never its value."""
        return {k: f"<{len(v)} chars>" for k, v in self.variables.items()}


def _clean(value: str) -> str:
    return _CONTROL.sub("", value).strip()[:MAX_VALUE]


def display_name(from_value: str) -> str:
    """`"Bob \\"B\\" Smith" <sip:b@h>;tag=1` -> `Bob "B" Smith`; `Bob <sip:..>` -> `Bob`."""
    m = _DISPLAY.match(from_value)
    if m is None:
        return ""
    quoted, plain = m.group(1), m.group(2)
    return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (plain or "").strip()


def uri_user(uri: str) -> str:
    """The user part of a sip:/sips:/tel: URI, "" if it has none."""
    u = uri.strip().strip("<>")
    scheme, sep, rest = u.partition(":")
    if not sep:
        return ""
    if scheme.lower() == "tel":
        return unquote(rest.split(";", 1)[0])
    if "@" not in rest:
        return ""
    return unquote(rest.rsplit("@", 1)[0].split(";", 1)[0].split(":", 1)[0])


def matches(name: str, patterns: Sequence[str]) -> bool:
    low = name.lower()
    return low not in NEVER and any(fnmatchcase(low, p.lower()) for p in patterns)


def sip_context(headers: Mapping[str, str], request_uri: str,
                patterns: Sequence[str]) -> SipContext:
    """The variables of one INVITE (`headers`: lower-case name -> value, in the order
    received). `request_user` and `caller_name` first, then the passing headers."""
    out: dict[str, str] = {}
    dropped: list[str] = []
    total = 0

    def put(key: str, raw: str) -> None:
        nonlocal total
        value = _clean(raw)
        if not value:
            return
        if total + len(value) > MAX_TOTAL:
            dropped.append(key)
            return
        out[key] = value
        total += len(value)

    put("request_user", uri_user(request_uri))
    put("caller_name", display_name(headers.get("from", "")))
    for name, value in headers.items():
        if matches(name, patterns):
            put(name.lower(), value)
    return SipContext(out, tuple(dropped))


def outbound_headers(variables: Mapping[str, str]) -> list[tuple[str, str]]:
    """The `X-` headers an outbound INVITE carries: each variable whose name is an
    `X-` header name, in canonical case, value cleaned and cut as inbound ones."""
    out: list[tuple[str, str]] = []
    total = 0
    for key, raw in variables.items():
        if not _X_NAME.fullmatch(key):
            continue
        value = _clean(raw)
        if not value or total + len(value) > MAX_TOTAL:
            continue
        out.append(("-".join(part.capitalize() for part in key.split("-")), value))
        total += len(value)
    return out
