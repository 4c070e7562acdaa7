"""vio_sbc.callcontrol.dialog: every cell of the in-dialog trust table, the source
classes, the request kinds and a trunk's networks."""

from __future__ import annotations

import ipaddress
import textwrap

import pytest

from vio_sbc.callcontrol.dialog import (
    TABLE,
    Action,
    AsStranger,
    Kind,
    SourceClass,
    Verdict,
    classify,
    decide,
    parse_ip,
    request_kind,
    trunk_networks,
)
from vio_sbc.config import parse_config_text

P, T, X, S = SourceClass.PEER, SourceClass.TRUNK, SourceClass.OTHER_TRUNK, SourceClass.STRANGER
ALLOW, DROP = ("allow", 0), ("drop", 0)

# (kind, source, reject-mode answer, drop-mode answer, reason): the table in docs/security.md
ROWS = [
    (Kind.DIALOG, P, ALLOW, ALLOW, ""),
    (Kind.DIALOG, T, ALLOW, ALLOW, ""),
    (Kind.DIALOG, X, ("answer", 403), ("answer", 403), "in_dialog_refused"),
    (Kind.DIALOG, S, ("answer", 403), DROP, "in_dialog_refused"),
    (Kind.ACK, P, ALLOW, ALLOW, ""),
    (Kind.ACK, T, ALLOW, ALLOW, ""),
    (Kind.ACK, X, DROP, DROP, "in_dialog_refused"),
    (Kind.ACK, S, DROP, DROP, "in_dialog_refused"),
    (Kind.REFER, P, ("answer", 603), ("answer", 603), "refer_refused"),
    (Kind.REFER, T, ("answer", 603), ("answer", 603), "refer_refused"),
    (Kind.REFER, X, ("answer", 403), ("answer", 403), "refer_refused"),
    (Kind.REFER, S, ("answer", 403), DROP, "refer_refused"),
    (Kind.REPLACES, P, ("answer", 403), ("answer", 403), "replaces_refused"),
    (Kind.REPLACES, T, ("answer", 403), ("answer", 403), "replaces_refused"),
    (Kind.REPLACES, X, ("answer", 403), ("answer", 403), "replaces_refused"),
    (Kind.REPLACES, S, ("answer", 403), DROP, "replaces_refused"),
    (Kind.REPLACES_UNKNOWN, P, ("answer", 481), ("answer", 481), "replaces_refused"),
    (Kind.REPLACES_UNKNOWN, T, ("answer", 481), ("answer", 481), "replaces_refused"),
    (Kind.REPLACES_UNKNOWN, X, ("answer", 481), ("answer", 481), "replaces_refused"),
    (Kind.REPLACES_UNKNOWN, S, ("answer", 403), DROP, "replaces_refused"),
]


def test_the_rows_cover_the_whole_table() -> None:
    assert {(k, s) for k, s, *_ in ROWS} == {(k, s) for k in TABLE for s in TABLE[k]}
    assert {(k, s) for k in Kind for s in SourceClass} == {(k, s) for k in TABLE for s in TABLE[k]}


@pytest.mark.parametrize(("kind", "source", "reject", "drop", "reason"), ROWS,
                         ids=[f"{k.name}-{s.value}" for k, s, *_ in ROWS])
def test_table(kind: Kind, source: SourceClass, reject: tuple[str, int],
               drop: tuple[str, int], reason: str) -> None:
    for mode, want in (("reject", reject), ("drop", drop)):
        v = decide(kind, source, mode)
        assert (v.action.value, v.status) == want, mode
        assert v.reason == reason
        assert v.refused is (v.action is not Action.ALLOW)


def test_codes_are_what_the_sip_guard_acts_on() -> None:
    assert Verdict(Action.ALLOW).code == 0
    assert Verdict(Action.DROP, 0, "x").code == -1
    assert Verdict(Action.ANSWER, 603, "refer_refused").code == 603


def test_stranger_cells_follow_stranger_response() -> None:
    cells = [c for row in TABLE.values() for c in row.values() if isinstance(c, AsStranger)]
    assert cells and all(TABLE[k][S] in cells for k in Kind if k is not Kind.ACK)


@pytest.mark.parametrize(("method", "replaces", "names_call", "kind"), [
    ("INVITE", False, True, Kind.DIALOG), ("BYE", False, True, Kind.DIALOG),
    ("UPDATE", False, True, Kind.DIALOG), ("INFO", False, False, Kind.DIALOG),
    ("NOTIFY", False, True, Kind.DIALOG), ("OPTIONS", False, True, Kind.DIALOG),
    ("PRACK", False, True, Kind.DIALOG), ("CANCEL", False, True, Kind.DIALOG),
    ("FOO", False, True, Kind.DIALOG), ("ACK", False, True, Kind.ACK),
    ("refer", False, True, Kind.REFER), ("REFER", False, False, Kind.REFER),
    ("INVITE", True, True, Kind.REPLACES), ("INVITE", True, False, Kind.REPLACES_UNKNOWN),
])
def test_request_kind(method: str, replaces: bool, names_call: bool, kind: Kind) -> None:
    assert request_kind(method, replaces, names_call) is kind


OWN = (ipaddress.ip_network("127.0.0.2/32"), ipaddress.ip_network("10.0.0.0/24"))
KNOWN = (*OWN, ipaddress.ip_network("127.0.0.3/32"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(("source", "peer", "want"), [
    ("127.0.0.2", "127.0.0.2", P),
    ("10.0.0.7", "127.0.0.2", T),  # another address of the same trunk
    ("127.0.0.3", "127.0.0.2", X),  # another trunk's
    ("127.0.0.9", "127.0.0.2", S),
    ("::ffff:127.0.0.2", "127.0.0.2", P),  # IPv4-mapped as pjsip may print it
    ("2001:db8::5", "127.0.0.2", X),
    ("127.0.0.9", "127.0.0.9", P),  # the peer is the peer, listed or not
    ("10.0.0.7", "sip.example.com", T),  # an outbound call to a hostname: its trunk
    ("not an address", "127.0.0.2", S),
])
def test_classify(source: str, peer: str, want: SourceClass) -> None:
    assert classify(source, peer, OWN, KNOWN) is want


def test_classify_without_a_call_knows_no_peer() -> None:
    assert classify("127.0.0.2", None, KNOWN, KNOWN) is T
    assert classify("127.0.0.2", None, (), KNOWN) is X


def test_parse_ip() -> None:
    assert str(parse_ip("[2001:db8::1]")) == "2001:db8::1"
    assert str(parse_ip("::ffff:10.0.0.1")) == "10.0.0.1"
    assert parse_ip("host.example") is None


def test_trunk_networks_are_allow_outbound_registrar_and_registrar_sources() -> None:
    cfg = parse_config_text(textwrap.dedent("""\
        trunks:
          carrier:
            kind: byoc
            inbound: {allow: [10.1.0.0/16]}
            outbound: {host: 192.0.2.10, port: 5080, username: u, password: "${PW}"}
            register: {enabled: true, registrar: "sip:198.51.100.7:5060;transport=tcp"}
          named:
            kind: byoc
            outbound: {host: sip.example.com}
        """), "vio.yaml", env={"PW": "p"})
    nets = trunk_networks(cfg.trunks["carrier"], ["203.0.113.5", "10.1.2.3", "bad"])
    assert [str(n) for n in nets] == ["10.1.0.0/16", "192.0.2.10/32", "198.51.100.7/32",
                                      "203.0.113.5/32", "10.1.2.3/32"]
    assert trunk_networks(cfg.trunks["named"]) == ()  # a hostname is never resolved
