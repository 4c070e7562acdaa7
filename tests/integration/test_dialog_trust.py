"""Dialog trust against the real server (scripts/pjproject-patches/21-dialog-trust.patch,
vio_sbc/sip/trust.py, vio_sbc/callcontrol/dialog.py), with a raw-socket caller on the
trunk address 127.0.0.2 that counts the RTP it gets, and other peers on 127.0.0.x:

* a far-end REFER — to a foreign host or to the trunk's own outbound host with a
  premium number — is declined (603), logged and counted, and no INVITE reaches
  either address (listeners count every datagram);
* a stranger's INVITE with Replaces naming the live call is refused (403 in reject
  mode, nothing in drop mode), the trunk's gets 403 (481 when it names no dialog);
  the real call keeps its audio and ends normally;
* a stranger's re-INVITE and BYE inside the live dialog are refused; our RTP keeps
  going to the caller, never to the stranger; the caller's BYE ends the call;
* every sequence 20 times on one server, then SIGTERM with a call up: exit 0.

"No answer" is checked after the server's own counter has counted the request.
"""

from __future__ import annotations

import signal
import time
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
    start_server,
    wait_rejected,
)
from tests.integration.dialog_peer import Listener, RawCall, sdp
from tests.integration.rawsip import Reply, UdpPeer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FOREIGN_IP = "127.0.0.77"
SECOND_TRUNK_IP = "127.0.0.3"  # trunk `other` of BASE_CONFIG


def trust_server(tmp: Path, mode: str = "reject",
                 extra_args: list[str] | None = None) -> tuple[Server, str, Listener]:
    """BASE_CONFIG with /metrics, and trunk pbx given an outbound host: a listener on
    127.0.0.2 that counts what pjsua would send there."""
    trunk_host = Listener(TRUNK_IP)
    http = free_port()
    text = BASE_CONFIG.replace(
        "    number_format:",
        f"    outbound: {{{{host: {TRUNK_IP}, port: {trunk_host.port}, "
        "options_interval_s: 0}}\n    number_format:", 1)
    text += f"http: {{{{listen: 127.0.0.1:{http}}}}}\n"
    if mode == "drop":
        text = text.replace("  max_calls: 50\n", "  max_calls: 50\n  stranger_response: drop\n")
    srv = start_server(tmp, text, extra_args)
    srv.wait_event("sip_guard_installed", stranger_response=mode)
    srv.wait_event("http_listening")
    return srv, f"http://127.0.0.1:{http}/metrics", trunk_host


@pytest.fixture(scope="module")
def reject_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Server, str, Listener]]:
    srv, url, trunk_host = trust_server(tmp_path_factory.mktemp("trust"))
    try:
        yield srv, url, trunk_host
    finally:
        trunk_host.close()
        rc = srv.stop()
        assert rc == 0, srv.raw[-20:]


def live_call(srv: Server) -> RawCall:
    call = RawCall(srv.port, TRUNK_IP)
    call.start()
    call.wait_rtp(10, 0.0)  # the call has audio before anything happens to it
    return call


def end_normally(srv: Server, call: RawCall) -> None:
    """The caller's own BYE gets 200 and the row says the caller hung up."""
    try:
        assert [r.status for r in call.bye()] == [200]
        row = srv.call_row(call.call_id)
        assert (row["status"], row["hangup_side"]) == ("ended", "caller")
    finally:
        call.close()


def keeps_audio(call: RawCall, stranger_rtp: Listener | None = None) -> None:
    """RTP still reaches the caller after the attempt (and never the stranger)."""
    call.wait_rtp(25, time.monotonic())  # half a second of our audio, from now on
    if stranger_rtp is not None:
        assert stranger_rtp.datagrams() == []


def send_from(peer: UdpPeer, text: str, port: int) -> list[Reply]:
    peer.send(text, port)
    return peer.replies(timeout=5.0)


# -- REFER ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["foreign", "trunk_host"])
def test_far_end_refer_is_declined_and_nobody_is_dialled(
        reject_server: tuple[Server, str, Listener], target: str) -> None:
    srv, url, trunk_host = reject_server
    foreign = Listener(FOREIGN_IP)
    try:
        call = live_call(srv)
        trunk_host.datagrams()  # whatever came before (nothing is expected)
        refer_to = (f"sip:+19005551234@{FOREIGN_IP}:{foreign.port}" if target == "foreign"
                    else f"sip:011882912345678@{TRUNK_IP}:{trunk_host.port}")
        before = rejected(url, "refer_refused")
        refer = call.request("REFER", extra=f"Refer-To: <{refer_to}>\r\n"
                             f"Referred-By: <sip:caller@{TRUNK_IP}>\r\n")
        replies = call.peer.exchange(refer, srv.port)
        assert [r.status for r in replies] == [603]
        wait_rejected(url, "refer_refused", before + 1)
        ev = srv.wait_event("refer_refused", target=f"<{refer_to}>")
        assert (ev["source"], ev["answer"], ev["call_id"]) == (TRUNK_IP, 603,
                                                               _call_row_id(srv, call))
        assert foreign.datagrams() == [] and trunk_host.datagrams() == []
        keeps_audio(call)
        end_normally(srv, call)
        assert foreign.datagrams() == [] and trunk_host.datagrams() == []
    finally:
        foreign.close()
    with srv.db() as c:  # no leg of pjsua's own: one row for the call, none for a transfer
        assert c.execute("SELECT count(*) FROM calls WHERE direction = 'outbound'"
                         ).fetchone()[0] == 0
    # nor a pjsua call without our object (the sweep would have hung it up and said so)
    assert [e for e in srv.lines if e.get("event") == "foreign_call_hung_up"] == []


