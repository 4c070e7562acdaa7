"""Blind transfer of a call by SIP REFER (pjsua2 side; the rules are in transfer.py).

`start_transfer` sends the REFER (`Call.xfer`); `on_transfer_status` is called
from `SbcCall.onCallTransferStatus` (main thread) with each status pjsua
reports; no final report within `sip.transfer_timeout_s` fails it (408). The
outcome goes to the call log (`transfer_outcome`, plus
`transfer` / `transfer_status` events) and the log stream; a completed
transfer ends our leg (the transferor's BYE, RFC 5589), a failed one keeps the
call and tells the agent (TransferFailed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pjsua2 as pj

from vio_sbc.agent.engine import Session
from vio_sbc.agent.frames import TransferFailed
from vio_sbc.callcontrol.callstate import CallState
from vio_sbc.callcontrol.transfer import Outcome, TransferAttempt, TransferTargetError, refer_uri
from vio_sbc.calllog.store import CallLog
from vio_sbc.config.model import Config


class TransferHost(Protocol):
    calllog: CallLog
    cfg: Config

    def later(self, delay_s: float, fn: Callable[[], None]) -> None: ...


class Transferable(Protocol):
    """The part of a call (`vio_sbc.sip.call.SbcCall`) a blind transfer works on."""

    id: str
    source: str
    state: CallState
    transfer: TransferAttempt | None
    hangup_side: str | None
    session: Session | None
    log: Any

    @property
    def host(self) -> TransferHost: ...

    def t_ms(self) -> int: ...
    def xfer(self, uri: str, prm: Any) -> None: ...
    def end(self, side: str, status: int = 200) -> None: ...


def start_transfer(call: Transferable, target: str) -> None:
    if call.state.final:
        return
    if call.transfer is not None and call.transfer.outcome is None:
        call.log.warning("transfer_ignored", target=target, reason="a transfer is in progress")
        return
    try:
        uri = refer_uri(target, call.source)
    except TransferTargetError as exc:
        call.log.warning("transfer_refused", target=target, error=str(exc))
        _failed(call, TransferAttempt(target, ""), 400, "Bad Request")
        return
    attempt = TransferAttempt(target, uri)
    call.transfer = attempt
    t_ms = call.t_ms()
    call.host.calllog.add_event(call.id, t_ms, "transfer", uri)
    call.log.info("transfer_requested", target=target, refer_to=uri)
    try:
        call.xfer(uri, pj.CallOpParam(True))
    except pj.Error as exc:
        call.log.warning("transfer_send_failed", refer_to=uri, error=exc.info())
        attempt.on_status(500, "Server Internal Error", True)
        _record(call, attempt)
        _failed(call, attempt, 500, "Server Internal Error")
        return
    timeout_s = call.host.cfg.sip.transfer_timeout_s
    call.host.later(timeout_s, lambda: _timed_out(call, attempt, timeout_s))


def _timed_out(call: Transferable, attempt: TransferAttempt, timeout_s: float) -> None:
    if call.transfer is not attempt or call.state.final or attempt.on_timeout() is None:
        return
    call.log.warning("transfer_timeout", refer_to=attempt.uri, timeout_s=timeout_s)
    call.host.calllog.add_event(call.id, call.t_ms(), "transfer_status",
                                f"{attempt.status} {attempt.reason}")
    _record(call, attempt)
    _failed(call, attempt, attempt.status, attempt.reason)


def on_transfer_status(call: Transferable, prm: Any) -> None:
    attempt = call.transfer
    if attempt is None:
        return
    status, reason, final = int(prm.statusCode), str(prm.reason), bool(prm.finalNotify)
    call.log.info("transfer_status", status=status, reason=reason, final=final)
    call.host.calllog.add_event(call.id, call.t_ms(), "transfer_status", f"{status} {reason}")
    outcome = attempt.on_status(status, reason, final)
    if outcome is None:
        return
    _record(call, attempt)
    if outcome is Outcome.COMPLETED:
        prm.cont = False
        call.hangup_side = call.hangup_side or "transfer"
        call.host.later(0.0, lambda: call.end("transfer"))
    else:
        _failed(call, attempt, status, reason)


def _record(call: Transferable, attempt: TransferAttempt) -> None:
    call.host.calllog.update_call(call.id, transfer_outcome=attempt.summary)
    call.log.info("transfer_outcome", outcome=attempt.summary, target=attempt.target,
                  refer_to=attempt.uri)


def _failed(call: Transferable, attempt: TransferAttempt, status: int, reason: str) -> None:
    """The call stays up; the agent hears about it."""
    if call.session is not None:
        call.session.push(TransferFailed(attempt.target, status, reason))
