"""Message limits (scripts/pjproject-patches/23-sip-limits.patch, sip.limits,
vio_sbc/callcontrol/limits.py) and offers, against the real server from raw sockets:

* a 64 KB UDP INVITE (cut by pjsip's 4,000-byte buffer) is answered 413, a message
  over `max_message_bytes` too; more headers than `max_headers` 400; an SDP with more
  m= lines than `sdp_max_media`, or one with 300 payload types, 488 — each counted
  under its reason, no call row; a re-INVITE over a limit gets 488 and the call goes on;
* a stranger over the limits still gets only the stranger's answer;
* the offer pjsua writes itself (a delayed-offer INVITE's 200) is audio only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

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
from tests.integration.dialog_peer import RawCall, sdp
from tests.integration.rawsip import UdpPeer, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LIMITS = "  limits: {{max_message_bytes: 3000, max_headers: 40}}\n"


@pytest.fixture(scope="module")
def srv_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 50\n" + LIMITS)
    server = start_server(tmp_path_factory.mktemp("limits"),
                          text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n")
    server.wait_event("http_listening")
    try:
        yield server, f"http://127.0.0.1:{http}/metrics"
    finally:
        assert server.stop() == 0, server.raw[-20:]






def pts_sdp(n: int) -> str:
    """An offer whose audio line lists `n` payload types (PCMU first)."""
    fmts = " ".join(str(i) for i in range(n))
    return sdp(TRUNK_IP, 40000).replace("RTP/AVP 0 101", f"RTP/AVP {fmts}")


def media_sdp(n: int) -> str:
    base = sdp(TRUNK_IP, 40000)
    head, _, media = base.partition("m=audio")
    return head + "".join(f"m=audio{media.replace('40000', str(40000 + 2 * i))}"
                          for i in range(n))


CASES = {  # name: (invite extra headers, body, status, reason)
    "64 KB datagram": ("X-Pad: " + "a" * 65000 + "\r\n", "", 413, "too_large"),
    "over max_message_bytes": ("X-Pad: " + "a" * 3100 + "\r\n", "", 413, "too_large"),
    "over max_headers": ("".join(f"X-H{i}: {i}\r\n" for i in range(35)), "", 400,
                   "too_many_headers"),
    "9 m= lines": ("", media_sdp(9), 488, "sdp_too_many_media"),
    "300 payload types": ("", pts_sdp(300), 488, "sdp_too_many_formats"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_over_a_limit_is_refused_with_its_answer(srv_url: tuple[Server, str],
                                                 case: str) -> None:
    srv, url = srv_url
    extra, body, status, reason = CASES[case]
    peer = UdpPeer(TRUNK_IP)
    try:
        before = rejected(url, reason)
        invite = request("INVITE", srv.port, src=TRUNK_IP, src_port=peer.port, body=body,
                         extra=extra)
        replies = peer.exchange(invite, srv.port, timeout=5.0)
        assert [r.status for r in replies] == [status], [r.text[:200] for r in replies]
        if status == 400:
            assert replies[0].reason == "Too Many Headers"
        wait_rejected(url, reason, before + 1)
    finally:
        peer.close()
    with srv.db() as c:  # refused before pjsua and the application: no call row
        assert c.execute("SELECT count(*) FROM calls WHERE sip_call_id LIKE 'raw-%'"
                         ).fetchone()[0] == 0


def test_within_the_limits_is_answered(srv_url: tuple[Server, str]) -> None:
    """A re-INVITE with 32 payload types (sdp_max_formats): not refused, not off by one."""
    srv, _ = srv_url
    call = RawCall(srv.port, TRUNK_IP)
    try:
        call.start()
        replies = call.peer.exchange(call.request("INVITE", body=pts_sdp(32).replace(
            "127.0.0.2 40000", f"{TRUNK_IP} {call.rtp.port}")), srv.port)
        assert replies[-1].status == 200
        call.ack(call.cseq)
        assert [r.status for r in call.bye()] == [200]
    finally:
        call.close()


def test_a_reinvite_over_a_limit_gets_488_and_the_call_goes_on(
        srv_url: tuple[Server, str]) -> None:
    srv, url = srv_url
    call = RawCall(srv.port, TRUNK_IP)
    try:
        call.start()
        call.wait_rtp(10, 0.0)
        before = rejected(url, "sdp_too_many_formats")
        replies = call.peer.exchange(call.request("INVITE", body=pts_sdp(300)),
                                     srv.port)
        assert [r.status for r in replies] == [488]
        wait_rejected(url, "sdp_too_many_formats", before + 1)
        call.wait_rtp(25, time.monotonic())
        assert [r.status for r in call.bye()] == [200]
    finally:
        call.close()


def test_a_stranger_gets_the_strangers_answer_whatever_its_size(
        srv_url: tuple[Server, str]) -> None:
    srv, url = srv_url
    peer = UdpPeer(STRANGER_IP)
    try:
        before = rejected(url, "too_large")
        text = request("OPTIONS", srv.port, src=STRANGER_IP, src_port=peer.port,
                       extra="X-Pad: " + "a" * 65000 + "\r\n")
        assert [r.status for r in peer.exchange(text, srv.port)] == [403]
        assert rejected(url, "too_large") == before
    finally:
        peer.close()


def test_delayed_offer_200_offers_audio_only(srv_url: tuple[Server, str]) -> None:
    """An INVITE without SDP: our 200 carries the offer, with one m=audio line and no
    m=text (pjsua's default call setting also offers real-time text)."""
    srv, _ = srv_url
    call = RawCall(srv.port, TRUNK_IP)
    try:
        answer = call.start(offer=False)
        body = answer.text.split("\r\n\r\n", 1)[1]
        media = [ln for ln in body.split("\r\n") if ln.startswith("m=")]
        assert len(media) == 1 and media[0].startswith("m=audio "), body
        call.wait_rtp(10, 0.0)  # our answer in the ACK was taken: audio flows
        assert [r.status for r in call.bye()] == [200]
    finally:
        call.close()
