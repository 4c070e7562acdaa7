"""Config loading: defaults, the example config, includes, ${ENV}, presets, and the
exact text of every error (FILE:LINE: key.path: message)."""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

from vio_sbc.config import (
    AdmissionSettings,
    Config,
    Direction,
    HostPort,
    HttpSettings,
    load_config,
    parse_config_text,
)
from vio_sbc.config.model import ScriptedOptions, WebSocketOptions
from vio_sbc.config.trunks import twilio_networks
from vio_sbc.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]


def parse(text: str, env: dict[str, str] | None = None) -> Config:
    return parse_config_text(textwrap.dedent(text), "vio.yaml", env={} if env is None else env)


def errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    return [str(issue) for issue in info.value.issues]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


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


# --- pinned error messages --------------------------------------------------------------

PINNED = [
    ("foo: 1\n",
     "vio.yaml:1: foo: unknown key 'foo' (expected one of: agents, cluster, dialer, http, "
     "include, log, media, numbers, rtp, sip, storage, summary, trunks, workspace)"),
    ("http: {}\n", "vio.yaml:1: http: missing required key 'listen'"),
    ("http:\n  listen: 8089\n",
     "vio.yaml:2: http.listen: expected host:port or [ipv6]:port, got integer 8089"),
    ("dialer:\n  enabled: 1\n",
     "vio.yaml:2: dialer.enabled: expected true or false, got integer 1"),
    ("dialer:\n  lease_s: 0\n",
     "vio.yaml:2: dialer.lease_s: must be between 1 and 3600, got 0"),
    ("dialer:\n  cps: 1\n", "vio.yaml:2: dialer.cps: unknown key 'cps' (expected one of: "
     "clock_offset_s, enabled, lease_s, poll_s, refused_retry_s, ring_timeout_s)"),
    ("sip:\n  max_calls: abc\n",
     "vio.yaml:2: sip.max_calls: expected an integer, got string 'abc'"),
    ("sip:\n  max_calls: 0\n", "vio.yaml:2: sip.max_calls: must be at least 1, got 0"),
    ("sip:\n  listen: 127.0.0.1\n",
     "vio.yaml:2: sip.listen: expected host:port or [ipv6]:port, got string '127.0.0.1'"),
    ("sip:\n  listen: 127.0.0.1:0\n",
     "vio.yaml:2: sip.listen: port must be between 1 and 65535, got 0"),
    ("sip:\n  listen: localhost:5060\n",
     "vio.yaml:2: sip.listen: host 'localhost' is not an IP address (listen needs an IP literal)"),
    ("sip:\n  public_address: bad host\n",
     "vio.yaml:2: sip.public_address: 'bad host' is not an IP address or hostname"),
    ("sip:\n  transports: [udp, sctp]\n",
     "vio.yaml:2: sip.transports[1]: invalid value 'sctp' (expected one of: udp, tcp, tls)"),
    ("sip:\n  transports: []\n", "vio.yaml:2: sip.transports: must not be empty"),
    ("sip:\n  transports: udp\n", "vio.yaml:2: sip.transports: expected a list, got string 'udp'"),
    ("sip:\n  stranger_response: 404\n",
     "vio.yaml:2: sip.stranger_response: invalid value 404 (expected one of: reject, drop)"),
    ("sip:\n  stranger_response: silent\n",
     "vio.yaml:2: sip.stranger_response: invalid value 'silent' (expected one of: reject, drop)"),
    ("sip:\n  max_cps: -1\n", "vio.yaml:2: sip.max_cps: must be at least 0, got -1"),
    ("sip:\n  admission: {rate: 0}\n",
     "vio.yaml:2: sip.admission.rate: must be greater than 0, got 0"),
    ("sip:\n  admission: {burst: 0}\n",
     "vio.yaml:2: sip.admission.burst: must be at least 1, got 0"),
    ("sip:\n  admission: {ban: 1}\n",
     "vio.yaml:2: sip.admission.ban: unknown key 'ban' (expected one of: block_s, burst, "
     "failure_window_s, max_failures, rate)"),
    ("rtp:\n  ports: 20001-20999\n",
     "vio.yaml:2: rtp.ports: MIN must be even (RTP uses even ports), got 20001"),
    ("rtp:\n  ports: 1000-2000\n",
     "vio.yaml:2: rtp.ports: must satisfy 1024 <= MIN < MAX <= 65535, got 1000-2000"),
    ("rtp:\n  ports: 20000-x\n",
     "vio.yaml:2: rtp.ports: expected MIN-MAX (e.g. 20000-20999), got string '20000-x'"),
    ("rtp:\n  ports: 20000\n",
     "vio.yaml:2: rtp.ports: expected MIN-MAX (e.g. 20000-20999), got integer 20000"),
    ("rtp:\n  clock_rate: 44100\n",
     "vio.yaml:2: rtp.clock_rate: invalid value 44100 (expected one of: 8000, 16000)"),
    ("rtp:\n  codecs: [PCMU, opus]\n",
     "vio.yaml:2: rtp.codecs[1]: invalid value 'opus' (expected one of: PCMU, PCMA, G722)"),
    ("rtp:\n  codecs: [PCMU, PCMU]\n", "vio.yaml:2: rtp.codecs[1]: duplicate value 'PCMU'"),
    ("rtp:\n  inactivity_timeout_s: 0\n",
     "vio.yaml:2: rtp.inactivity_timeout_s: must be greater than 0, got 0"),
    ("rtp:\n  source_check: symmetric\n",
     "vio.yaml:2: rtp.source_check: invalid value 'symmetric' "
     "(expected one of: latch, strict, off)"),
    ("rtp:\n  source_check: false\n",
     "vio.yaml:2: rtp.source_check: invalid value false (expected one of: latch, strict, off)"),
    ("rtp:\n  source_check: true\n",
     "vio.yaml:2: rtp.source_check: invalid value true (expected one of: latch, strict, off)"),
    ("storage:\n  recordings: maybe\n",
     "vio.yaml:2: storage.recordings: expected true or false, got string 'maybe'"),
    ("storage:\n  dir: ''\n", "vio.yaml:2: storage.dir: must not be empty"),
    ("storage:\n  database: 'postgresql://vio:hunter2@db:5432/vio'\n",
     "vio.yaml:2: storage.database: the URL must not hold a password: give it as "
     "storage.password: ${NAME} or storage.password_file: PATH"),
    ("storage:\n  database: 'mysql://vio@db/vio'\n",
     "vio.yaml:2: storage.database: expected a postgresql:// URL (leave storage.database out "
     "for the SQLite files in storage.dir)"),
    ("storage:\n  database: 'postgresql://vio@db'\n",
     "vio.yaml:2: storage.database: expected postgresql://USER@HOST:PORT/DBNAME (host and "
     "database name)"),
    ("cluster:\n  workers: 0\n", "vio.yaml:2: cluster.workers: must be between 1 and 64, got 0"),
    ("log:\n  level: loud\n",
     "vio.yaml:2: log.level: invalid value 'loud' (expected one of: debug, info, warning, error)"),
    ("log:\n  pjsip_level: 7\n", "vio.yaml:2: log.pjsip_level: must be between 0 and 6, got 7"),
    ("sip: [1]\n", "vio.yaml:1: sip: expected a mapping, got a list"),
    ("- 1\n", "vio.yaml:1: expected a mapping, got a list"),
    ("workspace:\n  default_agent: x\n",
     "vio.yaml:2: workspace.default_agent: unknown agent 'x' (defined: receptionist)"),
    ("agents:\n  bot: {kind: echo}\n",
     "vio.yaml:1: workspace.default_agent: unknown agent 'receptionist' (defined: bot)"),
    ("agents:\n  receptionist: {greeting: hi}\n",
     "vio.yaml:2: agents.receptionist: missing required key 'kind'"),
    ("agents:\n  receptionist: {kind: robot}\n",
     "vio.yaml:2: agents.receptionist.kind: invalid value 'robot' (expected one of: scripted, "
     "echo, tone, websocket)"),
    ("agents:\n  receptionist: {kind: websocket}\n",
     "vio.yaml:2: agents.receptionist: missing required key 'url' for a websocket agent"),
    ("agents:\n  receptionist: {kind: websocket, url: 'http://x/y'}\n",
     "vio.yaml:2: agents.receptionist.url: expected a ws:// or wss:// URL, got 'http://x/y'"),
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', connect_timeout_s: 0}\n",
     "vio.yaml:2: agents.receptionist.connect_timeout_s: must be between 0.1 and 60, got 0"),
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', parameters: {a: [1]}}\n",
     "vio.yaml:2: agents.receptionist.parameters.a: expected a string, got a list"),
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', parameters: 3}\n",
     "vio.yaml:2: agents.receptionist.parameters: expected a mapping, got integer 3"),
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', fallback: ''}\n",
     "vio.yaml:2: agents.receptionist.fallback: must not be empty"),
    ("agents:\n  receptionist: {kind: scripted, transfer_digit: 12}\n",
     "vio.yaml:2: agents.receptionist.transfer_digit: expected one DTMF digit (0-9, *, #, A-D), "
     "got integer 12"),
    ("agents:\n  receptionist: {kind: scripted, transfer_to: bob}\n",
     "vio.yaml:2: agents.receptionist.transfer_to: transfer target 'bob' is neither a sip:/sips: "
     "URI nor a number (+, digits, *, #)"),
    ("agents:\n  receptionist: {kind: echo, greeting: 5}\n",
     "vio.yaml:2: agents.receptionist.greeting: expected a string, got integer 5"),
    ("agents:\n  receptionist: {kind: echo, voice: [a]}\n",
     "vio.yaml:2: agents.receptionist.voice: expected a string, got a list"),
    ("trunks:\n  pbx:\n    recording: true\n",
     "vio.yaml:2: trunks.pbx: missing required key 'kind'"),
    ("trunks:\n  pbx: {kind: sip}\n",
     "vio.yaml:2: trunks.pbx.kind: invalid value 'sip' (expected one of: byoc, twilio)"),
    ("trunks:\n  pbx:\n    kind: byoc\n    inbound:\n      allow: [127.0.0.2/32, 10.0.0.300/32]\n",
     "vio.yaml:5: trunks.pbx.inbound.allow[1]: invalid network '10.0.0.300/32': not an IPv4 or "
     "IPv6 address"),
    ("trunks:\n  pbx: {kind: byoc, inbound: {allow: [10.0.0.1/24]}}\n",
     "vio.yaml:2: trunks.pbx.inbound.allow[0]: invalid network '10.0.0.1/24': host bits set (did "
     "you mean 10.0.0.0/24?)"),
    ("trunks:\n  pbx: {kind: byoc, inbound: {allow: [10.0.0.0/33]}}\n",
     "vio.yaml:2: trunks.pbx.inbound.allow[0]: invalid network '10.0.0.0/33': prefix length must "
     "be 0-32"),
    ("trunks:\n  pbx: {kind: byoc, inbound: {allow: [twilio]}}\n",
     "vio.yaml:2: trunks.pbx.inbound.allow[0]: the 'twilio' preset is only allowed on a trunk of "
     "kind twilio"),
    ("trunks:\n  pbx: {kind: byoc, inbound: {deny: []}}\n",
     "vio.yaml:2: trunks.pbx.inbound.deny: unknown key 'deny' (expected one of: allow)"),
    ("trunks:\n  pbx: {kind: byoc, ring_seconds: 61}\n",
     "vio.yaml:2: trunks.pbx.ring_seconds: must be between 0 and 60, got 61"),
    ("trunks:\n  pbx: {kind: byoc, number_format: {national_length: 3}}\n",
     "vio.yaml:2: trunks.pbx.number_format.national_length: must be between 4 and 15, got 3"),
    ("trunks:\n  pbx: {kind: byoc, number_format: {national_prefix: '0a'}}\n",
     "vio.yaml:2: trunks.pbx.number_format.national_prefix: expected a string of digits, got "
     "string '0a'"),
    ("trunks:\n  pbx: {kind: byoc, number_format: {country_code: '1234'}}\n",
     "vio.yaml:2: trunks.pbx.number_format.country_code: must be at most 3 digits, got '1234'"),
    ("trunks:\n  pbx: {kind: byoc, register: [x]}\n",
     "vio.yaml:2: trunks.pbx.register: expected a mapping, got a list"),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+1415": {trunk: pbx}\n',
     "vio.yaml:4: numbers.+1415: '+1415' is not an E.164 number (+ then 8-15 digits, no "
     "leading 0)"),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+04155550100": {trunk: pbx}\n',
     "vio.yaml:4: numbers.+04155550100: '+04155550100' is not an E.164 number (+ then 8-15 digits,"
     " no leading 0)"),
    ("trunks:\n  pbx: {kind: byoc}\nnumbers:\n  +14155550100: {trunk: pbx}\n",
     'vio.yaml:4: numbers.+14155550100: number +14155550100 must be quoted (YAML reads it as an '
     'integer): write "+14155550100"'),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+14155550100": {trunk: nope}\n',
     "vio.yaml:4: numbers.+14155550100.trunk: unknown trunk 'nope' (defined: pbx)"),
    ('numbers:\n  "+14155550100":\n    trunk: nope\n',
     "vio.yaml:3: numbers.+14155550100.trunk: unknown trunk 'nope' (defined: none)"),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+14155550100": {trunk: pbx, agent: ghost}\n',
     "vio.yaml:4: numbers.+14155550100.agent: unknown agent 'ghost' (defined: receptionist)"),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+14155550100": {trunk: pbx, direction: up}\n',
     "vio.yaml:4: numbers.+14155550100.direction: invalid value 'up' (expected one of: inbound, "
     "outbound, both)"),
    ('numbers:\n  "+14155550100": {direction: both}\n',
     "vio.yaml:2: numbers.+14155550100: missing required key 'trunk'"),
    ('numbers:\n  "+14155550100":\n',
     "vio.yaml:2: numbers.+14155550100: expected a mapping, got null"),
    ("sip:\n  max_calls: 1\n  max_calls: 2\n",
     "vio.yaml:3: sip.max_calls: duplicate key 'max_calls' (first at line 2)"),
    ("sip:\n  listen: [1\n",
     "vio.yaml:3: invalid YAML at column 1: while parsing a flow sequence, expected ',' or "
     "']', but got '<stream end>' (it started at line 2, column 11)"),
    ("sip: {}\n---\nrtp: {}\n",
     "vio.yaml:2: invalid YAML at column 1: expected a single document in the stream, but "
     "found another document (it started at line 1, column 1)"),
    # rough edge 8: the column, and what to write instead
    ('trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: ${PW}}}\n',
     "vio.yaml:2: invalid YAML at column 65: while parsing a flow mapping, expected ',' or "
     "'}', but got '{'; a ${VAR} inside { } or [ ] must be quoted: write \"${VAR}\""),
    ("sip:\n  listen: 127.0.0.1:5060\n   max_calls: 3\n",
     "vio.yaml:3: invalid YAML at column 13: mapping values are not allowed here; a value "
     "containing ': ' must be quoted, or this line is indented deeper than the key above it"),
    ("sip:\n\tlisten: x\n",
     "vio.yaml:2: invalid YAML at column 1: while scanning for the next token, found "
     "character '\\t' that cannot start any token; tabs cannot indent YAML: indent with "
     "spaces"),
    ("sip:\n  lisen: 127.0.0.1:5060\n",
     "vio.yaml:2: sip.lisen: unknown key 'lisen' (did you mean 'listen'? expected one of: "
     "admission, limits, listen, max_calls, max_cps, public_address, stranger_response, tcp, "
     "tls, transports, user_agent)"),
    ("base: &b {kind: echo}\n", "vio.yaml:1: base: unknown key 'base' (expected one of: agents, "
     "cluster, dialer, http, include, log, media, numbers, rtp, sip, storage, summary, "
     "trunks, workspace)"),
    ("include: [x.yaml]\n",
     "vio.yaml:1: include: include needs a base directory (use load_config)"),
    ("include: 5\n",
     "vio.yaml:1: include: expected a glob pattern or a list of them, got integer 5"),
    # trunk outbound / register (docs/trunks.md)
    ("trunks:\n  pbx: {kind: byoc, outbound: {port: 5060}}\n",
     "vio.yaml:2: trunks.pbx.outbound: missing required key 'host'"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: 'pbx example'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.host: 'pbx example' is not an IP address or hostname"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, transport: tls}}\n",
     "vio.yaml:2: trunks.pbx.outbound.transport: transport tls needs tls in sip.transports "
     "(and sip.tls: the certificate, the CA bundle that checks the trunk's)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u}}\n",
     "vio.yaml:2: trunks.pbx.outbound: digest credentials need both username and password "
     "(password or password_file is missing)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, cps: 0}}\n",
     "vio.yaml:2: trunks.pbx.outbound.cps: must be greater than 0, got 0"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, max_calls: 0}}\n",
     "vio.yaml:2: trunks.pbx.outbound.max_calls: must be at least 1, got 0"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, caller_id: '4155550100'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.caller_id: '4155550100' is not an E.164 number (+ then "
     "8-15 digits, no leading 0)"),
    ("trunks:\n  pbx: {kind: byoc, register: {enabled: true}}\n",
     "vio.yaml:2: trunks.pbx.register.enabled: registration needs an outbound section "
     "(registrar and credentials default to it)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h}, register: {enabled: true}}\n",
     "vio.yaml:2: trunks.pbx.register.enabled: registration needs outbound.username (or "
     "register.aor) for the address of record"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h}, register: {expires: 2}}\n",
     "vio.yaml:2: trunks.pbx.register.expires: must be between 4 and 86400, got 2"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h}, register: {registrar: 'pbx:5060'}}\n",
     "vio.yaml:2: trunks.pbx.register.registrar: 'pbx:5060' is not a SIP URI (e.g. "
     "sip:pbx.example.com:5060)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h},\n"
     "        register: {retry_min_s: 10, retry_max_s: 5}}\n",
     "vio.yaml:3: trunks.pbx.register.retry_min_s: retry_min_s (10) must not exceed retry_max_s "
     "(5)"),
    ("trunks:\n  pbx: {kind: byoc, register: {user: u}}\n",
     "vio.yaml:2: trunks.pbx.register.user: unknown key 'user' (expected one of: aor, "
     "contact_user, enabled, expires, forbidden_retry_s, registrar, retry_max_s, retry_min_s)"),
]


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


