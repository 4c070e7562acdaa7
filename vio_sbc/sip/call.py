"""pjsua2 Call adapter: one call's state, media port and call-log updates.

Every callback runs on the main thread (mainThreadOnly); exceptions are caught
and logged here because pjsua2 would print and swallow them. A call reaches the
switch only through `CallHost`, the narrow protocol declared here; what a call
state change means is decided by `vio_sbc.callcontrol` (callstate, outcome).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pjsua2 as pj
import structlog

from vio_sbc.agent.engine import Session
from vio_sbc.agent.frames import CallEnded, CallStarted, InputDtmf
from vio_sbc.callcontrol.callstate import CallState, Event, State
from vio_sbc.callcontrol.dtmf import DtmfDedup
from vio_sbc.callcontrol.outcome import Outcome, on_disconnect
from vio_sbc.callcontrol.routing import Route
from vio_sbc.callcontrol.sdp import answer_telephone_events
from vio_sbc.callcontrol.transfer import TransferAttempt
from vio_sbc.calllog.records import CallRecords
from vio_sbc.calllog.store import CallLog
from vio_sbc.config.model import Config
from vio_sbc.ops.metrics import Metrics
from vio_sbc.rtp import tap as native_tap
from vio_sbc.rtp.port import CallMediaPort, release_port
from vio_sbc.rtp.tap import TX_CAP, Tap, TapError
from vio_sbc.sip import info
from vio_sbc.sip.trust import refuse_replace, refuse_transfer
from vio_sbc.sip.xfer import on_transfer_status

_ACTIVE = pj.PJSUA_CALL_MEDIA_ACTIVE
_HOLD = (pj.PJSUA_CALL_MEDIA_REMOTE_HOLD, pj.PJSUA_CALL_MEDIA_LOCAL_HOLD)


def audio_only_op() -> Any:
    """A CallOpParam whose call setting offers audio only: pjsua's default also offers
    `m=text` (real-time text) when it writes the offer itself (a delayed-offer INVITE's
    200, our own INVITE)."""
    prm = pj.CallOpParam(True)
    prm.opt.textCount = 0
    prm.opt.videoCount = 0
    return prm


class CallHost(Protocol):
    """What a call needs of the switch (`Softswitch` is one; main thread only)."""

    cfg: Config
    calllog: CallLog
    records: CallRecords
    metrics: Metrics
    stats: dict[str, int]

    def later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the main thread after `delay_s`."""

    def open_session(self, call_id: str, route: Route) -> Session:
        """The agent engine session for a call whose media just came up."""

    def ended(self, call: SbcCall, status: int, reason: str) -> Outcome | None:
        """The call is over: close its row, take it off the table, release it later.
        The outcome (None when the call had no row)."""


@dataclass(frozen=True, slots=True)
class AfterPlayout:
    """What the agent asked for, done once its queued audio has played."""

    action: Literal["hangup", "transfer"]
    target: str = ""  # transfer target


