"""RTP ports run out (docs/security.md, "RTP ports exhausted"): with `rtp.ports` one
RTP/RTCP pair wide, the call holding it keeps its audio; the next INVITE is answered
`500` by pjsua at once (it opens a call's media transport when the INVITE arrives, so
the application never sees it: no call row), never left unanswered; nothing crashes,
and once the first call has ended the pair serves a new call."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, TRUNK_IP, free_rtp_range, start_server
from tests.integration.dialog_peer import RawCall, sdp
from tests.integration.rawsip import UdpPeer, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_no_free_rtp_port_gets_a_final_answer_and_the_live_call_goes_on(
        tmp_path: Path) -> None:
    low = free_rtp_range("127.0.0.1", 2)[0]
    text = BASE_CONFIG.replace("ports: {rtp_min}-{rtp_max}", f"ports: {low}-{low + 1}")
    assert f"ports: {low}-{low + 1}" in text
    srv = start_server(tmp_path, text)
    first = RawCall(srv.port, TRUNK_IP)
    try:
        first.start()
        first.wait_rtp(10, 0.0)
        peer = UdpPeer(TRUNK_IP)
        try:
            invite = request("INVITE", srv.port, src=TRUNK_IP, src_port=peer.port,
                             body=sdp(TRUNK_IP, 40100))
            replies = peer.exchange(invite, srv.port, timeout=10.0)
        finally:
            peer.close()
        assert [(r.status, r.reason) for r in replies] == [(500, "Server Internal Error")]
        first.wait_rtp(25, time.monotonic())  # the live call keeps its audio
        assert [r.status for r in first.bye()] == [200]
        row = srv.call_row(first.call_id)
        assert (row["status"], row["hangup_side"]) == ("ended", "caller")
        # the pair is free again: a new call is answered with audio
        again = RawCall(srv.port, TRUNK_IP)
        try:
            again.start()
            again.wait_rtp(10, 0.0)
            assert [r.status for r in again.bye()] == [200]
        finally:
            again.close()
    finally:
        first.close()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
    with srv.db() as c:  # the refused INVITE never reached the application
        assert c.execute("SELECT count(*) FROM calls").fetchone()[0] == 2
