"""The in-dialog trust table: nobody acts inside a call who did not start it.

Trust does not stop at the first INVITE. Every request that belongs to one of our
calls (re-INVITE, UPDATE, BYE, INFO, NOTIFY, OPTIONS, PRACK, CANCEL, ACK, REFER...)
and every INVITE carrying `Replaces` is put to this table before pjsua's own
handlers can act (the SIP guard in the pjproject patches asks, the SIP adapter
`vio_sbc/sip/trust.py` answers from here). Pure: plain values in, a `Verdict` out.

A request's source is classed against the call it names (`classify`):

* `peer` — the address the dialog was set up with (the INVITE's source for an
  inbound call, the trunk's outbound host for an outbound one);
* `trunk` — another address of the call's trunk (`inbound.allow`, its outbound host
  or registrar, an address its registrar answered from);
* `other_trunk` — an address of another trunk;
* `stranger` — an address of no trunk.

The answers (`TABLE`, one row per request kind):

* a request of the dialog is served from the call's own trunk (`peer`, `trunk`),
  refused 403 from another trunk, and a stranger gets what any stranger gets
  (`sip.stranger_response`: 403, or nothing); an ACK is never answered;
* REFER is declined (603) from the call's own trunk: pjsua would otherwise place a
  new call to any `Refer-To` (toll fraud), outside admission, routing and rating;
* an INVITE with `Replaces` never takes over a call: 403 when it names one of our
  dialogs, 481 when it names none (RFC 3891 §3), a stranger's as any stranger's.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from vio_sbc.config.model import IPNetwork, TrunkConfig
from vio_sbc.config.values import uri_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Kind(str, Enum):
    """What a request asks for, as far as trust goes."""

    DIALOG = "in-dialog request"  # re-INVITE, UPDATE, BYE, INFO, NOTIFY, OPTIONS, PRACK...
    ACK = "ACK"
    REFER = "REFER"
    REPLACES = "INVITE with Replaces (names one of our calls)"
    REPLACES_UNKNOWN = "INVITE with Replaces (names no dialog)"


class SourceClass(str, Enum):
    PEER = "peer"
    TRUNK = "trunk"
    OTHER_TRUNK = "other_trunk"
    STRANGER = "stranger"


class Action(str, Enum):
    ALLOW = "allow"
    ANSWER = "answer"  # a final response, sent statelessly by the SIP guard
    DROP = "drop"  # no answer at all


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    status: int = 0  # the answer's status when action is ANSWER
    reason: str = ""  # `vio_rejected_requests_total{reason}` of a refusal

    @property
    def refused(self) -> bool:
        return self.action is not Action.ALLOW

    @property
    def code(self) -> int:
        """What the SIP guard acts on: 0 go on, -1 drop, else the status to answer."""
        return {Action.ALLOW: 0, Action.DROP: -1}.get(self.action, self.status)


@dataclass(frozen=True, slots=True)
class AsStranger:
    """A table cell resolved by `sip.stranger_response`: 403, or nothing (drop)."""

    reason: str


Cell = Verdict | AsStranger

ALLOW = Verdict(Action.ALLOW)
IN_DIALOG = "in_dialog_refused"
REFER = "refer_refused"
REPLACES = "replaces_refused"

_P, _T, _O, _S = SourceClass
TABLE: Mapping[Kind, Mapping[SourceClass, Cell]] = {
    Kind.DIALOG: {_P: ALLOW, _T: ALLOW, _O: Verdict(Action.ANSWER, 403, IN_DIALOG),
                  _S: AsStranger(IN_DIALOG)},
    Kind.ACK: {_P: ALLOW, _T: ALLOW, _O: Verdict(Action.DROP, 0, IN_DIALOG),
               _S: Verdict(Action.DROP, 0, IN_DIALOG)},
    Kind.REFER: {_P: Verdict(Action.ANSWER, 603, REFER), _T: Verdict(Action.ANSWER, 603, REFER),
                 _O: Verdict(Action.ANSWER, 403, REFER), _S: AsStranger(REFER)},
    Kind.REPLACES: {_P: Verdict(Action.ANSWER, 403, REPLACES),
                    _T: Verdict(Action.ANSWER, 403, REPLACES),
                    _O: Verdict(Action.ANSWER, 403, REPLACES), _S: AsStranger(REPLACES)},
    Kind.REPLACES_UNKNOWN: {_P: Verdict(Action.ANSWER, 481, REPLACES),
                            _T: Verdict(Action.ANSWER, 481, REPLACES),
                            _O: Verdict(Action.ANSWER, 481, REPLACES), _S: AsStranger(REPLACES)},
}


def decide(kind: Kind, source: SourceClass, stranger_response: str) -> Verdict:
    """The table's answer; `stranger_response` is `sip.stranger_response`."""
    cell = TABLE[kind][source]
    if isinstance(cell, AsStranger):
        if stranger_response == "drop":
            return Verdict(Action.DROP, 0, cell.reason)
        return Verdict(Action.ANSWER, 403, cell.reason)
    return cell


def request_kind(method: str, replaces: bool, names_call: bool) -> Kind:
    """The row for a request: `replaces` for an INVITE carrying Replaces, `names_call`
    when it (or the dialog the request belongs to) is one of our calls."""
    if replaces:
        return Kind.REPLACES if names_call else Kind.REPLACES_UNKNOWN
    upper = method.upper()
    if upper == "REFER":
        return Kind.REFER
    if upper == "ACK":
        return Kind.ACK
    return Kind.DIALOG


@functools.lru_cache(maxsize=4096)  # sources repeat; parsing is most of a decision's cost
def parse_ip(text: str) -> IPAddress | None:
    """An address as pjsip prints it (IPv4-mapped IPv6 as IPv4); None if not one."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_network(host: str | None) -> IPNetwork | None:
    """The network of an IP literal (a /32 or /128), None for a hostname or nothing."""
    if not host:
        return None
    try:
        return ipaddress.ip_network(host.strip("[]"))
    except ValueError:
        return None  # a hostname: never resolved here (docs/security.md)


def trunk_networks(trunk: TrunkConfig, registrar_ips: Iterable[str] = ()) -> tuple[IPNetwork, ...]:
    """Every address of a trunk: its `inbound.allow`, its outbound host and registrar
    when written as IP literals, and the addresses its registrar answered from."""
    nets: list[IPNetwork] = list(trunk.inbound.allow)
    out = trunk.outbound
    if out is not None:
        nets.extend(n for n in (address_network(out.host),) if n is not None)
        if trunk.register.registrar:
            reg = address_network(uri_host(trunk.register.registrar))
            if reg is not None:
                nets.append(reg)
    nets.extend(n for n in map(address_network, registrar_ips) if n is not None)
    return tuple(dict.fromkeys(nets))


def _within(ip: IPAddress, nets: Sequence[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in nets)


def classify(source: str, peer: str | None, own: Sequence[IPNetwork],
             known: Sequence[IPNetwork]) -> SourceClass:
    """`source` against a call: `peer` is the address its dialog was set up with,
    `own` its trunk's networks (empty when the call is unknown), `known` every
    trunk's."""
    if peer is not None and source == peer:
        return SourceClass.PEER
    ip = parse_ip(source)
    if ip is None:
        return SourceClass.STRANGER
    if peer is not None and parse_ip(peer) == ip:
        return SourceClass.PEER
    if _within(ip, own):
        return SourceClass.TRUNK
    if _within(ip, known):
        return SourceClass.OTHER_TRUNK
    return SourceClass.STRANGER
