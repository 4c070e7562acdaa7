"""The telephone-event answer rule: the answer lists the intersection of the offer's
events and ours (RFC 4733 §7.1.1), nothing else in the SDP changes."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.sdp import answer_telephone_events, format_events, parse_events

# What pjsua writes as its local SDP when answering (pjmedia 2.17: `0-16`).
LOCAL = (
    "v=0\r\no=- 3911 3912 IN IP4 127.0.0.1\r\ns=pjmedia\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20000 RTP/AVP 0 8 9 120\r\na=rtcp:20001 IN IP4 127.0.0.1\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
    "a=sendrecv\r\na=rtpmap:120 telephone-event/8000\r\na=fmtp:120 0-16\r\n"
)


def offer(fmtp: str | None, rate: int = 8000, pt: int = 101) -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
            f"m=audio 6000 RTP/AVP 0 {pt}\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{pt} telephone-event/{rate}\r\n"
            + (f"a=fmtp:{pt} {fmtp}\r\n" if fmtp is not None else "") + "a=sendrecv\r\n")


@pytest.mark.parametrize(("text", "events"), [
    ("0-15", set(range(16))),
    ("0-16", set(range(17))),
    ("0-11,16", set(range(12)) | {16}),
    (" 0-3 , 7 ", {0, 1, 2, 3, 7}),
    ("5-2,x,300,1-", set()),
    ("0-15,250-300", set(range(16))),
    ("", set()),
])
def test_parse_events(text: str, events: set[int]) -> None:
    assert parse_events(text) == events


def test_format_events_collapses_runs() -> None:
    assert format_events(range(16)) == "0-15"
    assert format_events({16, 0, 1, 2, 5, 32, 33}) == "0-2,5,16,32-33"
    assert format_events([7]) == "7"


def test_answer_to_0_15_is_0_15() -> None:
    out = answer_telephone_events(LOCAL, offer("0-15"))
    assert "a=fmtp:120 0-15\r\n" in out
    assert out == LOCAL.replace("a=fmtp:120 0-16", "a=fmtp:120 0-15")


def test_answer_to_an_offer_without_fmtp_is_the_default_0_15() -> None:
    assert "a=fmtp:120 0-15\r\n" in answer_telephone_events(LOCAL, offer(None))


def test_answer_keeps_only_common_events() -> None:
    assert "a=fmtp:120 0-11,16\r\n" in answer_telephone_events(LOCAL, offer("0-11,16,32-40"))


def test_a_wider_offer_leaves_our_list() -> None:
    assert answer_telephone_events(LOCAL, offer("0-255")) is LOCAL


def test_no_common_event_removes_the_format() -> None:
    out = answer_telephone_events(LOCAL, offer("32-40"))
    assert "m=audio 20000 RTP/AVP 0 8 9\r\n" in out
    assert "120" not in out.split("m=audio", 1)[1].replace("20000", "")


def test_other_clock_rate_or_no_telephone_event_left_alone() -> None:
    assert answer_telephone_events(LOCAL, offer("0-3", rate=16000)) is LOCAL
    plain = offer("0-3").replace("telephone-event", "PCMA")
    assert answer_telephone_events(LOCAL, plain) is LOCAL


def test_local_without_fmtp_gets_one() -> None:
    local = LOCAL.replace("a=fmtp:120 0-16\r\n", "")
    out = answer_telephone_events(local, offer("0-11"))
    assert "a=rtpmap:120 telephone-event/8000\r\na=fmtp:120 0-11\r\n" in out


def test_sections_matched_by_position_and_kind() -> None:
    video = "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    local = LOCAL + video
    two = offer("0-9") + video
    out = answer_telephone_events(local, two)
    assert "a=fmtp:120 0-9\r\n" in out and out.endswith(video)
    # the offer's audio is second: found by kind
    swapped = ("v=0\r\ns=-\r\nt=0 0\r\n" + video + two.split("t=0 0\r\n", 1)[1].split(video)[0])
    assert "a=fmtp:120 0-9\r\n" in answer_telephone_events(LOCAL, swapped)


def test_lf_only_text_keeps_its_line_ends() -> None:
    local = LOCAL.replace("\r\n", "\n")
    out = answer_telephone_events(local, offer("0-15"))
    assert "\r" not in out and "a=fmtp:120 0-15\n" in out
