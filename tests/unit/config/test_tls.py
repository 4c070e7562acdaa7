"""`sip.tls` and the trunk TLS/SRTP settings: typed, checked once, FILE:LINE errors
(missing files, a key of another certificate, an expired certificate), the Twilio
Secure Trunking preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tlscerts import Cert, make_ca, make_cert
from vio_sbc.config import parse_config_text
from vio_sbc.errors import ConfigError


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cert]:
    d = tmp_path_factory.mktemp("certs")
    ca = make_ca(d)
    return {"ca": ca, "good": make_cert(d, "good", ca, dns=("localhost",)),
            "other": make_cert(d, "other", ca, dns=("localhost",)),
            "old": make_cert(d, "old", ca, dns=("localhost",), expired=True)}


def _sip(cert: Path | str, key: Path | str, extra: str = "") -> str:
    return f"""sip:
  transports: [udp, tcp, tls]
  tls:
    cert_file: {cert}
    key_file: {key}
{extra}"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config_text(text, "vio.yaml")
    return [f"{i.line}: {i.path}: {i.message}" for i in exc.value.issues]


def test_valid_tls_reads_the_certificate(certs: dict[str, Cert]) -> None:
    good = certs["good"]
    cfg = parse_config_text(_sip(good.cert, good.key, f"    ca_file: {certs['ca'].cert}\n"
                                 "    min_version: '1.3'\n"))
    tls = cfg.sip.tls
    assert cfg.sip.transports == ("udp", "tcp", "tls")
    assert (tls.port, tls.min_version, tls.verify_peer) == (5061, "1.3", True)
    assert tls.cert is not None and tls.cert.subject == "CN=localhost"
    assert tls.cert.issuer == "CN=vio test ca" and tls.cert.names == ("localhost",)


def test_missing_files(certs: dict[str, Cert], tmp_path: Path) -> None:
    errors = _errors(_sip(tmp_path / "nope.pem", certs["good"].key,
                          f"    ca_file: {tmp_path / 'ca.pem'}\n"))
    assert errors == [f"4: sip.tls.cert_file: file '{tmp_path / 'nope.pem'}' does not exist",
                      f"6: sip.tls.ca_file: file '{tmp_path / 'ca.pem'}' does not exist"]


def test_key_of_another_certificate(certs: dict[str, Cert]) -> None:
    errors = _errors(_sip(certs["good"].cert, certs["other"].key))
    assert len(errors) == 1
    assert errors[0].startswith("5: sip.tls.key_file: the key in ")
    assert "is not the key of the certificate in" in errors[0]


def test_expired_certificate(certs: dict[str, Cert]) -> None:
    errors = _errors(_sip(certs["old"].cert, certs["old"].key))
    assert len(errors) == 1
    assert errors[0].startswith("4: sip.tls.cert_file: the certificate CN=localhost expired on ")


def test_not_a_certificate_and_not_a_ca(certs: dict[str, Cert], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    errors = _errors(_sip(junk, certs["good"].key))
    assert len(errors) == 1 and errors[0].startswith("4: sip.tls.cert_file: ")
    assert "not a PEM certificate" in errors[0]
    errors = _errors(_sip(certs["good"].cert, certs["good"].key, f"    ca_file: {junk}\n"))
    assert errors == [f"6: sip.tls.ca_file: '{junk}' is not a PEM CA bundle"
                      f"{errors[0].split('CA bundle', 1)[1]}"]


def test_tls_transport_needs_a_certificate() -> None:
    errors = _errors("sip:\n  transports: [udp, tls]\n")
    assert errors == ["2: sip.transports: the tls transport needs sip.tls.cert_file and "
                      "sip.tls.key_file (the server certificate and its key)"]
    errors = _errors("sip:\n  tls: {cert_file: a.pem}\n")
    assert errors == ["2: sip.tls: a certificate needs both cert_file and key_file "
                      "(key_file is missing)"]


TRUNK = """trunks:
  pbx:
    kind: {kind}
    inbound: {{allow: [127.0.0.2]}}
{body}"""


def _trunk(certs: dict[str, Cert], kind: str, body: str, tls: bool = True) -> str:
    head = _sip(certs["good"].cert, certs["good"].key) if tls else ""
    return head + TRUNK.format(kind=kind, body=body)


def test_trunk_tls_and_srtp(certs: dict[str, Cert]) -> None:
    cfg = parse_config_text(_trunk(certs, "byoc", """    outbound:
      {host: pbx.example.com, transport: tls, sips: true}
    media: {srtp: optional}
"""))
    out = cfg.trunks["pbx"].outbound
    assert out is not None and (out.port, out.verify_server) == (5061, True)
    assert out.target("+14155550100") == "sips:+14155550100@pbx.example.com:5061;transport=tls"
    assert out.uri == "sips:pbx.example.com:5061;transport=tls"  # OPTIONS, default registrar
    assert cfg.trunks["pbx"].media.srtp == "optional"
    plain = parse_config_text(_trunk(certs, "byoc", "    media: {srtp: off}\n", tls=False))
    assert plain.trunks["pbx"].media.srtp == "off"


def test_trunk_tls_needs_the_tls_transport(certs: dict[str, Cert]) -> None:
    errors = _errors(_trunk(certs, "byoc", "    outbound: {host: pbx.example.com, "
                            "transport: tls}\n", tls=False))
    assert errors == ["2: trunks.pbx.outbound.transport: transport tls needs tls in "
                      "sip.transports (and sip.tls: the certificate, the CA bundle that "
                      "checks the trunk's)"]


def test_srtp_over_udp_warns(certs: dict[str, Cert]) -> None:
    cfg = parse_config_text(_trunk(certs, "byoc", """    outbound: {host: 127.0.0.2}
    media: {srtp: mandatory}
""", tls=False))
    assert [w.path for w in cfg.warnings] == ["trunks.pbx.media.srtp"]
    assert "over udp anyone on the path can read them" in cfg.warnings[0].message


def test_twilio_secure_preset(certs: dict[str, Cert]) -> None:
    cfg = parse_config_text(_trunk(certs, "twilio", """    secure: true
    outbound: {host: vio.pstn.twilio.com}
"""))
    trunk = cfg.trunks["pbx"]
    assert trunk.outbound is not None and trunk.secure
    assert (trunk.outbound.transport, trunk.outbound.port) == ("tls", 5061)
    assert trunk.outbound.target("+1415") == "sip:+1415@vio.pstn.twilio.com:5061;transport=tls"
    assert trunk.media.srtp == "mandatory"


def test_twilio_secure_preset_refuses_weaker_settings(certs: dict[str, Cert]) -> None:
    errors = _errors(_trunk(certs, "twilio", """    secure: true
    outbound: {host: vio.pstn.twilio.com, transport: udp}
    media: {srtp: optional}
"""))
    assert [e.split(":")[0] for e in errors] == ["11", "12"]
    assert "transport must be tls" in errors[0] and "srtp must be mandatory" in errors[1]
    errors = _errors(_trunk(certs, "byoc", "    secure: true\n"))
    assert errors[0].startswith("10: trunks.pbx.secure: secure: true is the twilio kind's")
