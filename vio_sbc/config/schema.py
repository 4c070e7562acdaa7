"""The config schema: one builder per section, from located YAML items to model objects.

Builders record every problem in `Issues` and still return a best-effort object
(defaults in place of bad values), so one pass finds all errors; the loader
raises `ConfigError` if any were recorded.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from yaml.nodes import SequenceNode

from vio_sbc.config.agent_options import check_agent_options
from vio_sbc.config.agent_schema import AGENT_EXTRA_SPEC, default_intents
from vio_sbc.config.calllog_schema import platform_rate, rates
from vio_sbc.config.model import (
    AdmissionSettings,
    AgentConfig,
    DialerSettings,
    Direction,
    HostPort,
    HttpSettings,
    IPNetwork,
    LogSettings,
    NumberConfig,
    NumberFormat,
    RtpSettings,
    SipSettings,
    StorageSettings,
    TrunkConfig,
    TrunkInbound,
    TrunkRegister,
    WorkspaceSettings,
)
from vio_sbc.config.nodes import (
    INT,
    STR,
    Conv,
    Invalid,
    Issues,
    Item,
    Reported,
    boolean,
    choice,
    construct,
    describe,
    digits,
    entries,
    int_choice,
    integer,
    list_items,
    list_of,
    nullable,
    number,
    section,
    str_value,
    string,
)
from vio_sbc.config.trunk_schema import build_outbound, build_register

E164 = re.compile(r"\+[1-9][0-9]{7,14}")
TWILIO_PRESET = "twilio"
BUILTIN_AGENT_NAME = "receptionist"


def builtin_agent() -> AgentConfig:
    """The agent used when the config has no `agents:` section."""
    return AgentConfig(name=BUILTIN_AGENT_NAME, kind="scripted",
                       greeting="Thanks for calling. How can I help?",
                       intents=default_intents())


# --- sip -------------------------------------------------------------------------------

_LISTEN = re.compile(r"\[([^\]]*)\]:([0-9]{1,6})|([^:\[\]]*):([0-9]{1,6})")
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def _listen(item: Item, issues: Issues) -> HostPort:
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


def _host(item: Item, issues: Issues) -> str:
    text = str_value(item)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise Invalid(f"{item.shown} is not an IP address or hostname") from None
    return text


def _stranger(item: Item, issues: Issues) -> str:
    """`reject` (403, the minimal answer) or `drop` (no answer at all; needs the
    20-sip-guard pjproject patch, checked at start). `403` is the older spelling of
    `reject`."""
    if item.node.value == "403" and item.tag in (INT, STR):
        return "reject"
    return str(choice("reject", "drop")(item, issues))


ADMISSION_SPEC = {
    "rate": number(positive=True),
    "burst": integer(lo=1),
    "max_failures": integer(lo=1),
    "failure_window_s": number(positive=True),
    "block_s": number(positive=True),
}


def _admission(item: Item, issues: Issues) -> AdmissionSettings:
    sec = section(item, ADMISSION_SPEC, issues)
    if sec is None:
        raise Reported
    return AdmissionSettings(**sec.values)


SIP_SPEC = {
    "listen": _listen,
    "public_address": nullable(_host),
    "transports": list_of(choice("udp", "tcp"), nonempty=True, unique=True),
    "max_calls": integer(lo=1),
    "user_agent": string(nonempty=True),
    "stranger_response": _stranger,
    "max_cps": number(lo=0),
    "admission": _admission,
}


def build_http(item: Item | None, issues: Issues) -> HttpSettings | None:
    """`http:` turns the operator endpoint on; `listen` is required in it."""
    if item is None:
        return None
    sec = section(item, {"listen": _listen}, issues, required=("listen",), null_ok=False)
    return HttpSettings(**sec.values) if sec else None


def build_sip(item: Item | None, issues: Issues) -> SipSettings:
    sec = section(item, SIP_SPEC, issues) if item is not None else None
    return SipSettings(**sec.values) if sec else SipSettings()


# --- rtp -------------------------------------------------------------------------------

_PORTS = re.compile(r"([0-9]{1,6})-([0-9]{1,6})")


def _ports(item: Item, issues: Issues) -> tuple[int, int]:
    match = _PORTS.fullmatch(item.node.value) if item.tag == STR else None
    if match is None:
        raise Invalid(f"expected MIN-MAX (e.g. 20000-20999), got {describe(item)}")
    low, high = int(match.group(1)), int(match.group(2))
    if low % 2:
        raise Invalid(f"MIN must be even (RTP uses even ports), got {low}")
    if not 1024 <= low < high <= 65535:
        raise Invalid(f"must satisfy 1024 <= MIN < MAX <= 65535, got {low}-{high}")
    return low, high


def _source_check(item: Item, issues: Issues) -> str:
    if item.node.value == "off" and not item.is_null:  # unquoted off is YAML 1.1 false
        return "off"
    return str(choice("latch", "strict", "off")(item, issues))


RTP_SPEC = {
    "ports": _ports,
    "clock_rate": int_choice(8000, 16000),
    "codecs": list_of(choice("PCMU", "PCMA", "G722"), nonempty=True, unique=True),
    "inactivity_timeout_s": number(positive=True),
    "source_check": _source_check,
}


def build_rtp(item: Item | None, issues: Issues) -> RtpSettings:
    sec = section(item, RTP_SPEC, issues) if item is not None else None
    if sec is None:
        return RtpSettings()
    values = dict(sec.values)
    if "ports" in values:
        values["port_min"], values["port_max"] = values.pop("ports")
    return RtpSettings(**values)


# --- storage, workspace, log -----------------------------------------------------------

STORAGE_SPEC = {"dir": string(nonempty=True), "recordings": boolean,
                "retention_days": nullable(integer(lo=1))}
WORKSPACE_SPEC = {"name": string(nonempty=True), "default_agent": string(nonempty=True),
                  "platform_rate": platform_rate}
LOG_SPEC = {
    "level": choice("debug", "info", "warning", "error"),
    "sip_trace": boolean,
    "pjsip_level": integer(0, 6),
}


def build_storage(item: Item | None, issues: Issues) -> StorageSettings:
    sec = section(item, STORAGE_SPEC, issues) if item is not None else None
    return StorageSettings(**sec.values) if sec else StorageSettings()


def build_workspace(item: Item | None, issues: Issues) -> tuple[WorkspaceSettings, Item | None]:
    """The settings, and the `default_agent` item if given (for the cross-reference check)."""
    sec = section(item, WORKSPACE_SPEC, issues) if item is not None else None
    if sec is None:
        return WorkspaceSettings(), None
    return WorkspaceSettings(**sec.values), sec.items.get("default_agent")


def build_log(item: Item | None, issues: Issues) -> LogSettings:
    sec = section(item, LOG_SPEC, issues) if item is not None else None
    return LogSettings(**sec.values) if sec else LogSettings()


DIALER_SPEC = {
    "enabled": boolean,
    "lease_s": number(1, 3600),
    "poll_s": number(0.01, 10),
    "ring_timeout_s": number(1, 600),
    "refused_retry_s": number(0, 3600),
    "clock_offset_s": number(),
}


def build_dialer(item: Item | None, issues: Issues) -> DialerSettings:
    """Pacing and concurrency per trunk come from the trunk's `outbound` section."""
    sec = section(item, DIALER_SPEC, issues) if item is not None else None
    return DialerSettings(**sec.values) if sec else DialerSettings()


