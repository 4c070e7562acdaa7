"""The inbound path: admission, routing and the answer for an INVITE.

`incoming()` runs inside pjsua2's onIncomingCall (main thread) for the inbound
account and every trunk account. It parses the INVITE, sheds sources over
their rate or blocked (`vio_sbc.admission`), refuses what routing or limits
refuse (with its SIP status, a call row for trunks' calls, none for
strangers), and otherwise opens the call row and rings or answers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pjsua2 as pj
import structlog

from vio_sbc.admission import Decision
from vio_sbc.calllog.records import EndFacts
from vio_sbc.calllog.summary.extractive import CallFacts
from vio_sbc.callstate import Event
from vio_sbc.errors import SipRefusal
from vio_sbc.ops.metrics import reject_reason
from vio_sbc.routing import StrangerRefusal, request_uri_user, route_inbound, trunks_for_source
from vio_sbc.sip.call import SbcCall
from vio_sbc.sip.message import (
    SipParseError,
    addr_uri,
    datagram_length_problem,
    parse_request,
    source_ip,
)

if TYPE_CHECKING:
    from vio_sbc.sip.switch import Softswitch

log = structlog.get_logger("vio_sbc.sip")


class InboundAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, switch: Softswitch) -> None:
        super().__init__()
        self.switch = switch

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self.switch.incoming(self, prm)
        except Exception:
            log.exception("incoming_call_failed")


def incoming(sw: Softswitch, acc: Any, prm: Any) -> None:
    sw.stats["invites"] += 1
    rdata = prm.rdata
    src = source_ip(rdata.srcAddress)
    try:
        req = parse_request(rdata.wholeMsg)
    except SipParseError as exc:
        call = SbcCall(sw, acc, prm.callId, source=src, transport="udp", sip_call_id="",
                       caller="", callee="")
        refuse(sw, call, 400, "Bad Request")
        log.warning("invite_unparseable", source=src, error=str(exc))
        return
    call = SbcCall(
        sw, acc, prm.callId, source=src, transport=req.transport,
        sip_call_id=req.call_id, caller=addr_uri(req.header("from") or ""),
        callee=req.uri,
    )
    bad_length = (datagram_length_problem(rdata.wholeMsg, req.headers)
                  if req.transport == "udp" else None)
    if bad_length:
        sw.stats["malformed"] += 1
        if sw.malformed_log.allow(src)[0]:
            log.warning("invite_malformed", source=src, error=bad_length)
        sw.metrics.reject("malformed")
        refuse(sw, call, 400, "Bad Request")
        return
    now = time.monotonic()
    trusted = bool(trunks_for_source(sw.cfg, src, sw.trunks.sources()))
    decision = sw.admission.check_source(src, now, trusted)
    if not decision.admitted:
        shed_source(sw, call, src, trusted, decision)
        return
    try:
        if sw.draining:
            raise SipRefusal(503, "draining: not accepting new calls")
        if len(sw.calls) >= sw.cfg.sip.max_calls:
            raise SipRefusal(503, f"sip.max_calls ({sw.cfg.sip.max_calls}) reached")
        route = route_inbound(sw.cfg, src, req.uri, sw.trunks.sources())
        over = sw.admission.take_call(now)
        if not over.admitted:
            raise SipRefusal(503, f"sip.max_cps ({sw.cfg.sip.max_cps:g}) exceeded",
                             retry_after=over.retry_after)
    except StrangerRefusal as ref:
        sw.stats["strangers"] += 1
        sw.metrics.reject("stranger")
        sw.admission.failed(src, now)
        log_blocks(sw)
        ok, suppressed = sw.stranger_log.allow(src)
        if ok:
            log.warning("stranger_refused", source=src, request_uri=req.uri,
                        status=ref.status, suppressed=suppressed)
        refuse(sw, call, ref.status, ref.reason)
        return
    except SipRefusal as ref:
        sw.stats["refused"] += 1
        sw.metrics.reject(reject_reason(ref.status, ref.detail))
        sw.metrics.call_finished("refused")
        trunks = trunks_for_source(sw.cfg, src, sw.trunks.sources())
        call.logged = True
        sw.calllog.open_call(call_row(call, trunk=trunks[0].name if trunks else None,
                                      status="refused"))
        end = sw.records.finish(EndFacts(
            call.id, "inbound", trunks[0] if trunks else None,
            request_uri_user(call.callee), False, 0.0,
            CallFacts("refused", final_status=ref.status, final_reason=ref.reason)))
        sw.calllog.update_call(call.id, final_status=ref.status, final_reason=ref.reason,
                               ended_at=time.time(), **end)
        call.log.info("call_refused", source=src, request_uri=req.uri, status=ref.status,
                      detail=ref.detail)
        headers = ({"Retry-After": str(ref.retry_after or 30)} if ref.status == 503
                   else None)
        refuse(sw, call, ref.status, ref.reason, headers)
        return
    sw.calls[call.id] = call
    call.route = route
    call.log = call.log.bind(trunk=route.trunk.name, number=route.number.number,
                             agent=route.agent.name)
    call.logged = True
    sw.calllog.open_call(call_row(call, trunk=route.trunk.name, status="received",
                                  number=route.number.number, agent=route.agent.name,
                                  default_agent=int(route.default_agent)))
    sw.records.opened(call.id)
    call.log.info("call_received", source=src, caller=call.caller,
                  default_agent=route.default_agent, transport=req.transport)
    sw.stats["answered"] += 1
    ring = route.number.ring_seconds
    if ring is None:
        ring = route.trunk.ring_seconds
    if ring > 0:
        call.ring()
        sw.later(ring, call.accept)
    else:
        call.accept()


def shed_source(sw: Softswitch, call: SbcCall, src: str, trusted: bool,
                decision: Decision) -> None:
    """A source over its rate or blocked: no route lookup, no call row, no log line
    per request. Strangers get the same 403 as always (no hint); a trunk gets 503
    with Retry-After."""
    sw.stats["shed"] += 1
    sw.metrics.reject(decision.verdict.value)
    log_blocks(sw)
    if trusted:
        refuse(sw, call, 503, "Service Unavailable",
               {"Retry-After": str(decision.retry_after)})
    else:
        refuse(sw, call, 403, "Forbidden")


def log_blocks(sw: Softswitch) -> None:
    for b in sw.admission.drain_started():
        log.warning("source_blocked", source=b.source, reason=b.reason,
                    block_s=sw.cfg.sip.admission.block_s)


def expire_blocks(sw: Softswitch, now: float) -> None:
    for b in sw.admission.expire(now):
        log.info("source_unblocked", source=b.source, reason=b.reason,
                 refused_while_blocked=b.refused)


def refuse(sw: Softswitch, call: SbcCall, status: int, reason: str,
           headers: dict[str, str] | None = None) -> None:
    """Final answer from inside onIncomingCall: pjsua frees the call slot at once
    and reports no state change, so the object is only kept until the next tick."""
    call.state.fire(Event.REFUSE)
    try:
        call.respond(status, reason, headers)
    finally:
        sw._reap.append(call)


def call_row(call: SbcCall, **fields: Any) -> dict[str, Any]:
    """A new call-log row for `call` (inbound by default; outcall.py overrides)."""
    row: dict[str, Any] = {
        "id": call.id, "sip_call_id": call.sip_call_id, "direction": "inbound",
        "caller": call.caller, "callee": call.callee, "source": call.source,
        "transport": call.transport, "received_at": time.time(),
    }
    row.update(fields)
    return row