def _call_row_id(srv: Server, call: RawCall) -> str:
    return str(srv.call_row(call.call_id, final=False)["id"])


def test_our_refer_is_not_advertised(reject_server: tuple[Server, str, Listener]) -> None:
    """Supported has no replaces/norefersub, Allow no REFER (we honour neither)."""
    srv, _, _ = reject_server
    call = live_call(srv)
    try:
        assert call.answer is not None
        supported = call.answer.headers.get("supported", "").lower()
        allow = call.answer.headers.get("allow", "").upper()
        assert "replaces" not in supported and "norefersub" not in supported
        assert "INVITE" in allow and "REFER" not in allow.split(", ")
    finally:
        end_normally(srv, call)


# -- Replaces ---------------------------------------------------------------------------
def replaces_invite(call: RawCall, sender: UdpPeer, port: int, *, known: bool = True) -> str:
    """A new INVITE (new Call-ID, no To tag) whose Replaces names `call`'s dialog (or,
    with known=False, a dialog that does not exist)."""
    cid = call.call_id if known else f"gone-{call.call_id}"
    fake = RawCall(port, sender.src)
    try:
        fake.peer.close()
        fake.peer = sender
        text = fake.request("INVITE", body=sdp(sender.src, 40000), cseq=1,
                            uri=f"sip:{call.number}@127.0.0.1:{port}",
                            extra=f"Replaces: {cid};to-tag={call.to_tag};"
                                  f"from-tag={call.from_tag}\r\n")
    finally:
        fake.rtp.__exit__()
    return text


def test_stranger_replaces_is_refused_and_the_call_goes_on(
        reject_server: tuple[Server, str, Listener]) -> None:
    srv, url, _ = reject_server
    call = live_call(srv)
    stranger = UdpPeer(STRANGER_IP)
    stranger_rtp = Listener(STRANGER_IP, 40000)
    try:
        before = rejected(url, "replaces_refused")
        replies = send_from(stranger, replaces_invite(call, stranger, srv.port), srv.port)
        assert [r.status for r in replies] == [403]
        wait_rejected(url, "replaces_refused", before + 1)
        ev = srv.wait_event("replaces_refused", source=STRANGER_IP)
        assert ev["replaces_call"] == _call_row_id(srv, call) and ev["answer"] == 403
        keeps_audio(call, stranger_rtp)
        assert call.peer.replies(timeout=0.2, until_final=False) == []  # no BYE to us
    finally:
        stranger.close()
        stranger_rtp.close()
    end_normally(srv, call)


def test_trunk_replaces_gets_403_or_481(reject_server: tuple[Server, str, Listener]) -> None:
    srv, url, _ = reject_server
    call = live_call(srv)
    other = UdpPeer(SECOND_TRUNK_IP)
    try:
        before = rejected(url, "replaces_refused")
        same_trunk = UdpPeer(TRUNK_IP)
        try:
            assert [r.status for r in send_from(
                same_trunk, replaces_invite(call, same_trunk, srv.port), srv.port)] == [403]
            assert [r.status for r in send_from(
                same_trunk, replaces_invite(call, same_trunk, srv.port, known=False),
                srv.port)] == [481]
        finally:
            same_trunk.close()
        assert [r.status for r in send_from(
            other, replaces_invite(call, other, srv.port), srv.port)] == [403]
        wait_rejected(url, "replaces_refused", before + 3)
        keeps_audio(call)
    finally:
        other.close()
    end_normally(srv, call)


# -- dialog hijack ----------------------------------------------------------------------
def test_stranger_reinvite_and_bye_are_refused_and_audio_stays(
        reject_server: tuple[Server, str, Listener]) -> None:
    srv, url, _ = reject_server
    call = live_call(srv)
    stranger = UdpPeer(STRANGER_IP)
    stranger_rtp = Listener(STRANGER_IP)
    try:
        before = rejected(url, "in_dialog_refused")
        reinvite = call.request("INVITE", sender=stranger,
                                body=sdp(STRANGER_IP, stranger_rtp.port))
        assert [r.status for r in send_from(stranger, reinvite, srv.port)] == [403]
        bye = call.request("BYE", sender=stranger)
        assert [r.status for r in send_from(stranger, bye, srv.port)] == [403]
        wait_rejected(url, "in_dialog_refused", before + 2)
        ev = srv.wait_event("in_dialog_refused", source=STRANGER_IP, method="BYE")
        assert ev["call_id"] == _call_row_id(srv, call) and ev["source_class"] == "stranger"
        keeps_audio(call, stranger_rtp)
    finally:
        stranger.close()
        stranger_rtp.close()
    end_normally(srv, call)


