"""Schema of a trunk's `outbound:` and `register:` sections (see docs/trunks.md).

Same style as `vio_sbc.config.schema`: every problem is recorded in `Issues`,
and a best-effort object is still returned. Suspicious but valid settings (a
Twilio termination host that is not `<name>.pstn.twilio.com`) become warnings.
"""

from __future__ import annotations

import ipaddress
import re

from vio_sbc.config.model import TrunkOutbound, TrunkRegister
from vio_sbc.config.nodes import (
    Invalid,
    Issues,
    Item,
    boolean,
    choice,
    integer,
    nullable,
    number,
    section,
    str_value,
    string,
)
from vio_sbc.config.secret_schema import secret_keys, take_file_secret

E164 = re.compile(r"\+[1-9][0-9]{7,14}")
TWILIO_TERMINATION = re.compile(r"[a-z0-9][a-z0-9-]*\.pstn\.twilio\.com", re.I)
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_SIP_URI = re.compile(r"sips?:(?:[^@;>\s]+@)?(\[[0-9A-Fa-f:.]+\]|[^:;>\s\[\]]+)(?::([0-9]{1,5}))?"
                      r"(;[^\s>]*)?")


def host(item: Item, issues: Issues) -> str:
    text = str_value(item)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise Invalid(f"{item.shown} is not an IP address or hostname") from None
    return text


def e164(item: Item, issues: Issues) -> str:
    text = str_value(item)
    if not E164.fullmatch(text):
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


OUTBOUND_SPEC = {
    "host": host,
    "port": integer(1, 65535),
    "transport": choice("udp", "tcp"),
    "username": string(nonempty=True),
    **secret_keys("password"),  # password: ${ENV}, or password_file: PATH
    "realm": string(nonempty=True),
    "from_domain": nullable(host),
    "caller_id": nullable(e164),
    "max_calls": integer(lo=1),
    "cps": number(positive=True),
    "options_interval_s": number(lo=0),
    "options_timeout_s": number(positive=True),
    "options_down_after": integer(lo=1),
}

REGISTER_SPEC = {
    "enabled": boolean,
    "expires": integer(4, 86400),
    "registrar": nullable(sip_uri),
    "contact_user": nullable(string(nonempty=True)),
    "aor": nullable(sip_uri),
    "retry_min_s": number(positive=True),
    "retry_max_s": number(positive=True),
    "forbidden_retry_s": number(positive=True),
}


def build_outbound(item: Item, kind: str | None, issues: Issues) -> TrunkOutbound | None:
    if item.is_null:
        return None
    sec = section(item, OUTBOUND_SPEC, issues, required=("host",))
    if sec is None or "host" not in sec.values:
        return None
    take_file_secret(sec, "password", issues)
    values = sec.values
    has_password = "password" in sec.items or "password_file" in sec.items
    if has_password != ("username" in sec.items):
        missing = "username" if has_password else "password or password_file"
        issues.add(item.file, item.key_line, item.path,
                   f"digest credentials need both username and password ({missing} is missing)")
    if kind == "twilio" and not TWILIO_TERMINATION.fullmatch(values["host"]):
        issues.warn(sec.items["host"], f"{values['host']!r} is not a Twilio termination host "
                    "(<name>.pstn.twilio.com); fine for a test peer")
    return TrunkOutbound(**values)


def build_register(item: Item, outbound: TrunkOutbound | None, outbound_given: bool,
                   issues: Issues) -> TrunkRegister:
    if item.is_null:
        return TrunkRegister()
    sec = section(item, REGISTER_SPEC, issues)
    if sec is None:
        return TrunkRegister()
    reg = TrunkRegister(**sec.values)
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
