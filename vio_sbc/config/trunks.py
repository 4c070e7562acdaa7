"""The `trunks:` and `numbers:` sections (docs/config.md, docs/trunks.md).

Settings are declared once with their converters; the builders add what depends on
other keys: `inbound.allow` (the `twilio` preset needs a twilio trunk), `outbound`
(credentials in pairs, a Twilio termination host), `register` (needs `outbound`).
Suspicious but valid settings become warnings.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml

from vio_sbc.config.fields import read, setting, sub
from vio_sbc.config.nodes import (
    STR,
    Invalid,
    Issues,
    Item,
    Reported,
    Section,
    boolean,
    choice,
    digits,
    entries,
    integer,
    list_items,
    list_of,
    nullable,
    section,
    str_value,
    string,
)
from vio_sbc.config.nodes import number as num
from vio_sbc.config.rates import Rates
from vio_sbc.config.values import (
    E164,
    IPNetwork,
    e164,
    header_pattern,
    hostname,
    parse_network,
    sip_uri,
    transport_param,
    word_choice,
)

TWILIO_PRESET = "twilio"
_VISUAL = re.compile(r"[\s\-.()]")
TLS_PORT = 5061
TWILIO_TERMINATION = re.compile(r"[a-z0-9][a-z0-9-]*\.pstn\.twilio\.com", re.I)


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How a trunk's national numbers become E.164.

    `country_code` (e.g. "1", "44"): with `national_prefix` ("0"), a number
    starting with the prefix becomes +<cc><rest>; with `national_length`
    (10 for NANP), a bare national number of that length becomes +<cc><number>.
    `international_prefix` ("00", "011") is replaced by "+".
    """

    country_code: str | None = field(default=None, metadata=setting(nullable(digits(3))))
    national_prefix: str | None = field(default=None, metadata=setting(nullable(digits())))
    national_length: int | None = field(default=None,
                                        metadata=setting(nullable(integer(4, 15))))
    international_prefix: str = field(default="00", metadata=setting(digits()))

    def to_e164(self, user: str) -> str | None:
        """E.164 form of a dialled user part under this format, or None."""
        s = _VISUAL.sub("", user)
        if s.startswith("+"):
            candidate = s
        elif not s.isdigit():
            return None
        elif self.international_prefix and s.startswith(self.international_prefix):
            candidate = "+" + s[len(self.international_prefix):]
        elif self.country_code and self.national_prefix and s.startswith(self.national_prefix):
            candidate = "+" + self.country_code + s[len(self.national_prefix):]
        elif self.country_code and self.national_length and len(s) == self.national_length:
            candidate = "+" + self.country_code + s
        else:
            candidate = "+" + s
        return candidate if E164.fullmatch(candidate) else None


@dataclass(frozen=True, slots=True)
class TrunkInbound:
    allow: tuple[IPNetwork, ...] = ()
    allow_preset: str | None = None  # "twilio" when the preset was used


