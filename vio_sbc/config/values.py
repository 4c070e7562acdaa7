"""Leaf value types of the config and the converters that read them from YAML.

Each converter takes an `Item` and returns the value or raises `Invalid` with the
message the user sees (see `vio_sbc.config.nodes`). The patterns here are the one
definition of each syntax in the code base: an E.164 number (`E164`), a SIP URI,
a transfer target, a host, an amount of money.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from vio_sbc.config.nodes import (
    FLOAT,
    INT,
    STR,
    Invalid,
    Issues,
    Item,
    choice,
    describe,
    entries,
    str_value,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

E164 = re.compile(r"\+[1-9][0-9]{7,14}")  # + then 8-15 digits, no leading 0
_LISTEN = re.compile(r"\[([^\]]*)\]:([0-9]{1,6})|([^:\[\]]*):([0-9]{1,6})")
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_PORTS = re.compile(r"([0-9]{1,6})-([0-9]{1,6})")
_SIP_URI = re.compile(r"sips?:(?:[^@;>\s]+@)?(\[[0-9A-Fa-f:.]+\]|[^:;>\s\[\]]+)(?::([0-9]{1,5}))?"
                      r"(;[^\s>]*)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_INCREMENT = re.compile(r"([0-9]{1,4})/([0-9]{1,4})")
# a blind-transfer target (`transfer_to`, REFER): a SIP/SIPS URI or a number
_TARGET_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_TARGET_URI = re.compile(r"sips?:[^\s<>\"]+", re.IGNORECASE)


def is_e164(text: str) -> bool:
    return E164.fullmatch(text) is not None


def transport_param(transport: str) -> str:
    """The URI parameter that selects a transport (`;transport=tcp`, `;transport=tls`; UDP
    is the default)."""
    return f";transport={transport}" if transport in ("tcp", "tls") else ""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def listen(item: Item, issues: Issues) -> HostPort:
    """`host:port` or `[ipv6]:port`, the host an IP literal."""
    match = _LISTEN.fullmatch(item.node.value) if item.tag == STR else None
    if match is None:
        raise Invalid(f"expected host:port or [ipv6]:port, got {describe(item)}")
    host = match.group(1) if match.group(1) is not None else match.group(3)
    port = int(match.group(2) or match.group(4))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise Invalid(f"host {host!r} is not an IP address (listen needs an IP literal)") from None
    if not 1 <= port <= 65535:
        raise Invalid(f"port must be between 1 and 65535, got {port}")
    return HostPort(str(address), port)


def hostname(item: Item, issues: Issues) -> str:
    """An IP address or a hostname."""
    text = str_value(item)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise Invalid(f"{item.shown} is not an IP address or hostname") from None
    return text


def ports(item: Item, issues: Issues) -> tuple[int, int]:
    """`MIN-MAX`, an even MIN, 1024 <= MIN < MAX <= 65535."""
    match = _PORTS.fullmatch(item.node.value) if item.tag == STR else None
    if match is None:
        raise Invalid(f"expected MIN-MAX (e.g. 20000-20999), got {describe(item)}")
    low, high = int(match.group(1)), int(match.group(2))
    if low % 2:
        raise Invalid(f"MIN must be even (RTP uses even ports), got {low}")
    if not 1024 <= low < high <= 65535:
        raise Invalid(f"must satisfy 1024 <= MIN < MAX <= 65535, got {low}-{high}")
    return low, high


def word_choice(*options: str) -> Callable[[Item, Issues], str]:
    """`choice`, also taking an unquoted word YAML 1.1 reads as a boolean (`off`)."""
    plain = choice(*options)

    def conv(item: Item, issues: Issues) -> str:
        if item.node.value in options and not item.is_null:
            return str(item.node.value)
        return str(plain(item, issues))

    return conv


def e164(item: Item, issues: Issues) -> str:
    text = str_value(item)
    if not is_e164(text):
        raise Invalid(f"{item.shown} is not an E.164 number (+ then 8-15 digits, no leading 0)")
    return text


def sip_uri(item: Item, issues: Issues) -> str:
    text = str_value(item)
    if not _SIP_URI.fullmatch(text):
        raise Invalid(f"{item.shown} is not a SIP URI (e.g. sip:pbx.example.com:5060)")
    return text


def uri_host(uri: str) -> str:
    """The host of a SIP URI accepted by `sip_uri` (brackets stripped)."""
    match = _SIP_URI.fullmatch(uri)
    if match is None:
        raise ValueError(f"not a SIP URI: {uri!r}")
    return match.group(1).strip("[]")


def parse_network(text: str) -> IPNetwork:
    """A CIDR, or a bare IP meaning a single host (/32 or /128)."""
    address, slash, prefix = text.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise Invalid(f"invalid network {text!r}: not an IPv4 or IPv6 address") from None
    if not slash:
        return ipaddress.ip_network(ip)
    if not re.fullmatch(r"[0-9]{1,3}", prefix) or int(prefix) > ip.max_prefixlen:
        raise Invalid(f"invalid network {text!r}: prefix length must be 0-{ip.max_prefixlen}")
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        network = ipaddress.ip_network(text, strict=False)
        raise Invalid(f"invalid network {text!r}: host bits set (did you mean {network}?)"
                      ) from None


# --- money -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Increment:
    """Billing increment "FIRST/NEXT" in seconds: the first block, then each next block."""

    first_s: int = 60
    next_s: int = 60

    def __str__(self) -> str:
        return f"{self.first_s}/{self.next_s}"


def money(item: Item, issues: Issues) -> Decimal:
    """A non-negative amount: a YAML number or a quoted decimal, kept exact (never a
    float: `0.0085` becomes Decimal("0.0085"))."""
    text = str(item.node.value) if item.tag in (INT, FLOAT, STR) else ""
    try:
        value = Decimal(text) if text else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise Invalid(f"expected an amount (e.g. 0.0085), got {describe(item)}")
    if value < 0:
        raise Invalid(f"must be at least 0, got {item.shown}")
    return value


def currency(item: Item, issues: Issues) -> str:
    if item.tag != STR or not _CURRENCY.fullmatch(str(item.node.value)):
        raise Invalid(f"expected a 3-letter ISO 4217 currency code (e.g. USD), got "
                      f"{describe(item)}")
    return str(item.node.value)


def increment(item: Item, issues: Issues) -> Increment:
    match = _INCREMENT.fullmatch(str(item.node.value)) if item.tag == STR else None
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise Invalid('expected "FIRST/NEXT" in whole seconds, each at least 1 '
                      f'(e.g. "60/60", "6/6", "1/1"), got {describe(item)}')
    return Increment(int(match.group(1)), int(match.group(2)))


# --- agent options ---------------------------------------------------------------------


def ws_url(item: Item, issues: Issues) -> str:
    value = str_value(item)
    if not re.fullmatch(r"wss?://[^\s/?#]+(/\S*)?", value):
        raise Invalid(f"expected a ws:// or wss:// URL, got {item.shown}")
    return value


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def ws_origin(item: Item, issues: Issues) -> str:
    """An `Origin` header value (RFC 6454): scheme://host[:port], no path; or "null"."""
    value = str_value(item)
    if value != "null" and not _ORIGIN.fullmatch(value):
        raise Invalid(f"expected an origin like https://agents.example.com (scheme://host"
                      f"[:port], no path), got {item.shown}")
    return value