@pytest.mark.parametrize(("text", "expected"), PINNED)
def test_error_message_is_pinned(text: str, expected: str) -> None:
    assert errors(text) == [expected]


def test_issue_str_and_error_text() -> None:
    issue = ConfigIssue("vio.yaml", 3, "sip.max_calls", "expected an integer, got null")
    assert str(issue) == "vio.yaml:3: sip.max_calls: expected an integer, got null"
    assert str(ConfigIssue("vio.yaml", 0, "", "cannot read file: x")) == "vio.yaml: cannot read " \
        "file: x"
    error = ConfigError([issue, issue])
    assert str(error) == f"{issue}\n{issue}"


def test_empty_value_is_blamed_on_its_key_line() -> None:
    assert errors("sip:\n  max_calls:\nrtp: {}\n") == [
        "vio.yaml:2: sip.max_calls: expected an integer, got null"]


def test_every_error_is_reported_at_once() -> None:
    assert errors("""\
        sip:
          listen: 127.0.0.1:70000
          max_calls: abc
          colour: blue
        rtp:
          ports: 20001-20999
        workspace:
          default_agent: nobody
        trunks:
          pbx:
            inbound:
              allow: [10.0.0.300/32, 127.0.0.2]
        numbers:
          "+1415": {trunk: pbx}
          "+14155550100": {trunk: nope, direction: sideways}
        log:
          level: loud
        """) == [
        "vio.yaml:2: sip.listen: port must be between 1 and 65535, got 70000",
        "vio.yaml:3: sip.max_calls: expected an integer, got string 'abc'",
        "vio.yaml:4: sip.colour: unknown key 'colour' (expected one of: admission, limits, "
        "listen, max_calls, max_cps, public_address, stranger_response, tcp, tls, transports, "
        "user_agent)",
        "vio.yaml:6: rtp.ports: MIN must be even (RTP uses even ports), got 20001",
        "vio.yaml:8: workspace.default_agent: unknown agent 'nobody' (defined: receptionist)",
        "vio.yaml:10: trunks.pbx: missing required key 'kind'",
        "vio.yaml:12: trunks.pbx.inbound.allow[0]: invalid network '10.0.0.300/32': not an IPv4 "
        "or IPv6 address",
        "vio.yaml:14: numbers.+1415: '+1415' is not an E.164 number (+ then 8-15 digits, no "
        "leading 0)",
        "vio.yaml:15: numbers.+14155550100.direction: invalid value 'sideways' (expected one of: "
        "inbound, outbound, both)",
        "vio.yaml:15: numbers.+14155550100.trunk: unknown trunk 'nope' (defined: pbx)",
        "vio.yaml:17: log.level: invalid value 'loud' (expected one of: debug, info, warning, "
        "error)",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml", env={})
    assert [str(i) for i in info.value.issues] == [
        f"{tmp_path / 'absent.yaml'}: cannot read file: No such file or directory"]


# --- includes --------------------------------------------------------------------------

MAIN = """\
    trunks:
      pbx: {kind: byoc}
    numbers:
      "+14155550100": {trunk: pbx}
    include: [trunks/*.yaml, nothing/*.yaml]
    """


def test_include_adds_trunks_and_numbers(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    write(tmp_path / "trunks" / "carrier.yaml", """\
        trunks:
          carrier: {kind: twilio, inbound: {allow: [twilio]}}
        numbers:
          "+14155550199": {trunk: carrier, direction: inbound}
          "+14155550198": {trunk: pbx}
        """)
    config = load_config(main, env={})
    assert list(config.trunks) == ["pbx", "carrier"]
    assert config.trunks["carrier"].file == str(tmp_path / "trunks" / "carrier.yaml")
    assert config.trunks["carrier"].line == 2
    assert set(config.numbers) == {"+14155550100", "+14155550199", "+14155550198"}
    assert config.numbers["+14155550198"].trunk == "pbx"


def test_duplicates_across_included_files(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    write(tmp_path / "trunks" / "a.yaml", """\
        numbers:
          "+14155550101": {trunk: pbx}
        """)
    write(tmp_path / "trunks" / "b.yaml", """\
        trunks:
          pbx: {kind: byoc}
        numbers:
          "+14155550100": {trunk: pbx}
          "+14155550101": {trunk: pbx}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    a, b = tmp_path / "trunks" / "a.yaml", tmp_path / "trunks" / "b.yaml"
    assert [str(i) for i in info.value.issues] == [
        f"{b}:2: trunks.pbx: duplicate trunk 'pbx', first defined at {main}:2",
        f"{b}:4: numbers.+14155550100: duplicate number +14155550100, first defined at {main}:4",
        f"{b}:5: numbers.+14155550101: duplicate number +14155550101, first defined at {a}:2",
    ]


def test_included_file_may_hold_only_trunks_and_numbers(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    bad = write(tmp_path / "trunks" / "bad.yaml", "sip: {max_calls: 3}\nagents: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{bad}:1: sip: 'sip' is not allowed in an included file (only: trunks, numbers)",
        f"{bad}:2: agents: 'agents' is not allowed in an included file (only: trunks, numbers)",
    ]


def test_included_file_that_does_not_parse(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    bad = write(tmp_path / "trunks" / "bad.yaml", "trunks:\n  x: {kind: byoc\n")
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{bad}:3: invalid YAML at column 1: while parsing a flow mapping, expected ',' or "
        "'}', but got '<stream end>' (it started at line 2, column 6)"]


def test_include_relative_to_main_file_with_relative_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "conf" / "vio.yaml", MAIN)
    write(tmp_path / "conf" / "trunks" / "x.yaml", "numbers:\n  '+14155550100': {trunk: pbx}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("conf/vio.yaml", env={})
    assert [str(i) for i in info.value.issues] == [
        "conf/trunks/x.yaml:2: numbers.+14155550100: duplicate number +14155550100, first "
        "defined at conf/vio.yaml:4"]


def test_include_with_base_dir_in_parse_config_text(tmp_path: Path) -> None:
    write(tmp_path / "t.yaml", "trunks:\n  pbx: {kind: byoc}\n")
    config = parse_config_text("include: t.yaml\n", env={}, base_dir=tmp_path)
    assert list(config.trunks) == ["pbx"]


# --- ${ENV} ----------------------------------------------------------------------------


def test_env_references_are_resolved_and_kept_as_secrets() -> None:
    config = parse("""\
        sip:
          user_agent: "vio/${VERSION:-dev} $${LITERAL}"
          max_calls: ${MAX_CALLS}
          public_address: ${PUBLIC:-}
        trunks:
          pbx:
            kind: byoc
            outbound: {host: pbx.example.com, username: me, password: "${SIP_PASSWORD}"}
        agents:
          receptionist: {kind: scripted, api_key: "${API_KEY}"}
        """, env={"MAX_CALLS": "50", "SIP_PASSWORD": "s3cret", "API_KEY": "0123"})
    assert config.sip.user_agent == "vio/dev ${LITERAL}"
    assert config.sip.max_calls == 50  # unquoted: typed like YAML types the expanded text
    assert config.sip.public_address is None
    assert config.agents["receptionist"].options == {"api_key": "0123"}  # quoted: a string
    assert config.secrets == ("dev", "50", "s3cret", "0123")


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIO_TEST_UA", "from-environ")
    config = parse_config_text("sip: {user_agent: '${VIO_TEST_UA}'}\n")
    assert config.sip.user_agent == "from-environ"
    assert config.secrets == ("from-environ",)


def test_env_errors_name_the_variable_and_never_print_its_value() -> None:
    assert errors("""\
        sip:
          user_agent: "${UNSET_VAR}"
          max_calls: ${MAX}
          public_address: "${BROKEN"
        trunks:
          pbx: {kind: byoc, outbound: {host: h, username: u, password: "${bad-name}"}}
        """, env={"MAX": "hunter2"}) == [
        "vio.yaml:2: sip.user_agent: environment variable 'UNSET_VAR' is not set",
        "vio.yaml:3: sip.max_calls: expected an integer, got string '${MAX}'",
        "vio.yaml:4: sip.public_address: unterminated '${' (write $${ for a literal ${)",
        "vio.yaml:6: trunks.pbx.outbound.password: invalid reference '${bad-name}' (expected "
        "${NAME} or ${NAME:-default})",
    ]


def test_unset_ok_leaves_unset_variables_out_with_a_warning() -> None:
    """Read-only commands (`calls`, `campaign list`) load a config whose secrets are
    only in the server's environment."""
    text = ('storage: {dir: var}\n'
            'trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, '
            'password: "${PBX_PW}"}}\n')
    config = parse_config_text(text, "vio.yaml", env={}, unset_ok=True)
    assert config.storage.dir == "var"
    assert config.trunks["pbx"].outbound is not None
    assert config.trunks["pbx"].outbound.password is None
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:3: trunks.pbx.outbound.password: environment variable 'PBX_PW' is not set "
        "(setting left out)"]
    with pytest.raises(ConfigError):
        parse_config_text(text, "vio.yaml", env={})


# --- secrets: ${ENV} references or owner-only files -----------------------------------


def _secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: hunter2}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: 'pre${PW}'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: 4711}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx:\n    kind: byoc\n    outbound:\n      host: h\n      username: u\n"
     "      password: ${NUM}\n",
     "vio.yaml:7: trunks.pbx.outbound.password: expected a string, got integer '${NUM}'"),
    ("summary: {provider: openai, url: u, model: m, api_key: sk-hunter2}\n",
     "vio.yaml:1: summary.api_key: a secret must not be written in the config: write \"${NAME}\" "
     "(set NAME in the environment) or use api_key_file: PATH (a file only its owner can read, "
     "chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: '${EMPTY}'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: must not be empty (${EMPTY} is empty)"),
])
def test_literal_secrets_are_refused_without_quoting_them(text: str, expected: str) -> None:
    assert errors(text, env={"PW": "x", "EMPTY": "", "NUM": "4711"}) == [expected]
    assert "hunter2" not in expected and "4711" not in expected