def test_another_trunk_may_not_act_in_the_call(
        reject_server: tuple[Server, str, Listener]) -> None:
    """127.0.0.3 is trunk `other`: known, but not this call's trunk."""
    srv, url, _ = reject_server
    call = live_call(srv)
    other = UdpPeer(SECOND_TRUNK_IP)
    try:
        before = rejected(url, "in_dialog_refused")
        bye = call.request("BYE", sender=other)
        assert [r.status for r in send_from(other, bye, srv.port)] == [403]
        wait_rejected(url, "in_dialog_refused", before + 1)
        keeps_audio(call)
    finally:
        other.close()
    end_normally(srv, call)


def test_the_peer_itself_still_acts_in_its_call(
        reject_server: tuple[Server, str, Listener]) -> None:
    """A re-INVITE from the caller (hold: sendonly) is answered 200 as before."""
    srv, _, _ = reject_server
    call = live_call(srv)
    try:
        hold = sdp(TRUNK_IP, call.rtp.port).replace("a=sendrecv", "a=sendonly")
        replies = call.peer.exchange(call.request("INVITE", body=hold), srv.port)
        assert replies[-1].status == 200
        call.ack(call.cseq)
        srv.wait_event("call_held", call_id=_call_row_id(srv, call))
    finally:
        end_normally(srv, call)


# -- drop mode --------------------------------------------------------------------------
def test_drop_mode_strangers_get_nothing_inside_a_dialog(tmp_path: Path) -> None:
    srv, url, trunk_host = trust_server(tmp_path, "drop")
    try:
        call = live_call(srv)
        stranger = UdpPeer(STRANGER_IP)
        try:
            b_dialog = rejected(url, "in_dialog_refused")
            b_replaces = rejected(url, "replaces_refused")
            stranger.send(call.request("BYE", sender=stranger), srv.port)
            stranger.send(replaces_invite(call, stranger, srv.port), srv.port)
            stranger.send(call.request("REFER", sender=stranger,
                                       extra=f"Refer-To: <sip:+1900@{FOREIGN_IP}>\r\n"),
                          srv.port)
            wait_rejected(url, "in_dialog_refused", b_dialog + 1)
            wait_rejected(url, "replaces_refused", b_replaces + 1)
            wait_rejected(url, "refer_refused", 1)
            assert stranger.replies(timeout=0.3, until_final=False) == []
        finally:
            stranger.close()
        keeps_audio(call)
        end_normally(srv, call)
    finally:
        trunk_host.close()
        assert srv.stop() == 0, srv.raw[-20:]


# -- 20 times, then SIGTERM with a call up ----------------------------------------------
def test_every_sequence_twenty_times_then_sigterm_exits_0(tmp_path: Path) -> None:
    srv, url, trunk_host = trust_server(tmp_path, extra_args=["--grace", "1"])
    foreign = Listener(FOREIGN_IP)
    stranger = UdpPeer(STRANGER_IP)
    call: RawCall | None = None
    try:
        for i in range(20):
            call = live_call(srv)
            refer = call.request("REFER", extra=f"Refer-To: <sip:+1900{i}@{FOREIGN_IP}:"
                                                f"{foreign.port}>\r\n")
            assert [r.status for r in call.peer.exchange(refer, srv.port)] == [603]
            assert [r.status for r in send_from(
                stranger, replaces_invite(call, stranger, srv.port), srv.port)] == [403]
            # a BYE on the dialog the Replaces would have made: no such dialog
            ghost = RawCall(srv.port, STRANGER_IP)
            ghost.rtp.__exit__()
            ghost.peer.close()
            ghost.peer, ghost.to_tag = stranger, "ghost"
            assert [r.status for r in send_from(stranger, ghost.request("BYE"), srv.port)
                    ] == [403]
            assert [r.status for r in send_from(
                stranger, call.request("INVITE", sender=stranger,
                                       body=sdp(STRANGER_IP, 40002)), srv.port)] == [403]
            assert [r.status for r in send_from(
                stranger, call.request("BYE", sender=stranger), srv.port)] == [403]
            if i < 19:
                end_normally(srv, call)
        assert rejected(url, "refer_refused") >= 20
        assert foreign.datagrams() == [] and trunk_host.datagrams() == []
        assert call is not None
        call.wait_rtp(10, time.monotonic())  # the 20th call is up when SIGTERM comes
        srv.proc.send_signal(signal.SIGTERM)
        call.wait_request("BYE", timeout=20)  # --grace 1: hung up after a second
        rc = srv.proc.wait(30)
        assert rc == 0, srv.raw[-30:]
        srv.wait_event("stopped")
        row = srv.call_row(call.call_id)
        assert (row["status"], row["hangup_side"]) == ("ended", "system")
    finally:
        stranger.close()
        foreign.close()
        trunk_host.close()
        if call is not None:
            call.close()
        srv.stop()
