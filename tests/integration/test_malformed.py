"""Hostile input: the malformed-SIP corpus (tests/fuzz/) and pinned malformed cases,
sent from a raw socket to the real server. The server must never crash or wedge,
must answer what it can answer with the right 4xx, and must still take a legitimate
SIPp call afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.gen_corpus import load
from tests.fuzz.runner import run_tcp, run_udp
from tests.integration.conftest import (
    BASE_CONFIG,
    TRUNK_IP,
    Server,
    free_rtp_range,
    run_sipp,
    start_server,
)
from tests.integration.rawsip import SDP_PCMU, UdpPeer, request

pytestmark = [pytest.mark.integration]

FUZZ_CONFIG = BASE_CONFIG.replace(
    "  max_calls: 50\n",
    "  max_calls: 300\n  max_cps: 0\n  admission: {{rate: 10000, burst: 10000}}\n",
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    low, high = free_rtp_range(size=400)  # room for every call the corpus gets answered
    text = FUZZ_CONFIG.replace("{rtp_min}-{rtp_max}", f"{low}-{high}")
    srv = start_server(tmp_path_factory.mktemp("fuzz"), text, ["--grace", "2"])
    try:
        yield srv
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


def _alive_and_serving(srv: Server) -> None:
    assert srv.proc.poll() is None, srv.raw[-20:]
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    assert r.rc == 0, r.output + r.errors
    bad = [ev for ev in srv.lines if ev.get("event") in ("incoming_call_failed", "timer_failed")
           or "exception" in ev]
    assert not bad, bad[:3]


def _sdp() -> str:
    return SDP_PCMU.format(ip=TRUNK_IP, rtp=40000)


def _drop(text: str, name: str) -> str:
    return "\r\n".join(ln for ln in text.split("\r\n") if not ln.lower().startswith(name + ":"))


def _cases(port: int, peer_port: int) -> dict[str, tuple[str, list[int]]]:
    """name -> (message, expected statuses: [] = no reply)."""
    sdp = _sdp()

    def inv(**kw: object) -> str:
        return request("INVITE", port, src_port=peer_port, **kw)  # type: ignore[arg-type]

    g729 = sdp.replace("RTP/AVP 0 101", "RTP/AVP 18").replace("a=rtpmap:0 PCMU/8000",
                                                               "a=rtpmap:18 G729/8000")
    return {
        # RFC 3261 18.3: a datagram whose Content-Length exceeds its body -> 400 (ours)
        "content_length_too_big": (inv(body=sdp, content_length=len(sdp) + 50), [100, 400]),
        "content_length_too_small": (inv(body=sdp, content_length=10), [100, 400]),
        # no Call-ID: nothing to match an answer to; pjsip drops it
        "missing_call_id": (_drop(inv(body=sdp), "call-id"), []),
        # requests no pjsua module handles: the SIP guard (20-sip-guard.patch) answers
        # 501 for an unknown method, 405 (+ Allow) for one we do not serve, 481 for a
        # dialog method outside any dialog; an ACK nobody expects gets nothing
        "unknown_method": (request("FOO", port, src_port=peer_port), [501]),
        "register": (request("REGISTER", port, src_port=peer_port), [405]),
        "bye_outside_dialog": (request("BYE", port, src_port=peer_port), [481]),
        "stray_ack": (request("ACK", port, src_port=peer_port), []),
        "invalid_sdp": (inv(body="v=0\r\nthis is not sdp\r\n"), [400]),
        "unsupported_codec_only": (inv(body=g729), [488]),
        "missing_contact": (_drop(inv(body=sdp), "contact"), [400]),
        "unknown_number": (inv(body=sdp, number="+14155559876"), [100, 404]),
        # pjsip answers a CSeq whose method is not the request's with 500 (not 400)
        "cseq_method_mismatch": (inv(body=sdp, cseq="1 BYE"), [500]),
    }


CASES = ["content_length_too_big", "content_length_too_small", "missing_call_id",
         "unknown_method", "register", "bye_outside_dialog", "stray_ack", "invalid_sdp",
         "unsupported_codec_only", "missing_contact", "unknown_number", "cseq_method_mismatch"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES)
def test_pinned_malformed_case(fuzz_server: Server, case: str) -> None:
    peer = UdpPeer(TRUNK_IP)
    try:
        text, expected = _cases(fuzz_server.port, peer.port)[case]
        if expected:
            replies = peer.exchange(text, fuzz_server.port, timeout=1.5)
        else:  # "no reply" is known once a later OPTIONS from the same socket is answered
            replies = peer.unanswered(text, fuzz_server.port)
    finally:
        peer.close()
    assert [r.status for r in replies] == expected
    assert fuzz_server.proc.poll() is None


@pytest.mark.timeout(240)
def test_corpus_over_udp_and_tcp(fuzz_server: Server, tmp_path: Path) -> None:
    entries = load()
    assert len(entries) >= 1000
    udp = run_udp(entries, fuzz_server.port, TRUNK_IP)
    print("UDP:", udp.summary())
    assert udp.sent == len(entries)
    # nothing crashed a handler (our Python code caught nothing unexpected)
    bad = [ev for ev in fuzz_server.lines if ev.get("event") == "incoming_call_failed"]
    assert not bad, bad[:3]
    # 5xx only where pjsip itself answers 500: a CSeq/method mismatch, or more m= lines
    # than it can open RTP ports for
    for i, statuses in udp.by_id.items():
        if any(s >= 500 for s in statuses):
            assert {"bad_cseq", "bad_method", "sdp_many_media"} & set(entries[i]["ops"]), (
                entries[i]["ops"], statuses)
    # where a single mutation makes the request wrong in a known way, the answer
    # (when one comes) is the right 4xx
    expect = {"sdp_unsupported_codec_only": {488}, "sdp_no_media": {400},
              "drop_contact": {400}, "sdp_garbage": {400, 200}}
    checked = 0
    for e in entries:
        ops = e["ops"]
        if e["base"] == "INVITE" and len(ops) == 1 and ops[0] in expect:
            finals = {s for s in udp.by_id[int(e["id"])] if s >= 200}
            assert finals <= expect[ops[0]], (ops, finals)
            checked += len(finals)
    assert checked >= 30, checked
    assert udp.finals[488] >= 10 and udp.finals[400] >= 30, udp.summary()
    tcp_part = [e for e in entries if int(e["id"]) % 10 == 0][:110]
    tcp = run_tcp(tcp_part, fuzz_server.port, TRUNK_IP)
    print("TCP:", tcp.summary())
    # TCP: pjsip closes the connection on what it cannot frame or parse; what it
    # answers follows the same rules as UDP
    assert sum(tcp.finals.values()) >= 5, tcp.summary()
    for i, statuses in tcp.by_id.items():
        if any(s >= 500 for s in statuses):
            assert {"bad_cseq", "bad_method", "sdp_many_media"} & set(entries[i]["ops"]), (
                entries[i]["ops"], statuses)
    _alive_and_serving(fuzz_server)
