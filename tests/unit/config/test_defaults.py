"""Config loading: defaults, the example config and its trunks, typed values."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.unit.config.common import REPO, parse, write
from vio_sbc.config import AdmissionSettings, Direction, HostPort, HttpSettings, load_config

# --- defaults and the example -----------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n", "sip:\nrtp:\nlog:\n"])
def test_empty_config_uses_defaults_and_builtin_agent(text: str) -> None:
    config = parse(text)
    assert config.sip.listen == HostPort("127.0.0.1", 5060)
    assert config.sip.transports == ("udp", "tcp")
    assert config.sip.stranger_response == "reject"
    assert (config.rtp.port_min, config.rtp.port_max) == (20000, 20999)
    assert config.rtp.source_check == "latch"
    assert config.storage.dir == "var"
    assert config.workspace.default_agent == "receptionist"
    assert list(config.agents) == ["receptionist"]
    receptionist = config.agents["receptionist"]
    assert receptionist.kind == "scripted"
    assert receptionist.greeting == "Thanks for calling. How can I help?"
    assert config.trunks == {} and config.numbers == {}
    assert config.log.level == "info"
    assert config.source == "vio.yaml" and config.secrets == ()


def test_empty_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "vio.yaml", "")
    config = load_config(path, env={})
    assert config.source == str(path)
    assert "receptionist" in config.agents


def test_example_config_loads_with_no_trunk_that_is_not_there() -> None:
    """Rough edge 7: `make run` includes no example trunk pointing at a dead peer: the
    stock config loads without warnings and has only the loopback trunk."""
    config = load_config(REPO / "config" / "vio.yaml", env={})
    assert config.sip.listen == HostPort("127.0.0.1", 5060)
    assert config.storage.dir == "var"
    assert set(config.agents) == {"receptionist", "echo", "brief"}
    assert config.agents["echo"].kind == "echo"
    assert config.agents["brief"].max_turns == 1  # QA: the agent_hangup scenario
    assert set(config.trunks) == {"pbx"} and config.warnings == ()
    pbx = config.trunks["pbx"]
    assert pbx.kind == "byoc" and pbx.outbound is None and not pbx.register.enabled
    assert pbx.inbound.allow == (ipaddress.ip_network("127.0.0.2/32"),)


def test_example_trunks_load_when_copied_into_trunks(tmp_path: Path) -> None:
    import shutil

    shutil.copy(REPO / "config" / "vio.yaml", tmp_path / "vio.yaml")
    (tmp_path / "trunks").mkdir()
    for name in ("freepbx.yaml", "twilio.yaml"):
        shutil.copy(REPO / "config" / "examples" / name, tmp_path / "trunks" / name)
    config = load_config(tmp_path / "vio.yaml", env={"TWILIO_SIP_PASSWORD": "tw-pw"})
    assert set(config.trunks) == {"pbx", "freepbx", "twilio"}
    freepbx, twilio = config.trunks["freepbx"], config.trunks["twilio"]
    assert freepbx.inbound.allow == (ipaddress.ip_network("127.0.0.5/32"),)
    assert freepbx.number_format.international_prefix == "011"
    assert freepbx.outbound is not None and freepbx.outbound.host == "127.0.0.5"
    assert freepbx.outbound.password == "change-me"  # ${PBX_PASSWORD:-change-me}
    assert freepbx.register.enabled and freepbx.register.expires == 300
    assert config.numbers["+14155550199"].trunk == "freepbx"
    assert twilio.kind == "twilio" and twilio.inbound.allow_preset == "twilio"
    assert twilio.outbound is not None and twilio.outbound.password == "tw-pw"
    assert config.numbers["+14155550142"].trunk == "twilio"
    # the placeholder password is used, and `check` says so
    assert [str(w) for w in config.warnings] == [
        f"{freepbx.file}:23: trunks.freepbx.outbound.password: ${{PBX_PASSWORD}} is not set: "
        "using the default written in the config"]
    with_env = load_config(tmp_path / "vio.yaml",
                           env={"PBX_PASSWORD": "x9", "TWILIO_SIP_PASSWORD": "tw-pw"})
    assert with_env.warnings == () and "x9" in with_env.secrets


def test_example_numbers() -> None:
    config = load_config(REPO / "config" / "vio.yaml", env={})
    first, second = config.numbers["+14155550100"], config.numbers["+14155550101"]
    assert (first.trunk, first.direction, first.agent) == ("pbx", Direction.BOTH, "receptionist")
    assert (second.direction, second.agent) == (Direction.INBOUND, None)
    assert config.agent_for(second) == (config.agents["receptionist"], True)


@pytest.mark.parametrize("policy", ["latch", "strict", "off", "'off'"])
def test_rtp_source_check(policy: str) -> None:
    # unquoted `off` is YAML 1.1's false: still the policy name here
    assert parse(f"rtp:\n  source_check: {policy}\n").rtp.source_check == policy.strip("'")


@pytest.mark.parametrize(("value", "mode"), [("reject", "reject"), ("drop", "drop"),
                                           ("403", "reject"), ('"403"', "reject")])
def test_stranger_response_modes(value: str, mode: str) -> None:
    assert parse(f"sip:\n  stranger_response: {value}\n").sip.stranger_response == mode


def test_full_config_values() -> None:
    config = parse("""\
        sip:
          listen: "[::1]:5070"
          public_address: sbc.example.com
          transports: [tcp]
          max_calls: 5
          stranger_response: 403
        rtp: {ports: 30000-30009, clock_rate: 16000, codecs: [G722], inactivity_timeout_s: 2.5}
        agents:
          receptionist: {kind: scripted, greeting: null, temperature: 0.3, steps: [a, b]}
        trunks:
          pbx:
            kind: byoc
            inbound: {allow: [10.0.0.0/8, 192.0.2.7, "2001:db8::/32"]}
            number_format: {country_code: 44, national_prefix: 0, international_prefix: 00}
            ring_seconds: 2.5
            recording: false
            outbound: {host: sip.example.com, username: u, password: "${PW}",
                       transport: tcp, cps: 2.5}
            register: {enabled: true, expires: 60}
            rates: {}
        numbers:
          "+442071234567": {trunk: pbx, direction: outbound, ring_seconds: 1, recording: true}
        log: {level: debug, sip_trace: true, pjsip_level: 5}
        """, env={"PW": "pw"})
    assert config.sip.listen == HostPort("::1", 5070)
    assert str(config.sip.listen) == "[::1]:5070"
    assert config.sip.public_address == "sbc.example.com"
    assert config.sip.transports == ("tcp",)
    assert config.sip.stranger_response == "reject"
    assert (config.rtp.port_min, config.rtp.port_max, config.rtp.clock_rate) == (30000, 30009,
                                                                                   16000)
    assert config.rtp.codecs == ("G722",) and config.rtp.inactivity_timeout_s == 2.5
    agent = config.agents["receptionist"]
    assert agent.greeting is None
    assert agent.options == {"temperature": 0.3, "steps": ["a", "b"]}
    trunk = config.trunks["pbx"]
    assert trunk.inbound.allow == tuple(ipaddress.ip_network(n) for n in
                                        ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"))
    # unquoted digit strings are taken as written (not YAML's octal 011 / int 00)
    fmt = trunk.number_format
    assert (fmt.country_code, fmt.national_prefix, fmt.international_prefix) == ("44", "0", "00")
    assert (trunk.ring_seconds, trunk.recording, trunk.line) == (2.5, False, 11)
    out = trunk.outbound
    assert out is not None and (out.host, out.port, out.transport) == ("sip.example.com", 5060,
                                                                       "tcp")
    assert (out.username, out.password, out.cps, out.max_calls) == ("u", "pw", 2.5, 10)
    assert "pw" not in repr(out)  # the password never shows in a repr or log line
    assert out.target("+14155550100") == "sip:+14155550100@sip.example.com:5060;transport=tcp"
    assert (trunk.register.enabled, trunk.register.expires) == (True, 60)
    number = config.numbers["+442071234567"]
    assert (number.direction, number.ring_seconds, number.recording) == (Direction.OUTBOUND,
                                                                          1.0, True)
    assert (number.file, number.line) == ("vio.yaml", 22)
    assert (config.log.level, config.log.sip_trace, config.log.pjsip_level) == ("debug", True, 5)


def test_admission_values() -> None:
    config = parse("""\
        sip:
          max_cps: 2.5
          admission: {rate: 3, burst: 4, max_failures: 5, failure_window_s: 6, block_s: 7}
        """)
    assert config.sip.max_cps == 2.5
    assert config.sip.admission == AdmissionSettings(rate=3, burst=4, max_failures=5,
                                                     failure_window_s=6, block_s=7)
    assert parse("sip: {}\n").sip.admission == AdmissionSettings()


def test_http_is_off_unless_configured() -> None:
    assert parse("sip: {}\n").http is None
    assert parse("http: {listen: 127.0.0.1:9100}\n").http == HttpSettings(
        HostPort("127.0.0.1", 9100))
