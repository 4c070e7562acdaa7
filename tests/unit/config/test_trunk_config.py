"""Trunk settings: the Twilio preset and its host warning, BYOC registration defaults,
national numbers suggested in E.164."""

from __future__ import annotations

import ipaddress

import pytest

from tests.unit.config.common import errors, parse
from vio_sbc.config.trunks import twilio_networks


@pytest.mark.parametrize(("host", "warned"), [
    ("vio-test.pstn.twilio.com", False), ("127.0.0.1", True), ("sip.twilio.com", True),
])
def test_twilio_termination_host_warning(host: str, warned: bool) -> None:
    config = parse(f"""\
        trunks:
          tw:
            kind: twilio
            inbound: {{allow: twilio}}
            outbound:
              host: {host}
        """)
    expected = [f"vio.yaml:6: trunks.tw.outbound.host: {host!r} is not a Twilio termination "
                "host (<name>.pstn.twilio.com); fine for a test peer"]
    assert [str(w) for w in config.warnings] == (expected if warned else [])


def test_byoc_trunk_with_registration_defaults() -> None:
    trunk = parse("""\
        trunks:
          freepbx:
            kind: byoc
            inbound: {allow: [192.0.2.10/32]}
            outbound: {host: pbx.example.com, port: 5060, username: vio-trunk, password: "${PW}"}
            register: {enabled: true, expires: 300}
        """, env={"PW": "pw"}).trunks["freepbx"]
    assert trunk.register.enabled and trunk.register.registrar is None
    assert trunk.register.contact_user is None and trunk.register.aor is None
    assert (trunk.register.retry_min_s, trunk.register.retry_max_s) == (2.0, 300.0)


# --- twilio preset ---------------------------------------------------------------------


def test_twilio_preset() -> None:
    config = parse("""\
        trunks:
          tw:
            kind: twilio
            inbound: {allow: [twilio, 192.0.2.1]}
          custom:
            kind: twilio
            inbound: {allow: [54.172.60.0/30]}
        """)
    tw = config.trunks["tw"].inbound
    assert tw.allow_preset == "twilio"
    assert tw.allow == (*twilio_networks(), ipaddress.ip_network("192.0.2.1/32"))
    custom = config.trunks["custom"].inbound
    assert (custom.allow_preset, custom.allow) == (None, (ipaddress.ip_network("54.172.60.0/30"),))


def test_twilio_ranges_data() -> None:
    networks = twilio_networks()
    assert ipaddress.ip_network("54.172.60.0/30") in networks
    assert ipaddress.ip_network("177.71.206.192/30") in networks
    assert len(set(networks)) == len(networks) >= 8


@pytest.mark.parametrize(("key", "expected"), [
    ("4155550100", 'vio.yaml:5: numbers.4155550100: number 4155550100 must be quoted (YAML '
                   'reads it as an integer): write "+14155550100"'),
    ('"4155550100"', "vio.yaml:5: numbers.4155550100: '4155550100' is not an E.164 number "
                     "(+ then 8-15 digits, no leading 0); with trunk pbx's number_format "
                     'that is "+14155550100"'),
    ('"(415) 555-0100"', "vio.yaml:5: numbers.(415) 555-0100: '(415) 555-0100' is not an "
                         "E.164 number (+ then 8-15 digits, no leading 0); with trunk pbx's "
                         'number_format that is "+14155550100"'),
])
def test_national_number_keys_get_their_e164_form(key: str, expected: str) -> None:
    """Rough edge 8: a national number suggested in E.164 from the trunk's number_format
    (the trunk may come later in the file, or from an included one)."""
    text = ('trunks:\n  pbx: {kind: byoc, number_format: {country_code: "1", '
            'national_length: 10}}\nnumbers:\n  "+14155550101": {trunk: pbx}\n'
            f"  {key}: {{trunk: pbx}}\n")
    assert errors(text) == [expected]
