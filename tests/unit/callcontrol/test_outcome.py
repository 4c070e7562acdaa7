"""The end of a call from plain facts: every outcome as a table row (h11-style)."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.callstate import Event, State
from vio_sbc.callcontrol.outcome import (
    CallEnd,
    Outcome,
    call_outcome,
    classify_outcome,
    on_disconnect,
)


@pytest.mark.parametrize(("answered", "status", "timed_out", "outcome"), [
    (True, 200, False, "answered"), (True, 500, False, "answered"),
    (False, 486, False, "busy"), (False, 600, False, "busy"),
    (False, 408, False, "no_answer"), (False, 480, False, "no_answer"),
    (False, 487, False, "no_answer"), (False, 487, True, "no_answer"),
    (False, 403, False, "rejected"), (False, 404, False, "rejected"),
    (False, 603, False, "rejected"), (False, 503, False, "failed"), (False, 0, False, "failed"),
])
def test_classify_outcome(answered: bool, status: int, timed_out: bool, outcome: str) -> None:
    assert classify_outcome(answered, status, timed_out) == outcome


# (direction, state before DISCONNECTED, answered, status, timed_out) -> (event, side)
DISCONNECTS = [
    ("inbound", State.RECEIVED, False, 487, False, Event.CANCEL, "caller"),
    ("inbound", State.RINGING, False, 487, False, Event.CANCEL, "caller"),
    ("inbound", State.RINGING, False, 503, False, Event.REFUSE, None),
    ("inbound", State.RECEIVED, False, 0, False, Event.REFUSE, None),
    ("inbound", State.ANSWERING, True, 200, False, Event.HANGUP, "caller"),
    ("inbound", State.ACTIVE, True, 200, False, Event.HANGUP, "caller"),
    ("inbound", State.HELD, True, 200, False, Event.HANGUP, "caller"),
    ("outbound", State.ACTIVE, True, 200, False, Event.HANGUP, "callee"),
    ("outbound", State.RINGING, False, 487, True, Event.CANCEL, None),
    ("outbound", State.DIALING, False, 486, False, Event.FAIL, "callee"),
    ("outbound", State.RINGING, False, 408, False, Event.FAIL, "callee"),
]


@pytest.mark.parametrize(("direction", "state", "answered", "status", "timed_out", "event",
                          "side"), DISCONNECTS)
def test_on_disconnect(direction: str, state: State, answered: bool, status: int,
                       timed_out: bool, event: Event, side: str | None) -> None:
    assert on_disconnect(direction=direction, state=state, answered=answered, status=status,
                         timed_out=timed_out) == (event, side)


def end(direction: str, state: State, answered: bool, status: int, reason: str = "R", *,
        answered_at: float | None = None, timed_out: bool = False) -> CallEnd:
    return CallEnd(direction, state, answered, status, reason, answered_at, 100.0, timed_out)


# the row, the metric label and the summary for every way a call ends
OUTCOMES = [
    (end("inbound", State.ENDED, True, 200, answered_at=90.0),
     Outcome("ended", "ended", 200, "OK", 10.0, "ended", (200, "OK"))),
    (end("inbound", State.ENDED, True, 0, answered_at=None),  # answer time never written
     Outcome("ended", "ended", 200, "OK", None, "ended", (200, "OK"))),
    (end("inbound", State.CANCELLED, False, 487, "Request Terminated"),
     Outcome("cancelled", "cancelled", 487, "Request Terminated", None, "cancelled",
             (487, "Request Terminated"))),
    (end("inbound", State.REFUSED, False, 503, "Service Unavailable"),
     Outcome("refused", "refused", 503, "Service Unavailable", None, "refused",
             (503, "Service Unavailable"))),
    (end("inbound", State.REFUSED, False, 0, ""),  # pjsua reported no status
     Outcome("refused", "refused", None, None, None, "refused", (None, None))),
    (end("inbound", State.RINGING, False, 500, "shutdown"),  # cut off: the row keeps its status
     Outcome("ringing", None, None, None, None, "ringing", (None, None))),
    (end("outbound", State.ENDED, True, 200, answered_at=88.5),
     Outcome("ended", "ended", 200, "OK", 11.5, "ended", (200, "OK"), result="answered",
             sip_status=200, result_duration_s=11.5)),
    (end("outbound", State.REFUSED, False, 486, "Busy Here"),
     Outcome("busy", "busy", 486, "Busy Here", None, "unanswered", (486, "Busy Here"),
             result="busy", sip_status=486)),
    (end("outbound", State.CANCELLED, False, 487, "Request Terminated", timed_out=True),
     Outcome("no_answer", "no_answer", 487, "Request Terminated", None, "unanswered",
             (487, "Request Terminated"), result="no_answer", sip_status=487)),
    (end("outbound", State.REFUSED, False, 0, "timeout"),
     Outcome("failed", "failed", 0, "timeout", None, "unanswered", (0, "timeout"),
             result="failed", sip_status=0)),
    (end("outbound", State.DIALING, False, 500, "shutdown"),  # cut off by a shutdown
     Outcome("dialing", None, None, None, None, "unanswered", (500, "shutdown"))),
]


@pytest.mark.parametrize(("facts", "expected"), OUTCOMES)
def test_call_outcome(facts: CallEnd, expected: Outcome) -> None:
    assert call_outcome(facts) == expected


def test_outcome_row_fields() -> None:
    assert OUTCOMES[0][1].row() == {"status": "ended", "final_status": 200, "final_reason": "OK",
                                    "duration_s": 10.0}
    assert OUTCOMES[4][1].row() == {"status": "refused"}
    assert OUTCOMES[5][1].row() == {}
    assert OUTCOMES[9][1].row() == {"status": "failed", "final_status": 0,
                                    "final_reason": "timeout"}
