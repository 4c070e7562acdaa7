"""How a call ended, from plain facts: the state event for pjsua's DISCONNECTED, and the
outcome written to the call row, counted in `vio_calls_total{status}`, told to the
summary and, for an outbound call, reported to whoever placed it. Pure.

Rules (docs/calllog.md, docs/dialer.md):
- an answered call `ended` (200 OK), whatever ended it, after `duration_s` (answer to
  end);
- an inbound call not answered is `refused` or `cancelled` (the caller's CANCEL: 487),
  with the final status pjsua reported (none if it reported 0);
- an outbound call not answered is classified from its final status
  (`classify_outcome`: busy, no_answer, rejected, failed) and the summary calls it
  `unanswered`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vio_sbc.callcontrol.callstate import Event, State


def classify_outcome(answered: bool, status: int, timed_out: bool = False) -> str:
    """The outcome of an outbound call from its final status.

    Answered calls are `answered` whatever ended them. Before answer: our ring
    timeout or 408/480/487 -> `no_answer`; 486/600 -> `busy`; other 4xx/6xx ->
    `rejected`; 5xx, no response (0) and anything else -> `failed`.
    """
    if answered:
        return "answered"
    if timed_out or status in (408, 480, 487):
        return "no_answer"
    if status in (486, 600):
        return "busy"
    if 400 <= status <= 499 or 600 <= status <= 699:
        return "rejected"
    return "failed"


def on_disconnect(*, direction: str, state: State, answered: bool, status: int,
                  timed_out: bool = False) -> tuple[Event, str | None]:
    """The event pjsua's DISCONNECTED fires, and the hangup side it implies unless one
    is known already (None: no side, e.g. a call we refused)."""
    if direction == "outbound":
        if answered:
            return Event.HANGUP, "callee"
        if timed_out:
            return Event.CANCEL, None
        return Event.FAIL, "callee"
    if state in (State.RECEIVED, State.RINGING):
        return (Event.CANCEL, "caller") if status == 487 else (Event.REFUSE, None)
    return Event.HANGUP, "caller"


@dataclass(frozen=True, slots=True)
class CallEnd:
    """What the adapter knows when a call is over."""

    direction: str  # "inbound" | "outbound"
    state: State  # after the final transition
    answered: bool  # answered at some point
    status: int  # pjsua's last status code (0: none)
    reason: str
    answered_at: float | None  # wall time of the answer
    ended_at: float  # wall time now
    timed_out: bool = False  # outbound: our ring timeout cancelled it


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str  # vio_calls_total{status}
    status: str | None  # the row's final status (None: a call cut off unfinished keeps its own)
    final_status: int | None
    final_reason: str | None
    duration_s: float | None  # answered calls that had an answer time
    summary_status: str  # what the summary says the call was
    summary_final: tuple[int | None, str | None]
    result: str | None = None  # outbound, finished: one of callcontrol.outbound.OUTCOMES
    sip_status: int = 0  # outbound: the result's status (200 when answered)
    result_duration_s: float = 0.0  # outbound: the result's duration (0 unanswered)

    def row(self) -> dict[str, Any]:
        """The call-row fields the outcome sets."""
        row: dict[str, Any] = {} if self.status is None else {"status": self.status}
        if self.final_status is not None:
            row.update(final_status=self.final_status, final_reason=self.final_reason)
        if self.duration_s is not None:
            row["duration_s"] = self.duration_s
        return row


def call_outcome(end: CallEnd) -> Outcome:
    """The outcome of a call that is over (see the module doc). A call still in a live
    state (the switch shutting down, a BYE nobody answered) is not classified: its row
    keeps its status (the next start closes it as `interrupted`)."""
    duration = round(end.ended_at - end.answered_at, 3) if end.answered_at else None
    final_state = end.state in (State.REFUSED, State.CANCELLED, State.ENDED)
    out = end.direction == "outbound"
    if end.answered:
        return Outcome("ended", "ended", 200, "OK", duration, "ended", (200, "OK"),
                       result="answered" if out else None, sip_status=200 if out else 0,
                       result_duration_s=(duration or 0.0) if out else 0.0)
    if out:
        result = classify_outcome(False, end.status, end.timed_out)
        summary = ("unanswered", (end.status, end.reason))
        if not final_state:
            return Outcome(end.state.value, None, None, None, None, *summary)
        return Outcome(result, result, end.status, end.reason, None, *summary,
                       result=result, sip_status=end.status)
    if not final_state:
        return Outcome(end.state.value, None, None, None, None, end.state.value, (None, None))
    final: tuple[int | None, str | None] = (end.status, end.reason) if end.status else (None,
                                                                                       None)
    return Outcome(end.state.value, end.state.value, *final, None, end.state.value, final)
