"""Outbound calls on pjsua2: `place_call` and the `OutboundCall` leg.

The call is an `SbcCall` going the other way: same media port, same agent
engine session (`CallStarted.direction == "outbound"`), same call-log row
with `direction = 'outbound'` and the dialer's job id. Early media (183 with
SDP) already reaches the agent's input; the agent's audio goes out once the
call is answered. Everything runs on the main thread.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import pjsua2 as pj

from vio_sbc.callcontrol.callstate import CallState, Event, State
from vio_sbc.callcontrol.outbound import (
    OutboundRequest,
    OutboundResult,
    plan_outbound,
    trunk_of,
)
from vio_sbc.callcontrol.outcome import Outcome
from vio_sbc.callcontrol.routing import Route
from vio_sbc.callcontrol.sipcontext import outbound_headers
from vio_sbc.callcontrol.srtp import answered_suite
from vio_sbc.sip.call import CallHost, SbcCall, audio_only_op
from vio_sbc.sip.calls import CallTable
from vio_sbc.sip.tlsctl import TlsControl
from vio_sbc.sip.trunkside import TrunkManager

ResultCallback = Callable[[OutboundResult], None]


class OutcallHost(CallHost, Protocol):
    """What placing a call needs of the switch, besides what its calls need."""

    table: CallTable
    draining: bool
    tls: TlsControl

    @property
    def trunks(self) -> TrunkManager: ...


class OutboundCall(SbcCall):
    def __init__(self, host: CallHost, acc: Any, *, req: OutboundRequest, route: Route,
                 on_result: ResultCallback | None,
                 tls_failure: Callable[[str], str | None] = lambda _: None) -> None:
        out = route.trunk.outbound
        assert out is not None
        super().__init__(host, acc, pj.PJSUA_INVALID_ID, source=out.host,
                         transport=out.transport, sip_call_id="", caller=req.from_number,
                         callee=req.to_number)
        self.state = CallState.outbound()
        self.direction = "outbound"
        self.variables = dict(req.variables)
        self.route = route
        self.req = req
        self.on_result = on_result
        self.tls_failure = tls_failure
        self.log = self.log.bind(trunk=route.trunk.name, number=route.number.number,
                                 agent=route.agent.name, direction="outbound")

    def onCallTsxState(self, prm: Any) -> None:
        try:  # the SDP answer to our offer: its crypto line is the call's SRTP
            e = prm.e
            if e.type != pj.PJSIP_EVENT_TSX_STATE or e.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
                return
            msg = str(e.body.tsxState.src.rdata.wholeMsg)
            if msg.startswith(("SIP/2.0 2", "SIP/2.0 183")) and "m=audio" in msg:
                suite = answered_suite(msg)
                if suite != self.srtp:
                    self.srtp = suite
                    self.host.calllog.update_call(self.id, srtp=suite)
                    self.log.info("media_security", srtp=suite)
        except Exception:
            self.log.exception("on_call_tsx_state_failed")

    def ring_timeout(self) -> None:
        if self.state.state in (State.DIALING, State.RINGING):
            self.timed_out = True
            self.log.info("ring_timeout", ring_timeout_s=self.req.ring_timeout_s)
            self.end("system", 487)

    # -- pjsua2 callbacks (SbcCall.onCallState) ------------------------------------
    def _state_changed(self, ci: Any) -> None:
        if not self.sip_call_id and ci.callIdString:
            self.sip_call_id = ci.callIdString
            self.host.calllog.update_call(self.id, sip_call_id=self.sip_call_id)
            self.log = self.log.bind(sip_call_id=self.sip_call_id)
        if ci.state == pj.PJSIP_INV_STATE_EARLY and self.state.state is State.DIALING:
            self.state.fire(Event.RING)
            self.host.calllog.update_call(self.id, status="ringing", ringing_at=time.time())
            self.log.info("call_ringing", status=ci.lastStatusCode)
        elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.state.can(Event.CONFIRM):
            self.state.fire(Event.CONFIRM)
            self.answered_at = time.time()
            self.host.calllog.update_call(self.id, status="answered",
                                          answered_at=self.answered_at)
            self.log.info("call_answered")
            if self._has_media():  # early media: now the agent may speak
                self._connect_media_out()
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._disconnected(int(ci.lastStatusCode), str(ci.lastReason))

    def _connect_media(self, index: int) -> None:
        super()._connect_media(index)
        if self.state.state in (State.DIALING, State.RINGING) and self._has_media():
            # early media: the agent hears the far end but does not talk into it yet
            self.tx_allowed = False
            self.sync_tx()

    def _has_media(self) -> bool:
        return self.port is not None or self.tap is not None  # Python port or native tap

    def _connect_media_out(self) -> None:
        # port -> call is connected by sync_tx while the agent has audio (call.py)
        self.tx_allowed = True
        self.sync_tx()

    def _disconnected(self, status: int, reason: str) -> Outcome | None:
        """The call's end (SbcCall), then its result to whoever placed it. A TLS trunk's
        call that never got an answer names a failed certificate check of the trunk."""
        out = self.route.trunk.outbound if self.route is not None else None
        if out is not None and out.transport == "tls" and status >= 300 and \
                not self.state.was_answered:
            reason = self._tls_reason(out.host) or reason
        outcome = super()._disconnected(status, reason)
        if outcome is not None and outcome.result is not None:
            self.log.info("outbound_result", outcome=outcome.result,
                          sip_status=outcome.sip_status, reason=reason,
                          duration_s=outcome.result_duration_s, job_id=self.req.job_id)
            self.deliver(OutboundResult(self.id, outcome.result, outcome.sip_status, reason,
                                        outcome.result_duration_s))
        return outcome

    def _tls_reason(self, host: str) -> str | None:
        addresses = [host]
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a host name: the addresses it had (the failure is rare)
            try:
                addresses = sorted({str(a[4][0]) for a in socket.getaddrinfo(host, None)})
            except OSError:
                return None
        for address in addresses:
            if (why := self.tls_failure(address)) is not None:
                return why
        return None

    def deliver(self, result: OutboundResult) -> None:
        cb, self.on_result = self.on_result, None
        if cb is not None:
            try:
                cb(result)
            except Exception:
                self.log.exception("on_result_failed")


def place_call(host: OutcallHost, req: OutboundRequest,
               on_result: ResultCallback | None = None) -> str:
    """Admit (`plan_outbound`: an OutboundRefused is raised and nothing sent), send the
    INVITE and return the call-log id (see Softswitch.place_call)."""
    mgr = host.trunks
    trunk = trunk_of(host.cfg, req.from_number)
    plan = plan_outbound(host.cfg, req, draining=host.draining, live_calls=len(host.table),
                         trunk_live=host.table.live(trunk, "outbound"),
                         bucket=mgr.buckets.get(trunk), trunk_down=mgr.is_down(trunk),
                         now=time.monotonic())
    route = plan.route
    call = OutboundCall(host, mgr.accounts[route.trunk.name], req=req, route=route,
                        on_result=on_result, tls_failure=host.tls.failure_for)
    call.logged = True
    host.calllog.open_call(call.new_row(
        trunk=route.trunk.name, status="dialing", number=route.number.number,
        agent=route.agent.name, default_agent=int(route.default_agent),
        dialer_job_id=req.job_id))
    prm = audio_only_op()
    prm.txOption.localUri = plan.identity
    pai = pj.SipHeader()
    pai.hName, pai.hValue = "P-Asserted-Identity", plan.identity
    prm.txOption.headers.append(pai)
    extra = outbound_headers(req.variables)
    for name, value in extra:
        hdr = pj.SipHeader()
        hdr.hName, hdr.hValue = name, value
        prm.txOption.headers.append(hdr)
    host.table.add(call)
    call.log.info("call_dialing", to=req.to_number, target=plan.target,
                  caller_id=plan.caller_id, job_id=req.job_id,
                  x_headers=[name for name, _ in extra])
    try:
        call.makeCall(plan.target, prm)
    except pj.Error as exc:
        call.state.fire(Event.FAIL)
        call.closed = True
        host.table.forget(call)
        reason = exc.info()
        host.calllog.update_call(call.id, status="failed", final_status=500,
                                 final_reason=reason[:200], ended_at=time.time())
        call.log.warning("outbound_result", outcome="failed", sip_status=500, reason=reason)
        result = OutboundResult(call.id, "failed", 500, reason, 0.0)
        host.later(0.0, lambda: call.deliver(result))
        return call.id
    call.pj_id = call.getId()
    ref = weakref.ref(call)  # the timer must not keep an ended call (a pj.Call) alive

    def ring_timeout() -> None:
        live = ref()
        if live is not None:
            live.ring_timeout()

    host.later(req.ring_timeout_s, ring_timeout)
    return call.id