@dataclass(frozen=True, slots=True)
class TrunkOutbound:
    """Where and how outbound INVITEs (and OPTIONS pings) go for a trunk."""

    host: str = field(metadata=setting(hostname))
    port: int = field(default=5060, metadata=setting(integer(1, 65535)))
    # tls: the port defaults to 5061 and the server certificate is verified (sip.tls)
    transport: Literal["udp", "tcp", "tls"] = field(default="udp",
                                                    metadata=setting(choice("udp", "tcp", "tls")))
    # tls: check the server certificate against the host name (sip.tls.verify_peer: false
    # turns it off for every trunk)
    verify_server: bool = field(default=True, metadata=setting(boolean))
    # sips: URIs (tls only) for a peer that wants them
    sips: bool = field(default=False, metadata=setting(boolean))
    username: str | None = field(default=None, metadata=setting(string(nonempty=True)))
    # digest (401/407), never logged: password: ${ENV}, or password_file: PATH
    password: str | None = field(default=None, repr=False, metadata=setting(None, secret=True))
    realm: str = field(default="*", metadata=setting(string(nonempty=True)))  # "*": any realm
    # host part of From/P-Asserted-Identity (default: host)
    from_domain: str | None = field(default=None, metadata=setting(nullable(hostname)))
    # E.164 sent instead of the calling number (None: the number)
    caller_id: str | None = field(default=None, metadata=setting(nullable(e164)))
    max_calls: int = field(default=10, metadata=setting(integer(lo=1)))  # concurrent outbound
    # new outbound calls per second (token bucket, burst max(1, cps))
    cps: float = field(default=1.0, metadata=setting(num(positive=True)))
    # OPTIONS health ping period (0 turns it off), its timeout, failures before "down"
    options_interval_s: float = field(default=30.0, metadata=setting(num(lo=0)))
    options_timeout_s: float = field(default=5.0, metadata=setting(num(positive=True)))
    options_down_after: int = field(default=2, metadata=setting(integer(lo=1)))

    @property
    def uri_host(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def scheme(self) -> str:
        return "sips" if self.sips and self.transport == "tls" else "sip"

    @property
    def uri(self) -> str:
        """The trunk's own SIP URI (OPTIONS pings, the default registrar)."""
        return f"{self.scheme}:{self.uri_host}{transport_param(self.transport)}"

    def target(self, user: str) -> str:
        """Request-URI for `user` (an E.164 number) on this trunk."""
        return f"{self.scheme}:{user}@{self.uri_host}{transport_param(self.transport)}"


@dataclass(frozen=True, slots=True)
class TrunkRegister:
    """REGISTER towards the trunk (registrar and credentials default to `outbound`)."""

    enabled: bool = field(default=False, metadata=setting(boolean))
    expires: int = field(default=300, metadata=setting(integer(4, 86400)))
    # sip:host[:port][;transport=tcp] (default: outbound host)
    registrar: str | None = field(default=None, metadata=setting(nullable(sip_uri)))
    # user part of our Contact (default: outbound.username)
    contact_user: str | None = field(default=None,
                                     metadata=setting(nullable(string(nonempty=True))))
    # address of record (default: sip:<username>@<registrar host>)
    aor: str | None = field(default=None, metadata=setting(nullable(sip_uri)))
    # first retry after a failure; doubles up to retry_max_s; after 403 (bad credentials)
    retry_min_s: float = field(default=2.0, metadata=setting(num(positive=True)))
    retry_max_s: float = field(default=300.0, metadata=setting(num(positive=True)))
    forbidden_retry_s: float = field(default=900.0, metadata=setting(num(positive=True)))


SrtpPolicy = Literal["off", "optional", "mandatory"]


@dataclass(frozen=True, slots=True)
class TrunkMedia:
    """Media of the trunk's calls: SRTP (SDES, AES_CM_128_HMAC_SHA1_80 and _32;
    the offer/answer policy is vio_sbc/callcontrol/srtp.py)."""

    srtp: SrtpPolicy = field(default="off", metadata=setting(
        word_choice("off", "optional", "mandatory")))


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    name: str
    kind: Literal["byoc", "twilio"] = field(metadata=setting(choice("byoc", "twilio")))
    inbound: TrunkInbound = field(default=TrunkInbound(), metadata=setting(None))
    outbound: TrunkOutbound | None = field(default=None, metadata=setting(None))
    register: TrunkRegister = field(default=TrunkRegister(), metadata=setting(None))
    number_format: NumberFormat = field(default=NumberFormat(),
                                        metadata=setting(sub(NumberFormat)))
    # send 180 and wait this long before answering
    ring_seconds: float = field(default=0.0, metadata=setting(num(0, 60)))
    recording: bool = field(default=True, metadata=setting(boolean))
    # INVITE headers passed to the agent (vio_sbc.callcontrol.sipcontext, docs/agents.md)
    pass_headers: tuple[str, ...] = field(default=(), metadata=setting(
        list_of(header_pattern, unique=True, noun="header")))
    rates: Rates | None = field(default=None, metadata=setting(sub(Rates, null_ok=False)))
    media: TrunkMedia = field(default=TrunkMedia(), metadata=setting(None))
    # twilio only: Twilio's Secure Trunking preset (TLS to port 5061, SRTP mandatory)
    secure: bool = field(default=False, metadata=setting(boolean))
    file: str = ""
    line: int = 0


@lru_cache(maxsize=1)
def twilio_networks() -> tuple[IPNetwork, ...]:
    """Twilio's signalling ranges, from the packaged vio_sbc/data/twilio_ranges.yaml."""
    text = resources.files("vio_sbc").joinpath("data/twilio_ranges.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return tuple(ipaddress.ip_network(entry["cidr"]) for entry in data["signalling"])


def _allow(item: Item, kind: str | None, issues: Issues) -> TrunkInbound:
    """`inbound.allow`: CIDRs or bare IPs, and on a twilio trunk the `twilio` preset."""
    networks: list[IPNetwork] = []
    preset: str | None = None
    failed = False
    for element in [item] if item.tag == STR else list_items(item):  # one entry or a list
        if id(element.node) in element.doc.broken:  # bad ${...}, already reported
            failed = True
            continue
        try:
            text = str_value(element)
            if text != TWILIO_PRESET:
                networks.append(parse_network(text))
            elif kind == "byoc":
                raise Invalid(f"the {TWILIO_PRESET!r} preset is only allowed on a trunk "
                              "of kind twilio")
            else:
                preset = TWILIO_PRESET
                networks.extend(twilio_networks())
        except Invalid as exc:
            issues.at(element, exc.message)
            failed = True
    if failed:
        raise Reported
    return TrunkInbound(allow=tuple(dict.fromkeys(networks)), allow_preset=preset)


def _inbound(item: Item, kind: str | None, issues: Issues) -> TrunkInbound:
    sec = section(item, {"allow": lambda i, iss: _allow(i, kind, iss)}, issues)
    return sec.values.get("allow", TrunkInbound()) if sec else TrunkInbound()


def _outbound(item: Item, kind: str | None, secure: bool,
              issues: Issues) -> TrunkOutbound | None:
    if item.is_null:
        return None
    out, sec = read(TrunkOutbound, item, issues)
    if out is None or sec is None:
        return None
    if secure and "transport" not in sec.items:
        out = replace(out, transport="tls")
    elif secure and out.transport != "tls":
        issues.at(sec.items["transport"], "Twilio Secure Trunking (secure: true) takes "
                  "signalling over TLS only: transport must be tls")
    if out.transport == "tls" and "port" not in sec.items:
        out = replace(out, port=TLS_PORT)
    if out.sips and out.transport != "tls":
        issues.at(sec.items["sips"], "sips: URIs need transport: tls")
    has_password = "password" in sec.items or "password_file" in sec.items
    if has_password != ("username" in sec.items):
        missing = "username" if has_password else "password or password_file"
        issues.add(item.file, item.key_line, item.path,
                   f"digest credentials need both username and password ({missing} is missing)")
    if kind == "twilio" and not TWILIO_TERMINATION.fullmatch(out.host):
        issues.warn(sec.items["host"], f"{out.host!r} is not a Twilio termination host "
                    "(<name>.pstn.twilio.com); fine for a test peer")
    return out


def _register(item: Item, outbound: TrunkOutbound | None, outbound_given: bool,
              issues: Issues) -> TrunkRegister:
    if item.is_null:
        return TrunkRegister()
    reg, sec = read(TrunkRegister, item, issues)
    if reg is None or sec is None:
        return TrunkRegister()
    if reg.retry_min_s > reg.retry_max_s:
        issues.at(sec.items.get("retry_min_s", item),
                  f"retry_min_s ({reg.retry_min_s:g}) must not exceed retry_max_s "
                  f"({reg.retry_max_s:g})")
    if reg.enabled and not outbound_given:
        issues.at(sec.items.get("enabled", item), "registration needs an outbound section "
                  "(registrar and credentials default to it)")
    elif reg.enabled and outbound is not None and outbound.username is None and reg.aor is None:
        issues.at(sec.items.get("enabled", item), "registration needs outbound.username "
                  "(or register.aor) for the address of record")
    return reg


def _secure(sec: Section, kind: str | None, issues: Issues) -> bool:
    secure = bool(sec.values.get("secure", False))
    if secure and kind != "twilio":
        issues.at(sec.items["secure"], "secure: true is the twilio kind's Secure Trunking "
                  "preset; on a byoc trunk set outbound.transport: tls and media.srtp")
        return False
    return secure


def _media(item: Item | None, secure: bool, outbound: TrunkOutbound | None,
           issues: Issues) -> TrunkMedia:
    """`media`; Secure Trunking makes SRTP mandatory (Twilio refuses unencrypted media)."""
    media, sec = read(TrunkMedia, item, issues) if item is not None else (TrunkMedia(), None)
    media = media or TrunkMedia()
    given = sec is not None and "srtp" in sec.items
    if secure and not given:
        media = replace(media, srtp="mandatory")
    elif secure and media.srtp != "mandatory" and sec is not None:
        issues.at(sec.items["srtp"], "Twilio Secure Trunking (secure: true) rejects "
                  "unencrypted media: srtp must be mandatory")
    if media.srtp != "off" and sec is not None and given and outbound is not None \
            and outbound.transport != "tls":
        issues.warn(sec.items["srtp"], f"SRTP keys (SDES) travel in the SIP messages: over "
                    f"{outbound.transport} anyone on the path can read them; use "
                    "outbound.transport: tls")
    return media


def build_trunks(item: Item, issues: Issues) -> list[tuple[str, Item, TrunkConfig | None]]:
    """(name, item, trunk or None if unusable) for each trunk defined."""
    out: list[tuple[str, Item, TrunkConfig | None]] = []
    for name, child in entries(item, issues) or []:
        trunk, sec = read(TrunkConfig, child, issues, null_ok=False,
                          fixed={"name": name, "file": child.file, "line": child.key_line})
        if sec is not None:
            kind = sec.values.get("kind")
            secure = _secure(sec, kind, issues)
            in_item, out_item, reg_item, media_item = (
                sec.items.get(k) for k in ("inbound", "outbound", "register", "media"))
            inbound = _inbound(in_item, kind, issues) if in_item else TrunkInbound()
            outbound = _outbound(out_item, kind, secure, issues) if out_item else None
            register = (_register(reg_item, outbound, out_item is not None, issues)
                        if reg_item else TrunkRegister())
            media = _media(media_item, secure, outbound, issues)
            if trunk is not None:
                trunk = replace(trunk, inbound=inbound, outbound=outbound, register=register,
                                media=media)
        out.append((name, child, trunk))
    return out
