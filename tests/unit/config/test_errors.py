"""The exact text of every config error (FILE:LINE: key.path: message), all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.common import errors
from vio_sbc.config import load_config
from vio_sbc.errors import ConfigError, ConfigIssue

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
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', origin: 'https://a/b'}\n",
     "vio.yaml:2: agents.receptionist.origin: expected an origin like https://agents.example.com "
     "(scheme://host[:port], no path), got 'https://a/b'"),
    ("agents:\n  receptionist: {kind: websocket, url: 'ws://h', origin: 3}\n",
     "vio.yaml:2: agents.receptionist.origin: expected a string, got integer 3"),
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
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n  "+14155550100": {trunk: pbx, max_calls: 0}\n',
     "vio.yaml:4: numbers.+14155550100.max_calls: must be between 1 and 100000, got 0"),
    ('trunks:\n  pbx: {kind: byoc}\nnumbers:\n'
     '  "+14155550100": {trunk: pbx, max_calls_status: 404}\n',
     "vio.yaml:4: numbers.+14155550100.max_calls_status: invalid value 404 (expected one of: "
     "486, 503)"),
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
     "tls, transfer_timeout_s, transports, user_agent)"),
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
        "listen, max_calls, max_cps, public_address, stranger_response, tcp, tls, "
        "transfer_timeout_s, transports, user_agent)",
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
