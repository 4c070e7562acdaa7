"""Call state: one explicit transition table. An illegal transition raises.

The SIP adapter feeds events (what pjsua2 reported or what we decided); the
state machine says where the call is. Nothing here touches I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from vio_sbc.errors import IllegalTransition


class State(str, Enum):
    RECEIVED = "received"      # inbound INVITE arrived, routing not done
    DIALING = "dialing"        # outbound INVITE sent
    RINGING = "ringing"        # 180/183 sent or received
    ANSWERING = "answering"    # 200 sent, waiting for ACK
    ACTIVE = "active"          # confirmed dialog, media flowing
    HELD = "held"              # remote put us on hold (sendonly/inactive)
    ENDED = "ended"            # answered call finished (BYE either side)
    REFUSED = "refused"        # final 4xx-6xx before answer, by us or by the peer
    CANCELLED = "cancelled"    # caller CANCELled before answer


class Event(str, Enum):
    ROUTED = "routed"
    REFUSE = "refuse"
    RING = "ring"
    ANSWER = "answer"
    CONFIRM = "confirm"        # ACK received / 200 received for outbound
    HOLD = "hold"
    RESUME = "resume"
    HANGUP = "hangup"          # BYE (either side) or local hangup after answer
    CANCEL = "cancel"
    FAIL = "fail"              # final error response / transport failure before answer


TRANSITIONS: dict[State, dict[Event, State]] = {
    State.RECEIVED: {
        Event.ROUTED: State.RECEIVED,
        Event.RING: State.RINGING,
        Event.ANSWER: State.ANSWERING,
        Event.REFUSE: State.REFUSED,
        Event.CANCEL: State.CANCELLED,
        Event.FAIL: State.REFUSED,
    },
    State.DIALING: {
        Event.RING: State.RINGING,
        Event.CONFIRM: State.ACTIVE,
        Event.REFUSE: State.REFUSED,
        Event.FAIL: State.REFUSED,
        Event.CANCEL: State.CANCELLED,
    },
    State.RINGING: {
        Event.RING: State.RINGING,
        Event.ANSWER: State.ANSWERING,
        Event.CONFIRM: State.ACTIVE,
        Event.REFUSE: State.REFUSED,
        Event.CANCEL: State.CANCELLED,
        Event.FAIL: State.REFUSED,
    },
    State.ANSWERING: {
        Event.CONFIRM: State.ACTIVE,
        Event.HANGUP: State.ENDED,
        Event.FAIL: State.ENDED,
        Event.HOLD: State.HELD,
    },
    State.ACTIVE: {
        Event.HOLD: State.HELD,
        Event.RESUME: State.ACTIVE,
        Event.HANGUP: State.ENDED,
        Event.FAIL: State.ENDED,
    },
    State.HELD: {
        Event.HOLD: State.HELD,
        Event.RESUME: State.ACTIVE,
        Event.HANGUP: State.ENDED,
        Event.FAIL: State.ENDED,
    },
    State.ENDED: {},
    State.REFUSED: {},
    State.CANCELLED: {},
}

FINAL = frozenset(s for s, t in TRANSITIONS.items() if not t)
ANSWERED = frozenset({State.ANSWERING, State.ACTIVE, State.HELD, State.ENDED})


@dataclass(slots=True)
class CallState:
    """The state of one call and its history of (event, state) pairs."""

    state: State = State.RECEIVED
    history: list[tuple[Event, State]] = field(default_factory=list)

    @classmethod
    def outbound(cls) -> CallState:
        return cls(state=State.DIALING)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def was_answered(self) -> bool:
        return any(s in ANSWERED for _, s in self.history)

    def can(self, event: Event) -> bool:
        return event in TRANSITIONS[self.state]

    def fire(self, event: Event) -> State:
        nxt = TRANSITIONS[self.state].get(event)
        if nxt is None:
            raise IllegalTransition(
                f"call in state {self.state.value!r} cannot take {event.value!r}"
            )
        self.state = nxt
        self.history.append((event, nxt))
        return nxt