class SbcCall(pj.Call):  # type: ignore[misc]
    def __init__(self, host: CallHost, acc: Any, call_id: int, *, source: str,
                 transport: str, sip_call_id: str, caller: str, callee: str) -> None:
        super().__init__(acc, call_id)
        self.host = host
        self.id = uuid.uuid4().hex
        self.pj_id = call_id  # pjsua's call id (outbound: set once makeCall returns)
        self.sip_call_id = sip_call_id
        self.source = source
        self.transport = transport
        self.caller = caller
        self.callee = callee
        self.state = CallState()
        self.route: Route | None = None
        self.session: Session | None = None
        self.port: CallMediaPort | None = None
        self.tap: Tap | None = None  # the native tap (30-media-tap.patch), else `port`
        self.logged = False  # has a row in the call table
        self.closed = False  # ended: its row is closed and it is off the call table
        self.hangup_side: str | None = None
        self.hangup_reason: str | None = None  # the agent's HangupRequest reason
        self.pending_action: AfterPlayout | None = None  # the agent's hangup/transfer
        self.answered_at: float | None = None
        self.codec: str | None = None
        self.srtp: str | None = None  # SRTP suite of the call's audio (None: plain RTP)
        self.media_since: float | None = None  # wall time the media port was connected
        self._aud: Any = None   # the call's audio media on the bridge
        self.tx_on = False      # port -> call connected (only while the agent has audio)
        self.tx_allowed = True  # False: the agent must not talk (outbound early media)
        self.direction = "inbound"  # "outbound": vio_sbc.sip.outcall.OutboundCall
        self.timed_out = False  # outbound: our ring timeout cancelled it
        self.variables: dict[str, str] = {}  # to the agent in CallStarted
        self.dtmf = DtmfDedup()  # one digit per key press, RFC 4733 and INFO together
        self.transfer: TransferAttempt | None = None  # the last blind transfer (xfer.py)
        self.media_index: int | None = None  # active audio stream, for RTP statistics
        self.created = time.monotonic()  # INVITE received, for the answer latency
        self.log = structlog.get_logger("vio_sbc.call").bind(
            call_id=self.id, sip_call_id=sip_call_id
        )

    def new_row(self, **fields: Any) -> dict[str, Any]:
        """A new call-log row for this call (inbound unless `fields` say otherwise)."""
        return {"id": self.id, "sip_call_id": self.sip_call_id, "direction": self.direction,
                "caller": self.caller, "callee": self.callee, "source": self.source,
                "transport": self.transport, "srtp": self.srtp, "received_at": time.time(),
                **fields}

    # -- actions (main thread) ----------------------------------------------
    def respond(self, status: int, reason: str = "", headers: dict[str, str] | None = None) -> None:
        prm = audio_only_op()
        prm.statusCode = status
        if reason:
            prm.reason = reason
        for name, value in (headers or {}).items():
            h = pj.SipHeader()
            h.hName, h.hValue = name, value
            prm.txOption.headers.append(h)
        self.answer(prm)

    def ring(self) -> None:
        self.state.fire(Event.RING)
        self.respond(180)
        if self.logged:
            self.host.calllog.update_call(self.id, status="ringing", ringing_at=time.time())

    def accept(self) -> None:
        if self.state.state not in (State.RECEIVED, State.RINGING):
            return  # cancelled while ringing
        try:
            self.respond(200)
        except pj.Error as exc:  # e.g. no free RTP port: refuse rather than leave it hanging
            self.log.error("answer_failed", error=exc.info())
            self.end("system", 503)
            return
        self.state.fire(Event.ANSWER)
        self.answered_at = time.time()
        self.host.stats["answered"] += 1
        self.host.metrics.answered(time.monotonic() - self.created)
        self.host.calllog.update_call(self.id, status="answered", answered_at=self.answered_at)
        self.log.info("call_answered")

    def end(self, side: str, status: int = 200) -> None:
        if self.state.final:
            return
        self.hangup_side = self.hangup_side or side
        prm = pj.CallOpParam()
        prm.statusCode = status
        try:
            self.hangup(prm)
        except pj.Error as exc:
            self.log.warning("hangup_failed", error=exc.info())

    # -- pjsua2 callbacks -----------------------------------------------------
    def onCallState(self, prm: Any) -> None:
        gone, status, reason = False, 0, ""
        try:
            ci = self.getInfo()
            gone = ci.state == pj.PJSIP_INV_STATE_DISCONNECTED
            status, reason = int(ci.lastStatusCode), str(ci.lastReason)
            self._state_changed(ci)
        except Exception:
            self.log.exception("on_call_state_failed")
            if gone and not self.closed:  # whatever failed, an ended call leaves the table
                try:
                    self.host.ended(self, status, reason)
                except Exception:
                    self.log.exception("call_end_failed")

    def _state_changed(self, ci: Any) -> None:
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            if self.state.can(Event.CONFIRM):
                self.state.fire(Event.CONFIRM)
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._disconnected(int(ci.lastStatusCode), str(ci.lastReason))

    def onCallMediaState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            for mi in ci.media:
                if mi.type != pj.PJMEDIA_TYPE_AUDIO:
                    continue
                if mi.status == _ACTIVE:
                    if self.state.state is State.HELD:
                        self.state.fire(Event.RESUME)
                        self.log.info("call_resumed")
                    self._connect_media(mi.index)
                elif mi.status in _HOLD and self.state.can(Event.HOLD):
                    if self.state.state is not State.HELD:
                        self.log.info("call_held")
                    self.state.fire(Event.HOLD)
        except Exception:
            self.log.exception("on_call_media_state_failed")

    def onCallSdpCreated(self, prm: Any) -> None:
        try:  # our answer's telephone-event events: the offer's and ours in common
            offer = str(prm.remSdp.wholeSdp)
            if offer:
                local = str(prm.sdp.wholeSdp)
                answer = answer_telephone_events(local, offer)
                if answer is not local:
                    prm.sdp.wholeSdp = answer
        except Exception:
            self.log.exception("on_call_sdp_created_failed")

    def onDtmfDigit(self, prm: Any) -> None:
        try:
            method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
            self.digit(str(prm.digit), int(prm.duration), method)
        except Exception:
            self.log.exception("on_dtmf_failed")

    def onCallTsxState(self, prm: Any) -> None:
        try:  # INFO application/dtmf (pjsua answers dtmf-relay itself)
            info.on_tsx_state(prm, self.digit, self.log)
        except Exception:
            self.log.exception("on_call_tsx_state_failed")

    def digit(self, digit: str, duration_ms: int, method: str) -> None:
        """A key press from RFC 4733 or SIP INFO; the same press by both counts once."""
        t_ms = self.t_ms()
        if not self.dtmf.accept(digit, method, t_ms):
            self.log.info("dtmf_duplicate", digit=digit, method=method)
            return
        if self.session is not None:
            self.session.push(InputDtmf(digit=digit, duration_ms=duration_ms, t_ms=t_ms))
        self.host.calllog.add_event(self.id, t_ms, "dtmf", digit)
        self.host.records.dtmf(self.id, t_ms, digit)
        self.log.info("dtmf", digit=digit, method=method)

    def onCallTransferRequest(self, prm: Any) -> None:
        try:  # a far-end REFER: the SIP guard refuses it first (vio_sbc/sip/trust.py)
            refuse_transfer(self, self.host.metrics, prm)
        except Exception:
            prm.statusCode = 603
            self.log.exception("on_transfer_request_failed")

    def onCallReplaceRequest(self, prm: Any) -> None:
        try:  # an INVITE with Replaces naming this call: never a takeover
            refuse_replace(self, self.host.metrics, prm)
        except Exception:
            prm.statusCode = 403
            self.log.exception("on_replace_request_failed")

    def onCallTransferStatus(self, prm: Any) -> None:
        try:
            on_transfer_status(self, prm)
        except Exception:
            self.log.exception("on_transfer_status_failed")

    # -- internals ------------------------------------------------------------
    def t_ms(self) -> int:
        """Milliseconds since the answer (0 before it)."""
        return int((time.time() - self.answered_at) * 1000) if self.answered_at else 0

    def _connect_media(self, index: int) -> None:
        aud = self.getAudioMedia(index)
        self.media_index = index
        if self.session is None:
            assert self.route is not None
            self.session = self.host.open_session(self.id, self.route)
            if native_tap.available():
                try:
                    self.tap = Tap(self.pj_id, owners=2)  # this call and the engine
                except TapError as exc:
                    self.log.error("media_tap_failed", error=str(exc))
            if self.tap is not None:
                self.session.attach_tap(self.tap, TX_CAP)
            self.host.records.start_recording(self.id, self.session, self.route.trunk,
                                              self.route.number)
            if self.tap is None:
                self.port = CallMediaPort(self.session)
                self.port.create(f"call-{self.id[:8]}")
            try:
                si = self.getStreamInfo(index)
                self.codec = f"{si.codecName}/{si.codecClockRate}"
            except pj.Error:
                self.codec = None
            self.host.calllog.update_call(self.id, codec=self.codec)
            self.media_since = time.time()
            self.session.push(CallStarted(
                call_id=self.id, number=self.route.number.number,
                caller=self.callee if self.direction == "outbound" else self.caller,
                agent=self.route.agent.name, sample_rate=self.session.sample_rate,
                direction=self.direction, variables=dict(self.variables),
            ))
            self.log.info("media_active", codec=self.codec,
                          media="native" if self.tap is not None else "python")
        self._aud = aud
        if self.tap is not None:
            self.tap.reconnect()  # the call's slot may have changed (re-INVITE)
            self.tx_on = not self.tx_allowed  # sync_tx sets the tap's switch
            self.sync_tx()
            return
        assert self.port is not None
        aud.startTransmit(self.port)
        self.tx_on = False
        self.sync_tx()

    def sync_tx(self) -> None:
        """Connect port -> call only while the agent has audio queued or the call is
        recorded (main thread).

        The bridge asks a port for frames only when it has listeners, so a silent
        agent costs no `onFrameRequested` call on the clock thread: that halves the
        Python callbacks per call while the caller talks (docs/performance.md)."""
        if self.tap is not None:  # the tap stays connected; playout waits while muted
            if self.tx_on is not self.tx_allowed:
                self.tap.set_tx(self.tx_allowed)
                self.tx_on = self.tx_allowed
            return
        s, port, aud = self.session, self.port, self._aud
        if s is None or port is None or aud is None:
            return
        # A recorded call keeps the port connected: the recorder's clock is the playout
        # tick (one agent frame or silence per onFrameRequested, vio_sbc/rtp/recorder.py).
        want = self.tx_allowed and (bool(s.playout) or s.rec is not None)
        if want is self.tx_on:
            return
        try:
            if want:
                port.startTransmit(aud)
            else:
                port.stopTransmit(aud)
            self.tx_on = want
        except pj.Error as exc:
            self.log.warning("media_tx_switch_failed", error=exc.info())

    def _disconnected(self, status: int, reason: str) -> Outcome | None:
        """pjsua reported the call DISCONNECTED: the state event and the call's end."""
        if self.state.final:
            return None
        event, side = on_disconnect(direction=self.direction, state=self.state.state,
                                    answered=self.state.was_answered, status=status,
                                    timed_out=self.timed_out)
        self.state.fire(event)
        if side is not None:
            self.hangup_side = self.hangup_side or side
        return self.host.ended(self, status, reason)

    def rx_packets(self) -> int | None:
        """RTP packets received on the audio stream; None while none is expected
        (no active media yet, or the call is on hold)."""
        if self.media_index is None or self.state.state is not State.ACTIVE:
            return None
        try:
            return int(self.getStreamStat(self.media_index).rtcp.rxStat.pkt)
        except pj.Error:
            return None

    def release_media(self) -> None:
        if self.session is not None:
            self.session.push(CallEnded(reason=self.hangup_side or "unknown"))
        self._aud = None
        if self.tap is not None:  # off the bridge; freed once the engine and recording let go
            self.tap.detach()
            self.tap.unref()
        if self.port is not None:
            release_port(self.port)
            self.port = None
