"""Outbound calls on pjsua2: `place_call` and the `OutboundCall` leg.

The call is an `SbcCall` going the other way: same media port, same agent
engine session (`CallStarted.direction == "outbound"`), same call-log row
with `direction = 'outbound'` and the dialer's job id. Early media (183 with
SDP) already reaches the agent's input; the agent's audio goes out once the
call is answered. Everything runs on the main thread.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from vio_sbc.callstate import CallState, Event, State
from vio_sbc.routing import Route
from vio_sbc.sip.call import SbcCall, audio_only_op
from vio_sbc.sip.inbound import call_row
from vio_sbc.sip.outbound import OutboundRefused, OutboundRequest, OutboundResult, classify_outcome
from vio_sbc.trunks.admission import admit_outbound

if TYPE_CHECKING:
    from vio_sbc.sip.switch import Softswitch

ResultCallback = Callable[[OutboundResult], None]


class OutboundCall(SbcCall):
    def __init__(self, switch: Softswitch, acc: Any, *, req: OutboundRequest, route: Route,
                 on_result: ResultCallback | None) -> None:
        out = route.trunk.outbound
        assert out is not None
        super().__init__(switch, acc, pj.PJSUA_INVALID_ID, source=out.host,
                         transport=out.transport, sip_call_id="", caller=req.from_number,
                         callee=req.to_number)
        self.state = CallState.outbound()
        self.direction = "outbound"
        self.variables = dict(req.variables)
        self.route = route
        self.req = req
        self.on_result = on_result
        self.timed_out = False
        self.log = self.log.bind(trunk=route.trunk.name, number=route.number.number,
                                 agent=route.agent.name, direction="outbound")

    def ring_timeout(self) -> None:
        if self.state.state in (State.DIALING, State.RINGING):
            self.timed_out = True
            self.log.info("ring_timeout", ring_timeout_s=self.req.ring_timeout_s)
            self.end("system", 487)

    # -- pjsua2 callbacks -----------------------------------------------------------
    def onCallState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            if not self.sip_call_id and ci.callIdString:
                self.sip_call_id = ci.callIdString
                self.switch.calllog.update_call(self.id, sip_call_id=self.sip_call_id)
                self.log = self.log.bind(sip_call_id=self.sip_call_id)
            if ci.state == pj.PJSIP_INV_STATE_EARLY and self.state.state is State.DIALING:
                self.state.fire(Event.RING)
                self.switch.calllog.update_call(self.id, status="ringing",
                                                ringing_at=time.time())
                self.log.info("call_ringing", status=ci.lastStatusCode)
            elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.state.can(Event.CONFIRM):
                self.state.fire(Event.CONFIRM)
                self.answered_at = time.time()
                self.switch.calllog.update_call(self.id, status="answered",
                                                answered_at=self.answered_at)
                self.log.info("call_answered")
                if self.port is not None:  # early media: now the agent may speak
                    self._connect_media_out()
            elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self._ended(int(ci.lastStatusCode), str(ci.lastReason))
        except Exception:
            self.log.exception("on_call_state_failed")

    def _connect_media(self, index: int) -> None:
        super()._connect_media(index)
        if self.state.state in (State.DIALING, State.RINGING) and self.port is not None:
            # early media: the agent hears the far end but does not talk into it yet
            self.tx_allowed = False
            self.sync_tx()

    def _connect_media_out(self) -> None:
        # port -> call is connected by sync_tx while the agent has audio (call.py)
        self.tx_allowed = True
        self.sync_tx()

    def _ended(self, status: int, reason: str) -> None:
        if self.state.final:
            return
        answered = self.state.was_answered
        if answered:
            self.state.fire(Event.HANGUP)
            self.hangup_side = self.hangup_side or "callee"
        elif self.timed_out:
            self.state.fire(Event.CANCEL)
        else:
            self.state.fire(Event.FAIL)
            self.hangup_side = self.hangup_side or "callee"
        duration = round(time.time() - self.answered_at, 3) if self.answered_at else 0.0
        outcome = classify_outcome(answered, status, self.timed_out)
        sip_status = 200 if answered else status
        if not answered:  # one write: readers never see an interim status
            self.end_fields = {"status": outcome, "final_status": status, "final_reason": reason}
        self.switch.call_ended(self, status, reason)
        self.log.info("outbound_result", outcome=outcome, sip_status=sip_status, reason=reason,
                      duration_s=duration, job_id=self.req.job_id)
        self.deliver(OutboundResult(self.id, outcome, sip_status, reason, duration))

    def deliver(self, result: OutboundResult) -> None:
        cb, self.on_result = self.on_result, None
        if cb is not None:
            try:
                cb(result)
            except Exception:
                self.log.exception("on_result_failed")


def place_call(switch: Softswitch, req: OutboundRequest,
               on_result: ResultCallback | None = None) -> str:
    """Admit, send the INVITE and return the call-log id (see Softswitch.place_call)."""
    cfg = switch.cfg
    mgr = switch.trunks
    number = cfg.numbers.get(req.from_number)
    trunk_name = number.trunk if number else ""
    if switch.draining:
        raise OutboundRefused(503, "draining: not placing new calls")
    if len(switch.calls) >= cfg.sip.max_calls:
        raise OutboundRefused(503, f"sip.max_calls ({cfg.sip.max_calls}) reached")
    if req.agent is not None and req.agent not in cfg.agents:
        raise OutboundRefused(404, f"unknown agent {req.agent!r}")
    bucket = mgr.buckets.get(trunk_name)
    if bucket is None and number is not None and cfg.trunks[trunk_name].outbound is not None:
        raise OutboundRefused(503, f"trunk {trunk_name!r} is not ready")
    adm = admit_outbound(cfg, req.from_number,
                         live_calls=mgr.live_calls(trunk_name, "outbound"),
                         bucket=bucket or _EMPTY, trunk_down=mgr.is_down(trunk_name),
                         now=time.monotonic())
    if req.agent is not None:
        agent, default = cfg.agents[req.agent], False
    else:
        agent, default = cfg.agent_for(adm.number)
    route = Route(trunk=adm.trunk, number=adm.number, agent=agent, default_agent=default)
    call = OutboundCall(switch, mgr.accounts[adm.trunk.name], req=req, route=route,
                        on_result=on_result)
    out = adm.outbound
    cid = out.caller_id or adm.number.number
    ident = f"<sip:{cid}@{out.from_domain or out.host}>"
    call.logged = True
    switch.calllog.open_call(call_row(
        call, direction="outbound", trunk=adm.trunk.name, status="dialing",
        number=adm.number.number, agent=agent.name, default_agent=int(default),
        dialer_job_id=req.job_id))
    prm = audio_only_op()
    prm.txOption.localUri = ident
    pai = pj.SipHeader()
    pai.hName, pai.hValue = "P-Asserted-Identity", ident
    prm.txOption.headers.append(pai)
    target = out.target(req.to_number)
    switch.calls[call.id] = call
    call.log.info("call_dialing", to=req.to_number, target=target, caller_id=cid,
                  job_id=req.job_id)
    try:
        call.makeCall(target, prm)
    except pj.Error as exc:
        switch.calls.pop(call.id, None)
        call.state.fire(Event.FAIL)
        reason = exc.info()
        switch.calllog.update_call(call.id, status="failed", final_status=500,
                                   final_reason=reason[:200], ended_at=time.time())
        call.log.warning("outbound_result", outcome="failed", sip_status=500, reason=reason)
        result = OutboundResult(call.id, "failed", 500, reason, 0.0)
        switch.later(0.0, lambda: call.deliver(result))
        switch._reap.append(call)
        return call.id
    call.pj_id = call.getId()
    ref = weakref.ref(call)  # the timer must not keep an ended call (a pj.Call) alive

    def ring_timeout() -> None:
        live = ref()
        if live is not None:
            live.ring_timeout()

    switch.later(req.ring_timeout_s, ring_timeout)
    return call.id


class _Empty:
    """Stand-in bucket for a number whose trunk has no outbound (admission refuses first)."""

    def take(self, now: float) -> bool:
        return False

    def wait_s(self, now: float) -> float:
        return 0.0


_EMPTY: Any = _Empty()
