"""`decide_inbound`: every refusal and its order, as table rows, without sockets."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.admission import Admission
from vio_sbc.callcontrol.inbound import (
    Accept,
    InboundState,
    Invite,
    Refuse,
    Refused,
    decide_inbound,
)
from vio_sbc.config import parse_config_text

CFG = parse_config_text("""
sip:
  max_calls: 2
  max_cps: 1
  admission: {rate: 1, burst: 1, max_failures: 2, failure_window_s: 60, block_s: 100}
agents:
  receptionist: {kind: scripted, greeting: hi}
  sales: {kind: echo}
trunks:
  pbx:
    kind: byoc
    inbound: {allow: [127.0.0.2]}
    ring_seconds: 2
  other:
    kind: byoc
    inbound: {allow: [127.0.0.3]}
numbers:
  "+14155550100": {trunk: pbx, agent: sales}
  "+14155550101": {trunk: pbx, ring_seconds: 0}
  "+14155550102": {trunk: pbx, direction: outbound}
  "+14155550199": {trunk: other}
  "+14155550103": {trunk: pbx, max_calls: 1}
  "+14155550104": {trunk: pbx, max_calls: 2, max_calls_status: 503}
""")
PBX, OTHER, STRANGER = "127.0.0.2", "127.0.0.3", "127.0.0.9"
URI = "sip:+14155550100@127.0.0.1"


def state(**kw: object) -> InboundState:
    s = CFG.sip
    return InboundState(CFG, Admission(s.admission, s.max_cps, 0.0), **kw)  # type: ignore[arg-type]


def refusal(status: int, kind: Refused, label: str | None, detail: str,
            retry: str | None = None, trunk: str | None = None) -> tuple[object, ...]:
    return (status, kind, label, detail, {"Retry-After": retry} if retry else {}, trunk)


def shape(answer: Accept | Refuse) -> tuple[object, ...]:
    assert isinstance(answer, Refuse), answer
    return (answer.status, answer.kind, answer.metric_label, answer.detail, dict(answer.headers),
            answer.trunk.name if answer.trunk else None)


# one INVITE into a fresh switch: (invite, state, answer)
REFUSALS = [
    (Invite(PBX, unparseable="no Via"), {},
     refusal(400, Refused.UNPARSEABLE, None, "no Via")),
    (Invite(PBX, request_uri=URI, malformed="Content-Length 10 > body 3"), {},
     refusal(400, Refused.MALFORMED, "malformed", "Content-Length 10 > body 3")),
    (Invite(PBX, request_uri=URI), {"draining": True},
     refusal(503, Refused.REFUSED, "draining", "draining: not accepting new calls", "30", "pbx")),
    (Invite(STRANGER, request_uri=URI), {"draining": True},  # capacity before routing
     refusal(503, Refused.REFUSED, "draining", "draining: not accepting new calls", "30")),
    (Invite(PBX, request_uri=URI), {"live_calls": 2},
     refusal(503, Refused.REFUSED, "max_calls", "sip.max_calls (2) reached", "30", "pbx")),
    (Invite(STRANGER, request_uri=URI), {},
     refusal(403, Refused.STRANGER, "stranger", "source 127.0.0.9 is in no trunk's inbound.allow")),
    (Invite(PBX, request_uri="sip:+14155559999@h"), {},
     refusal(404, Refused.REFUSED, "unknown_number", "no number '+14155559999' on trunk(s) pbx",
             trunk="pbx")),
    (Invite(PBX, request_uri="sip:h"), {},
     refusal(404, Refused.REFUSED, "unknown_number", "Request-URI has no user part: 'sip:h'",
             trunk="pbx")),
    (Invite(PBX, request_uri="mailto:x@y"), {},
     refusal(416, Refused.REFUSED, "bad_uri", "unsupported URI scheme 'mailto'", trunk="pbx")),
    (Invite(PBX, request_uri="h"), {},
     refusal(400, Refused.REFUSED, "bad_request", "Request-URI has no scheme: 'h'", trunk="pbx")),
    (Invite(PBX, request_uri="sip:+14155550102@h"), {},
     refusal(403, Refused.REFUSED, "forbidden", "number +14155550102 is outbound-only",
             trunk="pbx")),
    (Invite(PBX, request_uri="sip:+14155550199@h"), {},
     refusal(403, Refused.REFUSED, "forbidden",
             "number +14155550199 belongs to trunk 'other', not pbx", trunk="pbx")),
    (Invite("127.0.0.4", request_uri="sip:+14155550199@h"),  # pbx's registrar's address
     {"registrars": {"127.0.0.4": "pbx"}},
     refusal(403, Refused.REFUSED, "forbidden",
             "number +14155550199 belongs to trunk 'other', not pbx", trunk="pbx")),
    # a number at its own cap: 486 by default, 503 + Retry-After when configured
    (Invite(PBX, request_uri="sip:+14155550103@h"), {"number_calls": {"+14155550103": 1}.get},
     refusal(486, Refused.REFUSED, "number_max_calls", "number +14155550103 at max_calls (1)",
             trunk="pbx")),
    (Invite(PBX, request_uri="sip:+14155550104@h"), {"number_calls": lambda n: 2},
     refusal(503, Refused.REFUSED, "number_max_calls", "number +14155550104 at max_calls (2)",
             "5", "pbx")),
    # the switch's own cap comes first
    (Invite(PBX, request_uri="sip:+14155550103@h"),
     {"live_calls": 2, "number_calls": lambda n: 1},
     refusal(503, Refused.REFUSED, "max_calls", "sip.max_calls (2) reached", "30", "pbx")),
]


@pytest.mark.parametrize(("invite", "kw", "expected"), REFUSALS)
def test_refusals(invite: Invite, kw: dict[str, object], expected: tuple[object, ...]) -> None:
    assert shape(decide_inbound(invite, state(**kw), 1.0)) == expected


@pytest.mark.parametrize(("uri", "agent", "ring_s"), [
    (URI, "sales", 2.0),  # the trunk's ring_seconds
    ("sip:+14155550101@h", "receptionist", 0.0),  # the number's overrides it
])
def test_accept(uri: str, agent: str, ring_s: float) -> None:
    answer = decide_inbound(Invite(PBX, request_uri=uri), state(), 1.0)
    assert isinstance(answer, Accept)
    assert (answer.route.trunk.name, answer.route.agent.name, answer.ring_s) == ("pbx", agent,
                                                                                 ring_s)


@pytest.mark.parametrize(("number", "live", "accepted"), [
    ("+14155550103", 0, True),
    ("+14155550103", 1, False),
    ("+14155550104", 1, True),
    ("+14155550104", 2, False),
    ("+14155550100", 10**6, True),  # no max_calls: never asked
])
def test_number_cap(number: str, live: int, accepted: bool) -> None:
    asked: list[str] = []

    def calls(n: str) -> int:
        asked.append(n)
        return live

    answer = decide_inbound(Invite(PBX, request_uri=f"sip:{number}@h"),
                            state(number_calls=calls), 1.0)
    assert isinstance(answer, Accept) is accepted
    assert asked == ([] if number == "+14155550100" else [number])


def test_number_at_cap_spends_no_cps_token() -> None:
    st = state(number_calls=lambda n: 1, registrars={OTHER: "pbx"})
    full = decide_inbound(Invite(PBX, request_uri="sip:+14155550103@h"), st, 1.0)
    assert shape(full)[0] == 486
    # max_cps is 1/s: the next routed call in the same second still gets the token
    assert isinstance(decide_inbound(Invite(OTHER, request_uri=URI), st, 1.0), Accept)


def test_over_max_cps_after_routing_and_only_for_calls_that_route() -> None:
    st = state()
    # 1/s per source and globally: a second INVITE at once from another trunk address
    assert isinstance(decide_inbound(Invite(PBX, request_uri=URI), st, 1.0), Accept)
    st.registrars = {OTHER: "pbx"}
    unknown = decide_inbound(Invite(OTHER, request_uri="sip:+14155559999@h"), st, 1.0)
    assert shape(unknown)[0] == 404  # refused by routing: no cps token spent...
    st.admission = Admission(CFG.sip.admission, CFG.sip.max_cps, 1.0)
    assert isinstance(decide_inbound(Invite(PBX, request_uri=URI), st, 1.0), Accept)
    over = decide_inbound(Invite(OTHER, request_uri=URI), st, 1.0)  # ...a routed one is
    assert shape(over) == refusal(503, Refused.REFUSED, "over_cps", "sip.max_cps (1) exceeded",
                                  "1", "other")


def test_a_source_over_its_rate_is_shed_before_anything_else() -> None:
    st = state(draining=True)
    first = decide_inbound(Invite(PBX, request_uri=URI), st, 1.0)
    assert shape(first)[2] == "draining"  # admitted by rate, refused by draining
    trunk = decide_inbound(Invite(PBX, request_uri=URI), st, 1.0)
    assert shape(trunk) == refusal(503, Refused.SHED, "rate_limited", "rate_limited", "1")
    decide_inbound(Invite(STRANGER, request_uri=URI), st, 1.0)
    stranger = decide_inbound(Invite(STRANGER, request_uri=URI), st, 1.0)
    assert shape(stranger)[:3] == (403, Refused.SHED, "rate_limited")  # no hint: 403


def test_stranger_refusals_block_the_source() -> None:
    st = state()
    for t in (1.0, 3.0, 5.0):  # past max_failures (2), under the rate
        assert shape(decide_inbound(Invite(STRANGER, request_uri=URI), st, t))[1] \
            is Refused.STRANGER
    assert [b.source for b in st.admission.drain_started()] == [STRANGER]
    blocked = decide_inbound(Invite(STRANGER, request_uri=URI), st, 7.0)
    assert shape(blocked) == refusal(403, Refused.SHED, "blocked", "blocked")