# --- agents ----------------------------------------------------------------------------

AGENT_SPEC = {
    "kind": choice("scripted", "echo", "tone", "websocket"),
    "greeting": nullable(string()),
    "voice": string(nonempty=True),
    **AGENT_EXTRA_SPEC,  # intents, fallback, barge_in, endpointing, stt, tts...
}


def build_agents(item: Item, issues: Issues) -> list[tuple[str, Item, AgentConfig | None]]:
    """(name, item, agent or None if unusable) for each agent defined."""
    out: list[tuple[str, Item, AgentConfig | None]] = []
    for name, child in entries(item, issues) or []:
        sec = section(child, AGENT_SPEC, issues, required=("kind",), extras=True, null_ok=False)
        agent = None
        if sec is not None and "kind" in sec.values:
            options: dict[str, object] = {}
            for key, extra in sec.extras.items():
                try:
                    options[key] = construct(extra.node)
                except yaml.YAMLError as exc:
                    issues.at(extra, f"cannot read value: {exc}")
            if sec.values["kind"] == "websocket" and "fallback" in sec.values:
                options["fallback"] = sec.values["fallback"]  # read by the websocket agent
            agent = AgentConfig(name=name, options=options, **sec.values)
            check_agent_options(sec.values["kind"], child, sec.extras, issues)
        out.append((name, child, agent))
    return out


