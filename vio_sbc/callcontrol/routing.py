"""Inbound routing: a pure function from (config, source, Request-URI) to a route.

No sockets, no pjsua2: `vio_sbc.callcontrol.inbound.decide_inbound` calls
`route_inbound` and turns the `SipRefusal` it raises (status, reason, metric label)
into its answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from vio_sbc.config.model import AgentConfig, Config, NumberConfig, NumberFormat, TrunkConfig
from vio_sbc.errors import SipRefusal


class StrangerRefusal(SipRefusal):
    """The source address belongs to no trunk: refused, logged to the log stream only."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, detail, label="stranger")


@dataclass(frozen=True, slots=True)
class Route:
    trunk: TrunkConfig
    number: NumberConfig
    agent: AgentConfig
    default_agent: bool  # True when the number has no agent and the workspace default answers


def request_uri_user(uri: str) -> str:
    """The user part of a sip:/sips:/tel: URI (`sip:+1415@h;user=phone` -> `+1415`)."""
    u = uri.strip()
    if u.startswith("<") and u.endswith(">"):
        u = u[1:-1]
    scheme, sep, rest = u.partition(":")
    if not sep:
        raise SipRefusal(400, f"Request-URI has no scheme: {uri!r}")
    scheme = scheme.lower()
    if scheme == "tel":
        user = rest.split(";", 1)[0]
    elif scheme in ("sip", "sips"):
        if "@" not in rest:
            raise SipRefusal(404, f"Request-URI has no user part: {uri!r}")
        user = rest.rsplit("@", 1)[0].split(";", 1)[0]
        user = user.split(":", 1)[0]  # drop a password, never used
    else:
        raise SipRefusal(416, f"unsupported URI scheme {scheme!r}", "Unsupported URI Scheme")
    return unquote(user)


def normalise_number(user: str, fmt: NumberFormat) -> str | None:
    """E.164 form of a dialled user part under a trunk's number format, or None."""
    return fmt.to_e164(user)


def trunks_for_source(cfg: Config, source_ip: str,
                      registered: Mapping[str, str] | None = None) -> list[TrunkConfig]:
    """Trunks whose `inbound.allow` contains `source_ip`, in config order; then the trunk
    registered with a registrar at `source_ip` (`registered`: registrar IP -> trunk name)."""
    try:
        ip = ipaddress.ip_address(source_ip)
    except ValueError:
        return []
    found = [t for t in cfg.trunks.values() if any(ip in net for net in t.inbound.allow)]
    name = (registered or {}).get(str(ip))
    if name is not None and name in cfg.trunks and all(t.name != name for t in found):
        found.append(cfg.trunks[name])
    return found


def route_inbound(cfg: Config, source_ip: str, request_uri: str,
                  registered: Mapping[str, str] | None = None) -> Route:
    """Decide who answers an INVITE, or raise the SipRefusal to answer with.

    403 stranger (no trunk allows the source, and it is no registered trunk's
    registrar) · 404 unknown number · 403 number is outbound-only · 403 number
    belongs to another trunk.
    """
    trunks = trunks_for_source(cfg, source_ip, registered)
    if not trunks:
        raise StrangerRefusal(f"source {source_ip} is in no trunk's inbound.allow")
    user = request_uri_user(request_uri)
    number: NumberConfig | None = None
    for trunk in trunks:
        e164 = normalise_number(user, trunk.number_format)
        if e164 is not None and e164 in cfg.numbers:
            number = cfg.numbers[e164]
            break
    if number is None:
        raise SipRefusal(404, f"no number {user!r} on trunk(s) {', '.join(t.name for t in trunks)}")
    owner = next((t for t in trunks if t.name == number.trunk), None)
    if owner is None:
        raise SipRefusal(
            403, f"number {number.number} belongs to trunk {number.trunk!r}, not "
            f"{', '.join(t.name for t in trunks)}"
        )
    if not number.direction.allows_inbound:
        raise SipRefusal(403, f"number {number.number} is {number.direction.value}-only")
    agent, is_default = cfg.agent_for(number)
    return Route(trunk=owner, number=number, agent=agent, default_agent=is_default)
