"""In-dialog requests over TCP reuse the connection the caller opened (issue 20 item 1):
our BYE to a TCP caller goes back on its own connection, not on a new one to its
Contact (which a caller behind NAT never receives); once that connection is gone, it
falls back to a new connection to the Contact. The caller is real sockets
(tests/integration/tcp_peer.py); the BYE is the operator's hangup (control socket)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, Server, start_server
from tests.integration.tcp_peer import TcpCaller
from vio_sbc import control

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def call_row_id(server: Server, sip_call_id: str) -> str:
    return str(server.call_row(sip_call_id, final=False)["id"])


def hang_up(server: Server, call_id: str) -> None:
    reply = list(control.call(control.socket_path(server.dir), {"op": "hangup",
                                                                "call_id": call_id}))[-1]
    assert reply.get("ok"), reply


def test_bye_to_a_tcp_caller_comes_on_its_own_connection(server: Server) -> None:
    caller = TcpCaller(server.port)
    try:
        caller.start()
        row = call_row_id(server, caller.call_id)
        server.wait_event("media_active", call_id=row)
        hang_up(server, row)
        where, bye = caller.wait_request("BYE")
        assert where == "caller", f"BYE came on a new connection to the Contact:\n{bye}"
        assert bye.startswith(f"BYE sip:caller@127.0.0.2:{caller.contact_port}")
        assert f"Via: SIP/2.0/TCP 127.0.0.1:{server.port};" in bye  # that connection's
        final = server.call_row(caller.call_id)
        assert (final["status"], final["hangup_side"]) == ("ended", "system")
        caller.accept_new()
        extra = [st.next(1.0) for _, st in caller.accepted]
        assert extra == []  # and nothing else: no connection to the Contact
    finally:
        caller.close()


def test_bye_falls_back_to_the_contact_once_the_connection_is_gone(tmp_path: Path) -> None:
    # pjsip's own log (level 4) says when it saw the caller's connection close
    srv = start_server(tmp_path, BASE_CONFIG + "log:\n  level: debug\n  pjsip_level: 4\n")
    caller = TcpCaller(srv.port)
    try:
        caller.start()
        row = call_row_id(srv, caller.call_id)
        srv.wait_event("media_active", call_id=row)
        seen = len(srv.lines)
        caller.conn.close()  # the caller's connection goes; the call stays up
        deadline = time.monotonic() + 10
        while not any("TCP connection closed" in str(ln.get("msg"))
                      for ln in srv.lines[seen:]):
            assert time.monotonic() < deadline, "the server never saw the connection close"
            time.sleep(0.05)
        hang_up(srv, row)
        where, bye = caller.wait_request("BYE")
        assert where == "contact", bye
        assert len(caller.accepted) == 1
        final = srv.call_row(caller.call_id)
        assert (final["status"], final["final_status"]) == ("ended", 200)
    finally:
        caller.close()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