# --- trunks ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def twilio_networks() -> tuple[IPNetwork, ...]:
    """Twilio's signalling ranges, from the packaged vio_sbc/data/twilio_ranges.yaml."""
    text = resources.files("vio_sbc").joinpath("data/twilio_ranges.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return tuple(ipaddress.ip_network(entry["cidr"]) for entry in data["signalling"])


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


def _allow(kind: str | None) -> Conv:
    """`inbound.allow`: CIDRs or bare IPs, and on a twilio trunk the `twilio` preset."""

    def conv(item: Item, issues: Issues) -> TrunkInbound:
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

    return conv


NUMBER_FORMAT_SPEC = {
    "country_code": nullable(digits(max_len=3)),
    "national_prefix": nullable(digits()),
    "national_length": nullable(integer(4, 15)),
    "international_prefix": digits(),
}


def _number_format(item: Item, issues: Issues) -> NumberFormat:
    sec = section(item, NUMBER_FORMAT_SPEC, issues)
    if sec is None:
        raise Reported
    return NumberFormat(**sec.values)


TRUNK_SPEC = {
    "kind": choice("byoc", "twilio"),
    "inbound": None,
    "number_format": _number_format,
    "ring_seconds": number(0, 60),
    "recording": boolean,
    "outbound": None,  # vio_sbc.config.trunk_schema
    "register": None,
    "rates": rates,  # vio_sbc.config.calllog_schema
}
_TRUNK_FIELDS = ("kind", "number_format", "ring_seconds", "recording", "rates")


def build_trunks(item: Item, issues: Issues) -> list[tuple[str, Item, TrunkConfig | None]]:
    """(name, item, trunk or None if unusable) for each trunk defined."""
    out: list[tuple[str, Item, TrunkConfig | None]] = []
    for name, child in entries(item, issues) or []:
        sec = section(child, TRUNK_SPEC, issues, required=("kind",), null_ok=False)
        trunk = None
        if sec is not None:
            kind = sec.values.get("kind")
            inbound_item = sec.items.get("inbound")
            inbound = TrunkInbound()
            if inbound_item is not None:
                inbound_sec = section(inbound_item, {"allow": _allow(kind)}, issues)
                inbound = inbound_sec.values.get("allow", inbound) if inbound_sec else inbound
            out_item, reg_item = sec.items.get("outbound"), sec.items.get("register")
            outbound = build_outbound(out_item, kind, issues) if out_item else None
            register = (build_register(reg_item, outbound, out_item is not None, issues)
                        if reg_item else TrunkRegister())
            if kind is not None:
                values: dict[str, Any] = {k: v for k, v in sec.values.items()
                                          if k in _TRUNK_FIELDS}
                trunk = TrunkConfig(name=name, inbound=inbound, outbound=outbound,
                                    register=register, file=child.file,
                                    line=child.key_line, **values)
        out.append((name, child, trunk))
    return out


# --- numbers ---------------------------------------------------------------------------

NUMBER_SPEC = {
    "trunk": string(nonempty=True),
    "direction": choice(*(d.value for d in Direction)),
    "agent": nullable(string(nonempty=True)),
    "ring_seconds": nullable(number(0, 60)),
    "recording": nullable(boolean),
}


@dataclass(frozen=True, slots=True)
class NumberEntry:
    number: str
    item: Item
    config: NumberConfig | None  # None if unusable
    refs: dict[str, Item]  # "trunk"/"agent" -> the item naming it


def _check_number_key(key: str, item: Item, issues: Issues) -> bool:
    if item.key_tag == INT:
        quoted = key if key.startswith("+") else f"+{key}"
        issues.add(item.file, item.key_line, item.path,
                   f'number {key} must be quoted (YAML reads it as an integer): write "{quoted}"')
        return False
    if not E164.fullmatch(key):
        issues.add(item.file, item.key_line, item.path,
                   f"{key!r} is not an E.164 number (+ then 8-15 digits, no leading 0)")
        return False
    return True


def build_numbers(item: Item, issues: Issues) -> list[NumberEntry]:
    out: list[NumberEntry] = []
    for key, child in entries(item, issues) or []:
        key_ok = _check_number_key(key, child, issues)
        sec = section(child, NUMBER_SPEC, issues, required=("trunk",), null_ok=False)
        if sec is None:
            continue
        config = None
        if key_ok and "trunk" in sec.values:
            values = dict(sec.values)
            if "direction" in values:
                values["direction"] = Direction(values["direction"])
            config = NumberConfig(number=key, file=child.file, line=child.key_line, **values)
        refs: dict[str, Item] = {k: sec.items[k] for k in ("trunk", "agent")
                if k in sec.values and sec.values[k] is not None}
        out.append(NumberEntry(key, child, config, refs))
    return out


def build_include(item: Item, issues: Issues) -> list[tuple[str, Item]]:
    """The glob patterns of `include:` (a string or a list of strings) with their items."""
    if item.is_null:
        return []
    if item.tag == STR:
        elements = [item]
    elif isinstance(item.node, SequenceNode):
        elements = list_items(item)
    else:
        issues.at(item, f"expected a glob pattern or a list of them, got {describe(item)}")
        return []
    out: list[tuple[str, Item]] = []
    for element in elements:
        try:
            out.append((string(nonempty=True)(element, issues), element))
        except Invalid as exc:
            issues.at(element, exc.message)
    return out
