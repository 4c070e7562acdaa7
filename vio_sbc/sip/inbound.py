"""The inbound path on pjsua2: an INVITE in, `decide_inbound`'s answer out.

`incoming()` runs inside pjsua2's onIncomingCall (main thread) for the inbound
account and every trunk account. It reads the INVITE into plain facts
(`vio_sbc.callcontrol.inbound.Invite`), asks the core, and carries the answer out:
a refusal with its SIP status (a call row only for a trunk's call refused by routing
or limits; strangers and floods get none), or the call row, then ring or answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pjsua2 as pj
import structlog

from vio_sbc.callcontrol.admission import Admission
from vio_sbc.callcontrol.callstate import Event, State
from vio_sbc.callcontrol.inbound import (
    Accept,
    InboundState,
    Invite,
    Refuse,
    Refused,
    decide_inbound,
)
from vio_sbc.callcontrol.outcome import CallEnd, call_outcome
from vio_sbc.callcontrol.routing import request_uri_user, trunks_for_source
from vio_sbc.callcontrol.sipcontext import sip_context
from vio_sbc.callcontrol.srtp import SrtpPolicy, decide_srtp, read_offer
from vio_sbc.calllog.records import EndFacts
from vio_sbc.calllog.summary.extractive import CallFacts
from vio_sbc.cluster.kamailio import SOURCE_HEADER
from vio_sbc.cluster.worker import front_of, original_source
from vio_sbc.config.model import Config
from vio_sbc.errors import SipRefusal
from vio_sbc.log import RateLimiter
from vio_sbc.sip.call import CallHost, SbcCall
from vio_sbc.sip.calls import CallTable
from vio_sbc.sip.message import SipParseError, addr_uri, datagram_length_problem, parse_request
from vio_sbc.sip.message import source_ip as source_of

log = structlog.get_logger("vio_sbc.sip")


class InboundHost(CallHost, Protocol):
    """What the inbound path needs of the switch, besides what its calls need."""

    admission: Admission
    table: CallTable
    draining: bool
    stranger_log: RateLimiter
    malformed_log: RateLimiter

    def registrars(self) -> Mapping[str, str]:
        """Registrar IP -> trunk, for the addresses trunks registered with."""


class InboundAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, incoming: Callable[[Any, Any], None]) -> None:
        super().__init__()
        self.incoming = incoming

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self.incoming(self, prm)
        except Exception:
            log.exception("incoming_call_failed")


MODES: tuple[SrtpPolicy, ...] = ("off", "optional", "mandatory")


class InboundAccounts:
    """The inbound account, once per pjsua SRTP mode (`off` is pjsua's default account).

    pjsua fixes a call's SRTP from its account before onIncomingCall runs, so
    `select` (Endpoint.onSelectAccount) steers each INVITE to the account of the mode
    `decide_srtp` wants for its source's trunk and its offer. A request pjsua gave to
    a trunk account stays there (its credentials answer the trunk's challenges)."""

    def __init__(self, incoming: Callable[[Any, Any], None]) -> None:
        self.incoming = incoming
        self.accounts: dict[SrtpPolicy, InboundAccount] = {}
        self.ids: dict[int, SrtpPolicy] = {}

    def create(self, account_config: Callable[[SrtpPolicy], Any]) -> None:
        for mode in MODES:
            acc = InboundAccount(self.incoming)
            acc.create(account_config(mode), mode == "off")
            self.accounts[mode] = acc
            self.ids[int(acc.getId())] = mode

    def select(self, cfg: Config, registrars: Mapping[str, str], src: str, msg: str,
               chosen: int) -> int:
        if chosen not in self.ids or not msg.startswith("INVITE "):
            return chosen
        trunks = trunks_for_source(cfg, source_of(src), registrars)
        policy: SrtpPolicy = trunks[0].media.srtp if trunks else "off"
        plan = decide_srtp(policy, read_offer(_body(msg)))
        return int(self.accounts[plan.mode].getId())

    def shutdown(self) -> None:
        for acc in self.accounts.values():
            acc.shutdown()
        self.accounts.clear()
        self.ids.clear()


def _body(msg: str) -> str:
    _head, sep, body = msg.partition("\r\n\r\n")
    return body if sep else msg.partition("\n\n")[2]


def incoming(host: InboundHost, acc: Any, prm: Any) -> None:
    host.stats["invites"] += 1
    rdata = prm.rdata
    src = source_of(rdata.srcAddress)
    try:
        req = parse_request(rdata.wholeMsg)
    except SipParseError as exc:
        call = SbcCall(host, acc, prm.callId, source=src, transport="udp", sip_call_id="",
                       caller="", callee="")
        invite = Invite(src, unparseable=str(exc))
    else:
        # a cluster worker: the front's X-Vio-Source header, believed from the front only
        src = original_source(src, req.header(SOURCE_HEADER), front_of(host.cfg))
        call = SbcCall(host, acc, prm.callId, source=src, transport=req.transport,
                       sip_call_id=req.call_id, caller=addr_uri(req.header("from") or ""),
                       callee=req.uri)
        malformed = (datagram_length_problem(rdata.wholeMsg, req.headers)
                     if req.transport == "udp" else None)
        invite = Invite(src, req.transport, req.uri, malformed=malformed,
                        media=read_offer(_body(rdata.wholeMsg)))
    state = InboundState(host.cfg, host.admission, host.registrars(), host.draining,
                         len(host.table), host.table.live_on_number)
    answer = decide_inbound(invite, state, time.monotonic())
    if isinstance(answer, Accept):
        ctx = sip_context(req.headers, req.uri, answer.route.trunk.pass_headers)
        call.variables = ctx.variables
        if ctx.variables or ctx.dropped:
            call.log.info("sip_context", variables=ctx.redacted(), dropped=list(ctx.dropped))
        accept(host, call, answer)
    else:
        refused(host, call, invite, answer)


def accept(host: InboundHost, call: SbcCall, answer: Accept) -> None:
    route = answer.route
    call.state.fire(Event.ROUTED)
    host.table.add(call)
    call.route = route
    call.srtp = answer.srtp
    call.log = call.log.bind(trunk=route.trunk.name, number=route.number.number,
                             agent=route.agent.name)
    call.logged = True
    host.calllog.open_call(call.new_row(trunk=route.trunk.name, status="received",
                                        number=route.number.number, agent=route.agent.name,
                                        default_agent=int(route.default_agent)))
    host.records.opened(call.id)
    call.log.info("call_received", source=call.source, caller=call.caller,
                  default_agent=route.default_agent, transport=call.transport, srtp=call.srtp)
    if answer.ring_s > 0:
        call.ring()
        host.later(answer.ring_s, call.accept)
    else:
        call.accept()


def refused(host: InboundHost, call: SbcCall, invite: Invite, ans: Refuse) -> None:
    """Carry out a refusal: what is kept depends on who was refused (`Refused`)."""
    kind, src = ans.kind, invite.source
    if kind is not Refused.UNPARSEABLE:
        host.stats[kind.value] += 1
    if ans.metric_label is not None:
        host.metrics.reject(ans.metric_label)
    if kind is Refused.MALFORMED:
        if host.malformed_log.allow(src)[0]:
            log.warning("invite_malformed", source=src, error=ans.detail)
    elif kind in (Refused.SHED, Refused.STRANGER):
        log_blocks(host.admission, host.cfg.sip.admission.block_s)
        if kind is Refused.STRANGER:
            ok, suppressed = host.stranger_log.allow(src)
            if ok:
                log.warning("stranger_refused", source=src, request_uri=invite.request_uri,
                            status=ans.status, suppressed=suppressed)
    elif kind is Refused.REFUSED:
        _refused_row(host, call, ans)
        call.log.info("call_refused", source=src, request_uri=invite.request_uri,
                      status=ans.status, detail=ans.detail)
    refuse(host, call, ans.status, ans.reason, dict(ans.headers) or None)
    if kind is Refused.UNPARSEABLE:
        log.warning("invite_unparseable", source=src, error=ans.detail)


def _refused_row(host: InboundHost, call: SbcCall, ans: Refuse) -> None:
    """A trunk's call refused before answer: its row, with cost and summary."""
    host.metrics.call_finished("refused")
    trunk = ans.trunk
    call.logged = True
    host.calllog.open_call(call.new_row(trunk=trunk.name if trunk else None, status="refused"))
    now = time.time()
    outcome = call_outcome(CallEnd("inbound", State.REFUSED, False, ans.status, ans.reason,
                                   None, now))
    end = host.records.finish(EndFacts(
        call.id, "inbound", trunk, _dialled(call.callee), False, 0.0,
        CallFacts(outcome.summary_status, final_status=ans.status, final_reason=ans.reason)))
    host.calllog.update_call(call.id, final_status=ans.status, final_reason=ans.reason,
                             ended_at=now, **end)


def _dialled(uri: str) -> str:
    """The dialled user part, for the rate prefix; the URI itself when it has none (a
    call refused for its Request-URI)."""
    try:
        return request_uri_user(uri)
    except SipRefusal:
        return uri


def log_blocks(admission: Admission, block_s: float) -> None:
    for b in admission.drain_started():
        log.warning("source_blocked", source=b.source, reason=b.reason, block_s=block_s)


def expire_blocks(admission: Admission, now: float) -> None:
    for b in admission.expire(now):
        log.info("source_unblocked", source=b.source, reason=b.reason,
                 refused_while_blocked=b.refused)


def refuse(host: InboundHost, call: SbcCall, status: int, reason: str,
           headers: dict[str, str] | None = None) -> None:
    """Final answer from inside onIncomingCall: pjsua frees the call slot at once
    and reports no state change, so the object is only kept until the next tick."""
    call.state.fire(Event.REFUSE)
    try:
        call.respond(status, reason, headers)
    finally:
        host.table.retire(call)
