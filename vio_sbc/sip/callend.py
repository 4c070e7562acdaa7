"""Closing a call: the call-log row's final fields, metrics and the `call_ended` line.

`end_call()` runs on the main thread when pjsua2 reports a call disconnected
(inbound or outbound leg, `SbcCall.onCallState`) and at shutdown for calls that
got no answer to our BYE.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from vio_sbc.agent.engine import Session
from vio_sbc.agent.latency import turn_latencies
from vio_sbc.agent.turns import VadTurnDetector
from vio_sbc.calllog.records import EndFacts
from vio_sbc.calllog.summary.extractive import CallFacts
from vio_sbc.sip.call import SbcCall

if TYPE_CHECKING:
    from vio_sbc.sip.switch import Softswitch


def end_call(sw: Softswitch, call: SbcCall, status: int, reason: str) -> None:
    sw.calls.pop(call.id, None)
    sw.hangup_after_playout.pop(call.id, None)
    sw.transfer_after_playout.pop(call.id, None)
    now = time.time()
    if call.logged:
        fields: dict[str, Any] = {"ended_at": now, "hangup_side": call.hangup_side}
        st = call.state.state.value
        if call.state.was_answered:
            fields.update(status="ended", final_status=200, final_reason="OK")
            if call.answered_at:
                fields["duration_s"] = round(now - call.answered_at, 3)
        elif st in ("refused", "cancelled"):
            fields.update(status=st)
            if status:
                fields.update(final_status=status, final_reason=reason)
        if call.session is not None:
            s = call.session
            fields.update(rx_frames=s.rx_frames, tx_frames=s.tx_frames,
                          tx_audio_frames=s.tx_audio_frames,
                          rx_voiced_frames=_voiced(s))
        fields.update(call.end_fields)  # e.g. an outbound call's outcome (outcall.py)
        fields.update(records_end(sw, call, status, reason, fields))
        sw.calllog.update_call(call.id, **fields)
        sw.metrics.call_finished(str(fields.get("status") or st))
        if call.session is not None and fields.get("duration_s"):
            sw.metrics.frames(call.session.rx_frames, float(fields["duration_s"]))
        call.log.info(
            "call_ended", status=fields.get("status"), hangup_side=call.hangup_side,
            duration_s=fields.get("duration_s"), rx_frames=fields.get("rx_frames"),
            tx_audio_frames=fields.get("tx_audio_frames"),
            turn_latency_ms=turn_latencies(call.session.turn_ends, call.session.burst_starts)
            if call.session is not None else [],
            **sw.rtp_guard.ended(call, sw.calllog),
        )
    sw._reap.append(call)


def records_end(sw: Softswitch, call: SbcCall, status: int, reason: str,
                fields: dict[str, Any]) -> dict[str, Any]:
    """Cost, summary and recording close-out for the call row. The rate prefix is
    matched on the destination: our number inbound, the callee outbound."""
    route, out = call.route, call.direction == "outbound"
    answered = call.state.was_answered
    st = fields.get("status") or call.state.state.value
    fields_status: tuple[int | None, str | None] = (
        fields.get("final_status"), fields.get("final_reason"))
    if out and not answered:
        st, fields_status = "unanswered", (status, reason)
    xfer = call.transfer.summary if call.transfer and call.transfer.outcome else None
    facts = CallFacts(st, call.hangup_side, call.hangup_reason, xfer, *fields_status,
                      duration_s=fields.get("duration_s"))
    number = call.callee if out else (route.number.number if route else call.callee)
    return sw.records.finish(EndFacts(
        call.id, call.direction, route.trunk if route else None, number, answered,
        float(fields.get("duration_s") or 0.0), facts))


def _voiced(s: Session) -> int:
    for p in s.pipeline:
        if isinstance(p, VadTurnDetector):
            return p.voiced_frames
    return 0
