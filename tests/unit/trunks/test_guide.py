"""Guided set-up text (vio_sbc/trunks/guide.py): the files load, secrets stay references."""

from __future__ import annotations

from vio_sbc.config import parse_config_text
from vio_sbc.trunks import guide

NUMS = guide.Numbers(("+14155550142",), "inbound", "echo")
AGENTS = "agents:\n  echo: {kind: echo}\n  receptionist: {kind: echo}\n"


def test_twilio_file_loads_with_its_numbers_and_the_password_from_the_environment() -> None:
    a = guide.TwilioAnswers("tw", "acme.pstn.twilio.com", "vio", "TW_PW", NUMS)
    text = guide.twilio_yaml(a)
    assert 'password: "${TW_PW}"' in text
    cfg = parse_config_text(AGENTS + text, env={"TW_PW": "s3cret-value"})
    t = cfg.trunks["tw"]
    assert t.kind == "twilio" and t.inbound.allow_preset == "twilio"
    assert t.outbound is not None and t.outbound.host == "acme.pstn.twilio.com"
    assert t.outbound.password == "s3cret-value"
    n = cfg.numbers["+14155550142"]
    assert (n.trunk, n.direction.value, n.agent) == ("tw", "inbound", "echo")
    steps = guide.twilio_steps(a, "203.0.113.5")
    assert "1. Origination: add the Origination SIP URI sip:203.0.113.5:5060" in steps
    assert any("Credential List with user 'vio'" in s for s in steps)


def test_pbx_file_loads_and_registers_when_asked() -> None:
    a = guide.PbxAnswers("office", "pbx.example.com", 5080, "tcp", "vio-trunk", "PBX_PW",
                         True, ("192.0.2.10/32",), NUMS)
    cfg = parse_config_text(AGENTS + guide.pbx_yaml(a), env={"PBX_PW": "pw-123456"})
    t = cfg.trunks["office"]
    assert t.outbound is not None and (t.outbound.host, t.outbound.port,
                                       t.outbound.transport) == ("pbx.example.com", 5080, "tcp")
    assert t.register.enabled and str(t.inbound.allow[0]) == "192.0.2.10/32"
    assert t.number_format.country_code == "1"
    steps = guide.pbx_steps(a, "203.0.113.5")
    assert any("Registration: Receive" in s for s in steps)
    assert any("TCP 5080" in s for s in steps)