_HEADER_PATTERN = re.compile(r"[A-Za-z0-9!%'+.^_`~*-]+")
_NEVER_PASSED = ("authorization", "proxy-authorization", "www-authenticate",
                 "proxy-authenticate", "cookie", "authentication-info")


def header_pattern(item: Item, issues: Issues) -> str:
    """A SIP header name, or a pattern of one with `*` (`X-*`); never a credential."""
    value = str_value(item)
    if not _HEADER_PATTERN.fullmatch(value):
        raise Invalid(f"expected a header name or pattern like X-* (letters, digits, - and *),"
                      f" got {item.shown}")
    if value.lower() in _NEVER_PASSED:
        raise Invalid(f"header {value} carries credentials and is never passed to an agent")
    return value


def str_mapping(item: Item, issues: Issues) -> dict[str, str]:
    """A mapping of strings (numbers taken as written, null as "")."""
    out: dict[str, str] = {}
    for key, child in entries(item, issues) or []:
        if child.tag not in (STR, INT) and not child.is_null:
            issues.at(child, f"expected a string, got {describe(child)}")
        else:
            out[key] = "" if child.is_null else str(child.node.value)
    return out


def dtmf_digit(item: Item, issues: Issues) -> str:
    text = str(item.node.value) if item.tag in (STR, INT) else ""
    if not re.fullmatch(r"[0-9*#A-D]", text):
        raise Invalid(f"expected one DTMF digit (0-9, *, #, A-D), got {describe(item)}")
    return text


def check_transfer_target(target: str) -> str | None:
    """Why `target` is no transfer target (a sip:/sips: URI or a number), or None."""
    if _TARGET_URI.fullmatch(target) or _TARGET_NUMBER.fullmatch(target):
        return None
    return (f"transfer target {target!r} is neither a sip:/sips: URI nor a number "
            "(+, digits, *, #)")


def is_target_number(target: str) -> bool:
    return _TARGET_NUMBER.fullmatch(target) is not None


def transfer_target(item: Item, issues: Issues) -> str:
    text = str_value(item)
    why = check_transfer_target(text)
    if why is not None:
        raise Invalid(why)
    return text


def database_url(item: Item, issues: Issues) -> str:
    """A PostgreSQL URL, `postgresql://USER@HOST[:PORT]/DBNAME`, without a password (that
    is `storage.password`, a secret); never quoted in a message."""
    from urllib.parse import urlsplit

    text = str_value(item)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise Invalid("not a valid URL (expected postgresql://USER@HOST:PORT/DBNAME)") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise Invalid("expected a postgresql:// URL (leave storage.database out for the "
                      "SQLite files in storage.dir)")
    if parts.password is not None:
        raise Invalid("the URL must not hold a password: give it as storage.password: ${NAME} "
                      "or storage.password_file: PATH")
    if not parts.hostname or not parts.path.strip("/"):
        raise Invalid("expected postgresql://USER@HOST:PORT/DBNAME (host and database name)")
    if port is not None and not 1 <= port <= 65535:
        raise Invalid(f"port must be between 1 and 65535, got {port}")
    return text
