from __future__ import annotations

import pytest

from vio_sbc.sip.message import (
    SipParseError,
    addr_uri,
    datagram_length_problem,
    parse_request,
    source_ip,
)

INVITE = (
    "INVITE sip:+14155550100@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.2:5061;branch=z9hG4bK-1\r\n"
    "f: \"QA\" <sip:+14155559999@127.0.0.2>;tag=1\r\n"
    "To: <sip:+14155550100@127.0.0.1>\r\n"
    "Call-ID: abc@127.0.0.2\r\n"
    "Subject: a\r\n  folded\r\n"
    "Content-Length: 0\r\n\r\nv=0\r\n"
)


def test_parse_invite() -> None:
    r = parse_request(INVITE)
    assert r.method == "INVITE"
    assert r.uri == "sip:+14155550100@127.0.0.1:5060"
    assert r.transport == "tcp"
    assert r.call_id == "abc@127.0.0.2"
    assert r.header("FROM") == '"QA" <sip:+14155559999@127.0.0.2>;tag=1'
    assert r.header("subject") == "a folded"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "SIP request is empty"),
        ("INVITE sip:x@y\r\n\r\n", "SIP request line is malformed: 'INVITE sip:x@y'"),
        ("INVITE sip:x@y SIP/2.0\r\nbroken header\r\n\r\n",
         "SIP header line has no colon: 'broken header'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SipParseError) as e:
        parse_request(text)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("value", "uri"),
    [
        ('"QA" <sip:+1415@h>;tag=1', "sip:+1415@h"),
        ("sip:bob@h;tag=2", "sip:bob@h"),
        ("<tel:+1415>", "tel:+1415"),
    ],
)
def test_addr_uri(value: str, uri: str) -> None:
    assert addr_uri(value) == uri


def test_source_ip() -> None:
    assert source_ip("127.0.0.2:5060") == "127.0.0.2"
    assert source_ip("[::1]:5060") == "::1"


@pytest.mark.parametrize(("text", "problem"), [
    ("INVITE x SIP/2.0\r\nContent-Length: 4\r\n\r\nv=0\n", None),
    ("INVITE x SIP/2.0\r\nl: 0\r\n\r\n", None),
    ("INVITE x SIP/2.0\r\n\r\nbody", None),  # absent: the datagram's end is the end
    ("INVITE x SIP/2.0\nContent-Length: 2\n\nab", None),
    ("INVITE x SIP/2.0\r\nContent-Length: 9\r\n\r\nv=0\n",
     "Content-Length 9 does not match the 4-byte body"),
    ("INVITE x SIP/2.0\r\nContent-Length: 1\r\n\r\nv=0\n",
     "Content-Length 1 does not match the 4-byte body"),
    ("INVITE x SIP/2.0\r\nContent-Length: 2\r\n\r\n\u00e9",
     None),  # bytes, not characters
    ("INVITE x SIP/2.0\r\nContent-Length: -3\r\n\r\n",
     "Content-Length is not a number: '-3'"),
])
def test_datagram_length_problem(text: str, problem: str | None) -> None:
    assert datagram_length_problem(text, parse_request(text).headers) == problem
