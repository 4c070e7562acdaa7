from __future__ import annotations

import pytest

from vio_sbc.callcontrol.routing import (
    StrangerRefusal,
    normalise_number,
    request_uri_user,
    route_inbound,
)
from vio_sbc.config import parse_config_text
from vio_sbc.config.model import NumberFormat
from vio_sbc.errors import SipRefusal

CFG = parse_config_text(
    """
workspace: {default_agent: receptionist}
agents:
  receptionist: {kind: scripted, greeting: hi}
  sales: {kind: echo}
trunks:
  pbx:
    kind: byoc
    inbound: {allow: [127.0.0.2/32, 10.1.0.0/16]}
    number_format: {country_code: "44", national_prefix: "0"}
  nanp:
    kind: byoc
    inbound: {allow: [127.0.0.3]}
    number_format: {country_code: "1", national_length: 10, international_prefix: "011"}
numbers:
  "+442071234567": {trunk: pbx, direction: both, agent: sales}
  "+442071234568": {trunk: pbx, direction: inbound}
  "+442071234569": {trunk: pbx, direction: outbound}
  "+14155550100": {trunk: nanp, direction: both}
"""
)


@pytest.mark.parametrize(
    ("uri", "user"),
    [
        ("sip:+14155550100@10.0.0.1;user=phone", "+14155550100"),
        ("sips:alice@example.com:5061", "alice"),
        ("<sip:%2B1415@h>", "+1415"),
        ("tel:+1-415-555-0100;phone-context=x", "+1-415-555-0100"),
        ("sip:bob:secret@h", "bob"),
    ],
)
def test_request_uri_user(uri: str, user: str) -> None:
    assert request_uri_user(uri) == user


def test_request_uri_errors_carry_status() -> None:
    with pytest.raises(SipRefusal) as e:
        request_uri_user("mailto:x@y")
    assert (e.value.status, e.value.reason) == (416, "Unsupported URI Scheme")
    with pytest.raises(SipRefusal) as e:
        request_uri_user("sip:example.com")
    assert e.value.status == 404
    assert str(e.value) == "404 Not Found: Request-URI has no user part: 'sip:example.com'"


NANP = NumberFormat(country_code="1", national_length=10, international_prefix="011")
UK = NumberFormat(country_code="44", national_prefix="0")


@pytest.mark.parametrize(
    ("user", "fmt", "e164"),
    [
        ("+14155550100", NANP, "+14155550100"),
        ("14155550100", NANP, "+14155550100"),
        ("4155550100", NANP, "+14155550100"),
        ("(415) 555-0100", NANP, "+14155550100"),
        ("01144207123456", NANP, "+44207123456"),
        ("02071234567", UK, "+442071234567"),
        ("00442071234567", UK, "+442071234567"),
        ("442071234567", UK, "+442071234567"),
        ("alice", UK, None),
        ("+0123456789", UK, None),
        ("123", NumberFormat(), None),
    ],
)
def test_normalise_number(user: str, fmt: NumberFormat, e164: str | None) -> None:
    assert normalise_number(user, fmt) == e164


def test_routes_to_assigned_agent() -> None:
    r = route_inbound(CFG, "127.0.0.2", "sip:02071234567@sbc")
    assert (r.trunk.name, r.number.number, r.agent.name, r.default_agent) == (
        "pbx", "+442071234567", "sales", False)


def test_unassigned_number_gets_default_agent() -> None:
    r = route_inbound(CFG, "10.1.2.3", "sip:+442071234568@sbc")
    assert (r.agent.name, r.default_agent) == ("receptionist", True)


def test_same_number_every_spelling() -> None:
    for uri in ("sip:+14155550100@h", "sip:14155550100@h", "sip:4155550100@h", "tel:+14155550100"):
        assert route_inbound(CFG, "127.0.0.3", uri).number.number == "+14155550100"


@pytest.mark.parametrize(
    ("src", "uri", "status", "detail", "stranger"),
    [
        ("127.0.0.9", "sip:+442071234567@h", 403,
         "source 127.0.0.9 is in no trunk's inbound.allow", True),
        ("not-an-ip", "sip:+442071234567@h", 403,
         "source not-an-ip is in no trunk's inbound.allow", True),
        ("127.0.0.2", "sip:+442079999999@h", 404, "no number '+442079999999' on trunk(s) pbx",
         False),
        ("127.0.0.2", "sip:+442071234569@h", 403, "number +442071234569 is outbound-only", False),
        ("127.0.0.3", "sip:+442071234567@h", 403,
         "number +442071234567 belongs to trunk 'pbx', not nanp", False),
    ],
)
def test_refusals(src: str, uri: str, status: int, detail: str, stranger: bool) -> None:
    with pytest.raises(SipRefusal) as e:
        route_inbound(CFG, src, uri)
    assert e.value.status == status
    assert e.value.detail == detail
    assert isinstance(e.value, StrangerRefusal) is stranger


def test_registrar_source_is_attributed_to_its_trunk() -> None:
    # 127.0.0.7 is in no inbound.allow: a stranger, unless a trunk registered there
    with pytest.raises(StrangerRefusal):
        route_inbound(CFG, "127.0.0.7", "sip:+14155550100@sbc")
    route = route_inbound(CFG, "127.0.0.7", "sip:4155550100@sbc", {"127.0.0.7": "nanp"})
    assert (route.trunk.name, route.number.number) == ("nanp", "+14155550100")
    with pytest.raises(SipRefusal) as info:  # a number of another trunk stays refused
        route_inbound(CFG, "127.0.0.7", "sip:+442071234567@sbc", {"127.0.0.7": "nanp"})
    assert info.value.status == 403


def test_registered_trunk_is_not_listed_twice_and_unknown_names_are_ignored() -> None:
    from vio_sbc.callcontrol.routing import trunks_for_source

    assert [t.name for t in trunks_for_source(CFG, "127.0.0.3", {"127.0.0.3": "nanp"})] == [
        "nanp"]
    assert [t.name for t in trunks_for_source(CFG, "127.0.0.2", {"127.0.0.2": "nanp"})] == [
        "pbx", "nanp"]
    assert trunks_for_source(CFG, "127.0.0.8", {"127.0.0.8": "removed"}) == []
