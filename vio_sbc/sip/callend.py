"""Closing a call: the call-log row's final fields, metrics and the `call_ended` line.

`end_call()` runs on the main thread when pjsua2 reports a call disconnected
(inbound or outbound leg, `SbcCall.onCallState`) and at shutdown for calls that
got no answer to our BYE. What the row says is `vio_sbc.callcontrol.outcome`'s
decision; this module writes it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from vio_sbc.agent.latency import turn_latencies
from vio_sbc.callcontrol.outcome import CallEnd, Outcome, call_outcome
from vio_sbc.calllog.records import CallRecords, EndFacts
from vio_sbc.calllog.store import CallLog
from vio_sbc.calllog.summary.extractive import CallFacts
from vio_sbc.ops.metrics import Metrics
from vio_sbc.sip.call import SbcCall


class RtpDropCounts(Protocol):
    def ended(self, call: Any, calllog: Any) -> dict[str, int]:
        """A call's RTP drop counts for its `call_ended` line (vio_sbc.rtp.guard)."""


class EndHost(Protocol):
    calllog: CallLog
    records: CallRecords
    metrics: Metrics

    @property
    def rtp_guard(self) -> RtpDropCounts: ...

    def forget(self, call: SbcCall) -> None:
        """Take the call off the call table; its media is released on the next tick."""


def end_call(host: EndHost, call: SbcCall, status: int, reason: str) -> Outcome | None:
    """Close the call (once); its outcome, None when it had no row."""
    call.closed = True
    call.pending_action = None
    host.forget(call)
    if not call.logged:
        return None
    now = time.time()
    outcome = call_outcome(CallEnd(call.direction, call.state.state, call.state.was_answered,
                                   status, reason, call.answered_at, now, call.timed_out))
    fields: dict[str, Any] = {"ended_at": now, "hangup_side": call.hangup_side, **outcome.row()}
    s = call.session
    if s is not None and call.tap is not None:  # the tap's counters now, not the engine's
        st = call.tap.state()                   # last copy (a busy engine's is stale)
        s.rx_frames, s.tx_frames, s.tx_audio_frames = st.rx_frames, st.ticks, st.tx_audio
    if s is not None:
        fields.update(rx_frames=s.rx_frames, tx_frames=s.tx_frames,
                      tx_audio_frames=s.tx_audio_frames, rx_voiced_frames=s.voice.voiced_frames)
    fields.update(records_end(host, call, outcome))
    host.calllog.update_call(call.id, **fields)
    host.metrics.call_finished(outcome.label)
    if s is not None and outcome.duration_s:
        host.metrics.frames(s.rx_frames, outcome.duration_s)
    call.log.info(
        "call_ended", status=outcome.status, hangup_side=call.hangup_side,
        duration_s=outcome.duration_s, rx_frames=fields.get("rx_frames"),
        tx_audio_frames=fields.get("tx_audio_frames"),
        turn_latency_ms=turn_latencies(s.turn_ends, s.burst_starts) if s is not None else [],
        **({"vad_errors": s.voice.errors} if s is not None and s.voice.errors else {}),
        **host.rtp_guard.ended(call, host.calllog),
    )
    return outcome


def records_end(host: EndHost, call: SbcCall, outcome: Outcome) -> dict[str, Any]:
    """Cost, summary and recording close-out for the call row. The rate prefix is
    matched on the destination: our number inbound, the callee outbound."""
    route, out = call.route, call.direction == "outbound"
    xfer = call.transfer.summary if call.transfer and call.transfer.outcome else None
    facts = CallFacts(outcome.summary_status, call.hangup_side, call.hangup_reason, xfer,
                      *outcome.summary_final, duration_s=outcome.duration_s)
    number = call.callee if out else (route.number.number if route else call.callee)
    return host.records.finish(EndFacts(
        call.id, call.direction, route.trunk if route else None, number,
        call.state.was_answered, float(outcome.duration_s or 0.0), facts))
