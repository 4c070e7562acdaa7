from __future__ import annotations

import pytest

from vio_sbc.callcontrol.callstate import FINAL, TRANSITIONS, CallState, Event, State
from vio_sbc.errors import IllegalTransition


def test_inbound_happy_path() -> None:
    cs = CallState()
    for ev, st in [(Event.RING, State.RINGING), (Event.ANSWER, State.ANSWERING),
                   (Event.CONFIRM, State.ACTIVE), (Event.HOLD, State.HELD),
                   (Event.RESUME, State.ACTIVE), (Event.HANGUP, State.ENDED)]:
        assert cs.fire(ev) is st
    assert cs.final and cs.was_answered


def test_cancel_while_ringing_is_not_answered() -> None:
    cs = CallState()
    cs.fire(Event.RING)
    cs.fire(Event.CANCEL)
    assert cs.state is State.CANCELLED and not cs.was_answered


def test_outbound_starts_dialing() -> None:
    cs = CallState.outbound()
    cs.fire(Event.RING)
    assert cs.fire(Event.CONFIRM) is State.ACTIVE


@pytest.mark.parametrize("state", sorted(FINAL, key=lambda s: s.value))
def test_final_states_take_nothing(state: State) -> None:
    cs = CallState(state=state)
    for ev in Event:
        with pytest.raises(IllegalTransition):
            cs.fire(ev)


def test_illegal_transition_message() -> None:
    cs = CallState()
    with pytest.raises(IllegalTransition) as e:
        cs.fire(Event.HOLD)
    assert str(e.value) == "call in state 'received' cannot take 'hold'"
    assert cs.state is State.RECEIVED and cs.history == []


def test_every_state_is_in_the_table() -> None:
    assert set(TRANSITIONS) == set(State)
    assert all(t in State for row in TRANSITIONS.values() for t in row.values())


def test_can_answers_from_the_table() -> None:
    from vio_sbc.callcontrol.callstate import CallState, Event

    st = CallState()
    assert st.can(Event.RING) and not st.can(Event.HOLD)
