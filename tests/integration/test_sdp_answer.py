"""Our SDP answer to real offers: telephone-event lists the events both sides have
(RFC 4733 §7.1.1; pjmedia alone answered its own `0-16` to anything). A raw-socket
caller makes the offers SIPp's fixed scenarios cannot vary; `uac_dtmf.xml` (SIPp)
checks the `0-15` case and that the digit still arrives."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import Server, run_sipp, sip_call_id
from tests.integration.dialog_peer import RawCall

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def answered_events(server: Server, offer_lines: str) -> list[str]:
    call = RawCall(server.port, offer_lines=offer_lines)
    try:
        answer = call.start()
        body = answer.text.split("\r\n\r\n", 1)[1]
        pts = [m.group(1) for m in re.finditer(r"a=rtpmap:(\d+) telephone-event/8000", body)]
        fmtp = [m.group(1) for pt in pts
                for m in [re.search(rf"a=fmtp:{pt} ([^\r\n]*)", body)] if m]
        assert [r.status for r in call.bye()][-1] == 200
        return fmtp if fmtp or not pts else ["(none)"]
    finally:
        call.close()


@pytest.mark.parametrize(("offer", "answer"), [
    ("a=fmtp:101 0-15\r\n", ["0-15"]),   # the case: we said 0-16
    ("", ["0-15"]),                      # no fmtp: RFC 4733's default 0-15
    ("a=fmtp:101 0-11,16\r\n", ["0-11,16"]),
    ("a=fmtp:101 0-255\r\n", ["0-16"]),  # a wider offer: ours
    ("a=fmtp:101 32-40\r\n", []),        # nothing in common: no telephone-event at all
])
def test_telephone_event_answer_is_the_intersection(server: Server, offer: str,
                                                     answer: list[str]) -> None:
    assert answered_events(server, offer) == answer


def test_sipp_dtmf_call_gets_0_15_and_its_digit_arrives(server: Server) -> None:
    r = run_sipp(server.addr, "uac_dtmf.xml")
    assert r.rc == 0, r.output + r.errors
    row = server.call_row(sip_call_id(server, r.call_id))
    assert [e["data"] for e in server.events(row["id"]) if e["kind"] == "dtmf"] == ["1"]
