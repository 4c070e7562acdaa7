"""The pjsip-level SIP guard (scripts/pjproject-patches/20-sip-guard.patch,
vio_sbc/sip/guard.py) against the real server, from raw sockets and SIPp:

* `sip.stranger_response: drop`: a stranger gets no datagram at all (not even 100
  Trying) for any method, while the trunk still completes a call; a reload moves
  an address in and out of the allow list;
* `reject` (the default): a stranger gets the same 403 for every method; a trunk's
  REGISTER, SUBSCRIBE, PUBLISH, MESSAGE, REFER get 405 + Allow, an unknown method
  501, a BYE outside any dialog 481, ACK nothing; an unknown method inside a dialog
  gets pjsip's 500.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    STRANGER_IP,
    TRUNK_IP,
    Server,
    free_port,
    rejected,
    run_sipp,
    start_server,
    wait_rejected,
)
from tests.integration.rawsip import SDP_PCMU, Reply, UdpPeer, request, tcp_exchange

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DROP = "  max_calls: 50\n  stranger_response: drop\n"


def guarded_server(tmp: Path, mode: str) -> tuple[Server, str]:
    http = free_port()
    text = BASE_CONFIG + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n"
    if mode == "drop":
        text = text.replace("  max_calls: 50\n", DROP)
    srv = start_server(tmp, text)
    srv.wait_event("sip_guard_installed", stranger_response=mode)
    srv.wait_event("http_listening")
    return srv, f"http://127.0.0.1:{http}/metrics"






def probes(peer: UdpPeer, port: int) -> dict[str, str]:
    sdp = SDP_PCMU.format(ip=peer.src, rtp=40000)
    return {
        "INVITE": request("INVITE", port, src=peer.src, src_port=peer.port, body=sdp),
        "OPTIONS": request("OPTIONS", port, src=peer.src, src_port=peer.port),
        "REGISTER": request("REGISTER", port, src=peer.src, src_port=peer.port),
        "FOO": request("FOO", port, src=peer.src, src_port=peer.port),
    }


def nothing_arrives(peer: UdpPeer, wait_s: float = 0.5) -> list[Reply]:
    return peer.replies(timeout=wait_s, until_final=False)


@pytest.fixture(scope="module")
def drop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    srv, url = guarded_server(tmp_path_factory.mktemp("drop"), "drop")
    try:
        yield srv, url
    finally:
        rc = srv.stop()
        assert rc == 0, srv.raw[-20:]


def test_drop_mode_answers_strangers_nothing_and_trunks_as_before(
        drop_server: tuple[Server, str]) -> None:
    srv, url = drop_server
    before = rejected(url, "stranger_dropped")
    stranger = UdpPeer(STRANGER_IP)
    try:
        msgs = probes(stranger, srv.port)
        for text in msgs.values():
            stranger.send(text, srv.port)
        # the counter has seen all four: whatever pjsip would have sent is sent by now
        wait_rejected(url, "stranger_dropped", before + len(msgs))
        assert nothing_arrives(stranger) == []
    finally:
        stranger.close()
    # TCP too: the TCP guard closes the connection at accept, the request gets nothing
    opt = request("OPTIONS", srv.port, src=STRANGER_IP, transport="TCP")
    assert tcp_exchange(opt.encode(), srv.port, src=STRANGER_IP, timeout=1.0) == b""
    wait_rejected(url, "stranger_dropped", before + len(msgs))
    # one log line for the lot (at most one a minute), no line per packet
    assert srv.wait_event("sip_guard_answered")["stranger_dropped"] >= 1
    # nothing of it reached the application: no call row, no stranger log line
    assert not [ev for ev in srv.lines if ev.get("event") == "stranger_refused"]
    with srv.db() as c:
        assert c.execute("SELECT count(*) FROM calls WHERE source = ?",
                         (STRANGER_IP,)).fetchone()[0] == 0
    # the trunk: OPTIONS answered by pjsua, a SIPp call completes
    trunk = UdpPeer(TRUNK_IP)
    try:
        opt = request("OPTIONS", srv.port, src=TRUNK_IP, src_port=trunk.port)
        assert [r.status for r in trunk.exchange(opt, srv.port)] == [200]
    finally:
        trunk.close()
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    assert r.rc == 0, r.output + r.errors


def cli(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c", str(srv.config)],
                          capture_output=True, text=True, timeout=60, cwd=srv.config.parent)


def next_event(srv: Server, start: int, event: str, timeout: float = 15.0) -> int:
    """Index of the first `event` logged after line `start` (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        for i in range(start, len(srv.lines)):
            if srv.lines[i].get("event") == event:
                return i
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {event} after line {start}: {srv.raw[-5:]}")
        time.sleep(0.05)


def options_from_stranger(srv: Server) -> list[int]:
    peer = UdpPeer(STRANGER_IP)
    try:
        text = request("OPTIONS", srv.port, src=STRANGER_IP, src_port=peer.port)
        return [r.status for r in peer.exchange(text, srv.port, timeout=1.0)]
    finally:
        peer.close()


def test_reload_moves_an_address_in_and_out_of_the_allow_list(
        drop_server: tuple[Server, str]) -> None:
    srv, url = drop_server
    original = srv.config.read_text()
    assert "allow: [127.0.0.3/32]" in original
    try:
        srv.config.write_text(original.replace("allow: [127.0.0.3/32]",
                                               f"allow: [127.0.0.3/32, {STRANGER_IP}/32]"))
        mark = len(srv.lines)
        out = cli(srv, "reload")
        assert out.returncode == 0, out.stderr
        ev = srv.lines[next_event(srv, mark, "sip_guard_allow_changed")]
        assert ev["added"] == [f"{STRANGER_IP}/32"] and ev["removed"] == []
        assert options_from_stranger(srv) == [200]  # now a trunk's address
    finally:
        srv.config.write_text(original)
    mark = len(srv.lines)
    before = rejected(url, "stranger_dropped")
    srv.proc.send_signal(1)  # SIGHUP
    ev = srv.lines[next_event(srv, mark, "sip_guard_allow_changed")]
    assert ev["removed"] == [f"{STRANGER_IP}/32"]
    stranger = UdpPeer(STRANGER_IP)
    try:
        stranger.send(request("OPTIONS", srv.port, src=STRANGER_IP, src_port=stranger.port),
                      srv.port)
        # the counter has seen it: whatever pjsip would have sent is sent by now
        wait_rejected(url, "stranger_dropped", before + 1)
        assert nothing_arrives(stranger) == []
    finally:
        stranger.close()


# --- reject mode (the default) ------------------------------------------------------


@pytest.fixture(scope="module")
def reject_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    srv, url = guarded_server(tmp_path_factory.mktemp("reject"), "reject")
    try:
        yield srv, url
    finally:
        rc = srv.stop()
        assert rc == 0, srv.raw[-20:]


def test_reject_mode_gives_strangers_the_same_403_for_every_method(
        reject_server: tuple[Server, str]) -> None:
    srv, url = reject_server
    before = rejected(url, "stranger")
    stranger = UdpPeer(STRANGER_IP)
    try:
        got = {m: [(r.status, r.headers.get("user-agent"), r.headers.get("server"))
                   for r in stranger.exchange(text, srv.port, timeout=1.5)]
               for m, text in probes(stranger, srv.port).items()}
    finally:
        stranger.close()
    assert got == {"INVITE": [(100, None, None), (403, None, None)],
                   "OPTIONS": [(403, None, None)], "REGISTER": [(403, None, None)],
                   "FOO": [(403, None, None)]}
    wait_rejected(url, "stranger", before + 4)


def test_reject_mode_answers_unhandled_requests_from_a_trunk(
        reject_server: tuple[Server, str]) -> None:
    srv, url = reject_server
    peer = UdpPeer(TRUNK_IP)
    try:
        def ask(method: str, **kw: str) -> list[Reply]:
            text = request(method, srv.port, src=TRUNK_IP, src_port=peer.port, **kw)
            return peer.exchange(text, srv.port, timeout=1.0)

        (reg,) = ask("REGISTER")
        assert reg.status == 405 and reg.reason == "Method Not Allowed"
        allow = {m.strip() for m in reg.headers["allow"].split(",")}
        assert {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"} <= allow
        assert "REGISTER" not in allow
        # what pjsua would serve for a phone, a softswitch does not: before the patch
        # a presence SUBSCRIBE got 200 (a subscription) and a MESSAGE 200
        for method, extra in (("PUBLISH", ""), ("SUBSCRIBE", "Event: presence\r\n"),
                              ("MESSAGE", ""), ("REFER", "Refer-To: <sip:x@127.0.0.2>\r\n")):
            (r,) = ask(method, extra=extra)
            assert r.status == 405 and method not in r.headers["allow"], (method, r)
        (foo,) = ask("FOO")
        assert (foo.status, foo.reason) == (501, "Not Implemented")
        assert [r.status for r in ask("BYE")] == [481]  # no dialog
        # an ACK is never answered (known once a later OPTIONS is: rawsip.unanswered)
        ack = request("ACK", srv.port, src=TRUNK_IP, src_port=peer.port)
        assert peer.unanswered(ack, srv.port) == []
        assert [r.status for r in ask("OPTIONS")] == [200]  # pjsua's own answer
    finally:
        peer.close()
    wait_rejected(url, "method_not_allowed", 5)
    wait_rejected(url, "not_implemented", 1)
    wait_rejected(url, "no_dialog", 1)


def in_dialog(method: str, invite: str, ok: Reply, cseq: int, port: int, src_port: int) -> str:
    """A request inside the dialog `invite` + its 200 `ok` set up (we are the caller)."""
    lines = invite.split("\r\n")
    frm = next(ln for ln in lines if ln.startswith("From:"))
    cid = next(ln for ln in lines if ln.startswith("Call-ID:"))
    uri = ok.headers["contact"].strip("<>").split(">")[0]
    return (f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {TRUNK_IP}:{src_port};branch=z9hG4bK{uuid.uuid4().hex[:16]}"
            ";rport\r\nMax-Forwards: 70\r\n"
            f"{frm}\r\nTo: {ok.headers['to']}\r\n{cid}\r\nCSeq: {cseq} {method}\r\n"
            "Content-Length: 0\r\n\r\n")


def test_unknown_method_inside_a_dialog_gets_pjsips_500(
        reject_server: tuple[Server, str]) -> None:
    srv, _ = reject_server
    peer = UdpPeer(TRUNK_IP)
    try:
        invite = request("INVITE", srv.port, src=TRUNK_IP, src_port=peer.port,
                         number="+14155550100", body=SDP_PCMU.format(ip=TRUNK_IP, rtp=40000))
        replies = peer.exchange(invite, srv.port, timeout=5.0)
        assert replies[-1].status == 200, [r.status for r in replies]
        ok = replies[-1]
        peer.send(in_dialog("ACK", invite, ok, 1, srv.port, peer.port), srv.port)
        foo = peer.exchange(in_dialog("FOO", invite, ok, 2, srv.port, peer.port), srv.port)
        assert [(r.status, r.reason) for r in foo] == [(500, "Unhandled by dialog usages")]
        bye = peer.exchange(in_dialog("BYE", invite, ok, 3, srv.port, peer.port), srv.port)
        assert [r.status for r in bye] == [200]
    finally:
        peer.close()