def test_env_default_for_a_secret_is_warned_about_only_when_used() -> None:
    text = "summary: {provider: openai, url: u, model: m, api_key: '${KEY:-sk-dev}'}\n"
    config = parse(text)
    assert config.summary.api_key == "sk-dev"
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:1: summary.api_key: ${KEY} is not set: using the default written in the "
        "config"]
    assert parse(text, env={"KEY": "sk-prod"}).warnings == ()


def test_warnings_never_quote_a_secret() -> None:
    config = parse("""\
        trunks:
          tw: {kind: twilio, inbound: {allow: twilio}, outbound: {host: "${TW_HOST}"}}
        """, env={"TW_HOST": "127.0.0.1"})
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:2: trunks.tw.outbound.host: '***' is not a Twilio termination host "
        "(<name>.pstn.twilio.com); fine for a test peer"]


def test_secret_files_are_read_relative_to_the_config_and_kept_as_secrets(
        tmp_path: Path) -> None:
    _secret_file(tmp_path / "pbx.pw", "pbx-pass\n")
    _secret_file(tmp_path / "openai.key", "sk-from-file", 0o400)
    cfg = write(tmp_path / "vio.yaml", """\
        trunks:
          pbx:
            kind: byoc
            outbound: {host: h, username: u, password_file: pbx.pw}
        summary: {provider: openai, url: u, model: m, api_key_file: openai.key}
        """)
    config = load_config(cfg, env={})
    out = config.trunks["pbx"].outbound
    assert out is not None and out.password == "pbx-pass"  # trailing newline dropped
    assert config.summary.api_key == "sk-from-file"
    assert set(config.secrets) == {"pbx-pass", "sk-from-file"}
    assert "pbx-pass" not in repr(out)
    # a reload loads the config again: the file is read again
    _secret_file(tmp_path / "pbx.pw", "rotated\n")
    again = load_config(cfg, env={}).trunks["pbx"].outbound
    assert again is not None and again.password == "rotated"


