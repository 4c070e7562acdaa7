"""Which INVITE headers reach the agent, and how they are cut and redacted."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.sipcontext import (
    MAX_TOTAL,
    MAX_VALUE,
    display_name,
    matches,
    outbound_headers,
    sip_context,
    uri_user,
)

HEADERS = {
    "via": "SIP/2.0/UDP 127.0.0.2:5060",
    "from": '"Alice" <sip:+14155559999@h>;tag=1',
    "x-customer-id": "cust-4711",
    "diversion": "<sip:+1415@pbx>;reason=busy",
    "history-info": "<sip:+1415@pbx>;index=1",
    "remote-party-id": "<sip:+1999@c>;party=calling",
    "authorization": 'Digest username="a", response="secret"',
}


@pytest.mark.parametrize(("patterns", "keys"), [
    ((), ["request_user", "caller_name"]),
    (("X-*",), ["request_user", "caller_name", "x-customer-id"]),
    (("x-CUSTOMER-id", "Diversion", "History-Info"),
     ["request_user", "caller_name", "x-customer-id", "diversion", "history-info"]),
    (("Remote-Party-ID",), ["request_user", "caller_name", "remote-party-id"]),
    (("*",), ["request_user", "caller_name", "via", "from", "x-customer-id", "diversion",
              "history-info", "remote-party-id"]),  # never the credentials
])
def test_which_headers_pass(patterns: tuple[str, ...], keys: list[str]) -> None:
    ctx = sip_context(HEADERS, "sip:+14155550100@127.0.0.1;user=phone", patterns)
    assert list(ctx.variables) == keys
    assert ctx.variables["request_user"] == "+14155550100"
    assert ctx.variables["caller_name"] == "Alice"


def test_values_are_cut_cleaned_and_bounded() -> None:
    many = {f"x-h{i}": "v" * 1000 for i in range(20)}
    many["x-ctl"] = "a\r\nb\x00c"
    ctx = sip_context(many, "sip:h", ("X-*",))
    assert "request_user" not in ctx.variables  # no user part: nothing
    assert all(len(v) <= MAX_VALUE for v in ctx.variables.values())
    assert sum(len(v) for v in ctx.variables.values()) <= MAX_TOTAL
    assert len(ctx.variables) == MAX_TOTAL // MAX_VALUE
    assert ctx.dropped == (*(f"x-h{i}" for i in range(MAX_TOTAL // MAX_VALUE, 20)), "x-ctl")
    small = sip_context({"x-ctl": "a\r\nb\x00c"}, "sip:h", ("X-*",))
    assert small.variables == {"x-ctl": "abc"}


def test_redacted_shows_names_and_lengths_only() -> None:
    ctx = sip_context({"x-customer-id": "cust-4711"}, "sip:+1415@h", ("X-*",))
    assert ctx.redacted() == {"request_user": "<5 chars>", "x-customer-id": "<9 chars>"}


@pytest.mark.parametrize(("value", "name"), [
    ('"Bob \\"B\\" Smith" <sip:b@h>;tag=1', 'Bob "B" Smith'),
    ("Bob <sip:b@h>", "Bob"),
    ("<sip:b@h>", ""),
    ("sip:b@h;tag=1", ""),
    ("", ""),
])
def test_display_name(value: str, name: str) -> None:
    assert display_name(value) == name


@pytest.mark.parametrize(("uri", "user"), [
    ("sip:+14155550100@h;user=phone", "+14155550100"),
    ("<sips:alice:pw@h>", "alice"),
    ("tel:+1415;phone-context=x", "+1415"),
    ("sip:%2B1415@h", "+1415"),
    ("sip:h", ""),
    ("nonsense", ""),
])
def test_uri_user(uri: str, user: str) -> None:
    assert uri_user(uri) == user


def test_credentials_never_match() -> None:
    assert not matches("Proxy-Authorization", ("*",))
    assert matches("X-A", ("x-*",))


def test_outbound_headers_from_x_variables() -> None:
    assert outbound_headers({"name": "Ada", "x-customer-id": "42", "X-CAMPAIGN": "spring",
                             "x-": "no name", "x-bad name": "no", "x-ctl": "a\r\nInjected: 1",
                             "x-empty": ""}) == [
        ("X-Customer-Id", "42"), ("X-Campaign", "spring"), ("X-Ctl", "aInjected: 1")]
    big = outbound_headers({f"x-h{i}": "v" * 1000 for i in range(20)})
    assert sum(len(v) for _, v in big) <= MAX_TOTAL and len(big) == MAX_TOTAL // MAX_VALUE