def test_secret_file_errors_are_all_reported_at_once(tmp_path: Path) -> None:
    import os

    _secret_file(tmp_path / "open.pw", "x1", 0o644)
    _secret_file(tmp_path / "group.pw", "x2", 0o640)
    _secret_file(tmp_path / "empty.pw", "\n")
    other = _secret_file(tmp_path / "other.pw", "x3")
    os.chown(other, 65534, 65534)  # nobody (the tests run as root)
    _secret_file(tmp_path / "both.pw", "x4")
    (tmp_path / "dir.pw").mkdir()
    cfg = write(tmp_path / "vio.yaml", """\
        trunks:
          a: {kind: byoc, outbound: {host: h, username: u, password_file: missing.pw}}
          b: {kind: byoc, outbound: {host: h, username: u, password_file: open.pw}}
          c: {kind: byoc, outbound: {host: h, username: u, password_file: group.pw}}
          d: {kind: byoc, outbound: {host: h, username: u, password_file: empty.pw}}
          e: {kind: byoc, outbound: {host: h, username: u, password_file: other.pw}}
          f: {kind: byoc, outbound: {host: h, username: u, password: "${PW}",
                                     password_file: both.pw}}
          g: {kind: byoc, outbound: {host: h, username: u, password_file: dir.pw}}
          h: {kind: byoc, outbound: {host: h, username: u, password_file: ""}}
        summary: {provider: openai, url: u, model: m, api_key_file: open.pw}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={"PW": "x5"})
    d = tmp_path
    assert [str(i) for i in info.value.issues] == [
        f"{cfg}:2: trunks.a.outbound.password_file: cannot read secret file {d}/missing.pw: "
        "No such file or directory",
        f"{cfg}:3: trunks.b.outbound.password_file: secret file {d}/open.pw has mode 0644: "
        f"group/others may access it (chmod 600 {d}/open.pw)",
        f"{cfg}:4: trunks.c.outbound.password_file: secret file {d}/group.pw has mode 0640: "
        f"group/others may access it (chmod 600 {d}/group.pw)",
        f"{cfg}:5: trunks.d.outbound.password_file: secret file {d}/empty.pw is empty",
        f"{cfg}:6: trunks.e.outbound.password_file: secret file {d}/other.pw is not owned by "
        "the user running vio-sbc",
        f"{cfg}:8: trunks.f.outbound.password_file: give password or password_file, not both",
        f"{cfg}:9: trunks.g.outbound.password_file: secret file {d}/dir.pw is not a regular "
        "file",
        f"{cfg}:10: trunks.h.outbound.password_file: must not be empty",
        f"{cfg}:11: summary.api_key_file: secret file {d}/open.pw has mode 0644: group/others "
        f"may access it (chmod 600 {d}/open.pw)",
    ]


def test_a_secret_read_from_a_file_is_never_quoted_in_an_error(tmp_path: Path) -> None:
    _secret_file(tmp_path / "k", "sk-9f8e7d")
    _secret_file(tmp_path / "h", "sk-9f8e7d")
    cfg = write(tmp_path / "vio.yaml", """\
        summary: {provider: openai, url: u, model: m, api_key_file: k}
        trunks:
          pbx: {kind: byoc, outbound: {host: h, username: u, password_file: h}}
        sip: {listen: "sk-9f8e7d"}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    text = "\n".join(str(i) for i in info.value.issues)
    assert "sip.listen" in text and "sk-9f8e7d" not in text and "***" in text


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


# --- agent settings: intents, barge-in, endpointing, STT, TTS --------------------------

AGENT = "agents:\n  receptionist:\n    kind: scripted\n"
AGENT_ERROR_CASES = [
    (AGENT + '    intents:\n      - {name: sales}\n',
     ['vio.yaml:5: agents.receptionist.intents[0]: an intent needs phrases or digits']),
    (AGENT + '    intents:\n      - {name: a, phrases: [Sales!]}\n',
     ["vio.yaml:5: agents.receptionist.intents[0].phrases[0]: phrase 'Sales!' must be "
      "words of letters (a-z and ')"]),
    (AGENT + '    intents:\n      - {name: a, digits: 12a}\n',
     ['vio.yaml:5: agents.receptionist.intents[0].digits: expected 1 to 8 DTMF digits '
      "(0-9, *, #), got string '12a'"]),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: transfer}\n",
     ['vio.yaml:5: agents.receptionist.intents[0]: action transfer needs a target']),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: transfer, target: 'bob'}\n",
     ['vio.yaml:5: agents.receptionist.intents[0].target: expected a sip: URI, tel: URI '
      "or +E.164 number, got 'bob'"]),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: park}\n",
     ["vio.yaml:5: agents.receptionist.intents[0].action: invalid value 'park' "
      '(expected one of: hangup, transfer)']),
    (AGENT + "    intents:\n      - {name: a, digits: '1'}\n      - {name: b, digits: '1'}\n",
     ["vio.yaml:6: agents.receptionist.intents[1]: digits '1' already used by intent "
      "'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [sales]}\n      - {name: b, phrases: '
             '[sales]}\n',
     ["vio.yaml:6: agents.receptionist.intents[1]: phrase 'sales' already used by "
      "intent 'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [x]}\n      - {name: a, phrases: [y]}\n',
     ["vio.yaml:6: agents.receptionist.intents[1]: duplicate intent name 'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [x], colour: red}\n',
     ["vio.yaml:5: agents.receptionist.intents[0].colour: unknown key 'colour' "
      '(expected one of: action, digits, name, phrases, reply, target)']),
    (AGENT + '    max_turns: 0\n',
     ['vio.yaml:4: agents.receptionist.max_turns: must be between 1 and 1000, got 0']),
    (AGENT + '    barge_in: {enabled: maybe}\n',
     ['vio.yaml:4: agents.receptionist.barge_in.enabled: expected true or false, got '
      "string 'maybe'"]),
    (AGENT + '    endpointing: {frame_ms: 25, stop_ms: 50}\n',
     ['vio.yaml:4: agents.receptionist.endpointing.frame_ms: invalid value 25 (expected '
      'one of: 10, 20, 30)',
      'vio.yaml:4: agents.receptionist.endpointing.stop_ms: must be between 100 and '
      '10000, got 50']),
    (AGENT + '    stt: {provider: whisper}\n',
     ["vio.yaml:4: agents.receptionist.stt.provider: invalid value 'whisper' (expected "
      'one of: pocketsphinx, none)']),
    (AGENT + "    tts: {provider: espeak, voice: ''}\n",
     ['vio.yaml:4: agents.receptionist.tts.voice: must not be empty']),
    (AGENT + '    intents: {a: 1}\n',
     ['vio.yaml:4: agents.receptionist.intents: expected a list, got a mapping']),
]


@pytest.mark.parametrize(("text", "expected"), AGENT_ERROR_CASES)
def test_agent_setting_errors_are_pinned(text: str, expected: list[str]) -> None:
    assert errors(text) == expected


def test_agent_settings_typed_and_defaults() -> None:
    from vio_sbc.config.model import BargeInSettings, Intent

    config = parse("""
        agents:
          receptionist:
            kind: scripted
            intents:
              - {name: human, phrases: [Talk  To Someone], digits: 0, action: transfer,
                 target: "sip:desk@127.0.0.1", reply: One moment.}
            barge_in: {enabled: false}
            endpointing: {frame_ms: 30, stop_ms: 800}
            tts: {voice: en-gb}
        """)
    agent = config.agents["receptionist"]
    assert agent.intents == (Intent("human", ("talk to someone",), "0", "One moment.",
                                    "transfer", "sip:desk@127.0.0.1"),)
    assert agent.barge_in == BargeInSettings(enabled=False, min_speech_ms=200)
    assert (agent.endpointing.frame_ms, agent.endpointing.stop_ms) == (30, 800)
    assert agent.endpointing.start_ms == 60
    assert agent.stt.provider == "pocketsphinx" and agent.tts.voice == "en-gb"
    assert agent.max_turns == 10 and agent.options == {}


def test_builtin_and_example_receptionist_have_intents() -> None:
    builtin = parse("").agents["receptionist"]
    assert [i.name for i in builtin.intents] == ["sales", "support", "goodbye"]
    assert builtin.intents[2].action == "hangup"
    example = load_config(REPO / "config" / "vio.yaml").agents["receptionist"]
    assert {i.name: i.digits for i in example.intents} == {
        "sales": "1", "support": "2", "operator": "0", "goodbye": "9"}


# --- call log: rates, platform rate, retention, summary (issue 4) ------------------------

_TRUNK = "trunks:\n  pbx:\n    kind: byoc\n"


def test_rates_platform_rate_retention_and_summary_values() -> None:
    config = parse(_TRUNK + """\
    rates:
      currency: EUR
      inbound: {per_minute: 0.0085, increment: "60/60"}
      outbound: {per_minute: "0.013", increment: 6/6, connection_fee: 0.001}
      prefixes:
        "+44": {outbound: {per_minute: 0.021}}
        "1800": {inbound: {connection_fee: 0}}
      charge_unanswered: true
workspace:
  platform_rate: {per_minute: 0.05}
storage:
  retention_days: 30
summary: {provider: openai, url: "http://127.0.0.1:9/v1", model: m, api_key: "${KEY}"}
""", env={"KEY": "sk-1"})
    from decimal import Decimal

    from vio_sbc.config.model import DirectionRate, Increment, PrefixRate

    rates = config.trunks["pbx"].rates
    assert rates is not None and rates.currency == "EUR" and rates.charge_unanswered
    assert rates.inbound == DirectionRate(Decimal("0.0085"), Increment(60, 60))
    assert rates.outbound == DirectionRate(Decimal("0.013"), Increment(6, 6), Decimal("0.001"))
    assert rates.prefixes == (
        PrefixRate("44", outbound=DirectionRate(Decimal("0.021"))),
        PrefixRate("1800", inbound=DirectionRate(connection_fee=Decimal("0"))),
    )
    assert config.workspace.platform_rate is not None
    assert config.workspace.platform_rate.per_minute == Decimal("0.05")
    assert config.storage.retention_days == 30
    assert (config.summary.provider, config.summary.api_key) == ("openai", "sk-1")
    assert "sk-1" in config.secrets


def test_call_log_defaults() -> None:
    config = parse(_TRUNK)
    assert config.trunks["pbx"].rates is None
    assert config.workspace.platform_rate is None
    assert config.storage.retention_days is None
    assert config.summary.provider == "extractive"


CALL_LOG_PINNED = [
    (_TRUNK + "    rates: {currency: usd}\n",
     "vio.yaml:4: trunks.pbx.rates.currency: expected a 3-letter ISO 4217 currency code "
     "(e.g. USD), got string 'usd'"),
    (_TRUNK + "    rates: {inbound: {increment: \"60/60\"}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound: missing required key 'per_minute'"),
    (_TRUNK + "    rates: {inbound: {per_minute: -1}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound.per_minute: must be at least 0, got -1"),
    (_TRUNK + "    rates: {inbound: {per_minute: cheap}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound.per_minute: expected an amount (e.g. 0.0085), "
     "got string 'cheap'"),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, increment: 60}}\n",
     'vio.yaml:4: trunks.pbx.rates.outbound.increment: expected "FIRST/NEXT" in whole '
     'seconds, each at least 1 (e.g. "60/60", "6/6", "1/1"), got integer 60'),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, increment: \"0/6\"}}\n",
     'vio.yaml:4: trunks.pbx.rates.outbound.increment: expected "FIRST/NEXT" in whole '
     'seconds, each at least 1 (e.g. "60/60", "6/6", "1/1"), got string \'0/6\''),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, fee: 2}}\n",
     "vio.yaml:4: trunks.pbx.rates.outbound.fee: unknown key 'fee' (expected one of: "
     "connection_fee, increment, per_minute)"),
    (_TRUNK + "    rates: {prefixes: {\"+44x\": {outbound: {per_minute: 1}}}}\n",
     "vio.yaml:4: trunks.pbx.rates.prefixes.+44x: prefix '+44x' must be digits with an "
     "optional leading +"),
    (_TRUNK + "    rates: {prefixes: {\"44\": {both: {per_minute: 1}}}}\n",
     "vio.yaml:4: trunks.pbx.rates.prefixes.44.both: unknown key 'both' (expected one of: "
     "inbound, outbound)"),
    (_TRUNK + "    rates: 5\n",
     "vio.yaml:4: trunks.pbx.rates: expected a mapping, got integer 5"),
    ("workspace:\n  platform_rate: {currency: USD}\n",
     "vio.yaml:2: workspace.platform_rate: missing required key 'per_minute'"),
    ("workspace:\n  platform_rate: {per_minute: 1.5.1}\n",
     "vio.yaml:2: workspace.platform_rate.per_minute: expected an amount (e.g. 0.0085), "
     "got string '1.5.1'"),
    ("storage:\n  retention_days: 0\n",
     "vio.yaml:2: storage.retention_days: must be at least 1, got 0"),
    ("summary:\n  provider: gpt\n",
     "vio.yaml:2: summary.provider: invalid value 'gpt' (expected one of: extractive, openai)"),
    ("summary:\n  provider: openai\n  model: m\n",
     "vio.yaml:1: summary: missing required key 'url' (provider is openai)"),
]


@pytest.mark.parametrize(("text", "expected"), CALL_LOG_PINNED)
def test_call_log_error_message_is_pinned(text: str, expected: str) -> None:
    assert errors(text) == [expected]


def test_agent_kind_options_are_typed() -> None:
    config = parse_config_text(
        "agents:\n"
        "  receptionist: {kind: scripted, transfer_digit: 0, transfer_to: '+14155550999'}\n"
        "  bot:\n"
        "    kind: websocket\n"
        "    url: wss://agents.example.com/twilio\n"
        "    parameters: {team: blue, tier: 2}\n"
        "    connect_timeout_s: 2.5\n"
    )
    bot = config.agents["bot"]
    assert bot.kind == "websocket"
    assert bot.websocket == WebSocketOptions(url="wss://agents.example.com/twilio",
                                             parameters={"team": "blue", "tier": "2"},
                                             connect_timeout_s=2.5)
    assert bot.options == {}
    receptionist = config.agents["receptionist"]
    assert receptionist.scripted == ScriptedOptions(transfer_digit="0",
                                                    transfer_to="+14155550999")
    assert receptionist.options == {}
    assert receptionist.websocket is None


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
