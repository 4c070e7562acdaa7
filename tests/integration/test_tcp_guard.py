"""The TCP guard (scripts/pjproject-patches/22-tcp-guard.patch, vio_sbc/sip/tcpguard.py)
against the real server, with real TCP sockets on 127.0.0.x:

* a stranger's connections are closed at accept (nothing read, no descriptor kept);
* a trunk address gets at most `max_connections_per_source` at a time;
* a connection that sends no SIP message, or only keep-alives, is closed after
  `first_message_timeout_s`; one nothing uses after `idle_timeout_s`;
* the listener's backlog is `sip.tcp.backlog` (the kernel's listen queue, read by ss).

Every check waits on the server's own counters or on the socket's end, bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
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
    metric,
    start_server,
    wait_metric,
)
from tests.integration.rawsip import parse_reply, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TCP = ("  tcp: {{max_connections_per_source: 3, idle_timeout_s: 2, "
       "first_message_timeout_s: 1, backlog: 300}}\n")


@pytest.fixture(scope="module")
def srv_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 50\n" + TCP)
    srv = start_server(tmp_path_factory.mktemp("tcp"),
                       text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n")
    srv.wait_event("http_listening")
    try:
        yield srv, f"http://127.0.0.1:{http}/metrics"
    finally:
        assert srv.stop() == 0, srv.raw[-20:]


def wait_event_count(url: str, event: str, at_least: float) -> float:
    return wait_metric(url, "vio_tcp_connections_total", at_least, 15.0, event=event)


def tcp_event(url: str, event: str) -> float:
    return metric(url, "vio_tcp_connections_total", event=event)


def connect(src: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s: socket.socket, timeout: float = 15.0) -> bool:
    """True once the server closed the connection (EOF or RST); False at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if s.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


def refused(src: str, port: int) -> bool:
    """A new connection from `src` is closed by the server (the RST may even beat
    connect()'s return)."""
    try:
        s = connect(src, port)
    except ConnectionResetError:
        return True
    try:
        return closed_by_server(s, 5.0)
    finally:
        s.close()


def options(s: socket.socket, port: int, src: str) -> int:
    """OPTIONS on the connection; the status of the answer."""
    s.sendall(request("OPTIONS", port, src=src, src_port=s.getsockname()[1],
                      transport="TCP").encode())
    s.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before an answer")
        data += chunk
    return parse_reply(data).status


def server_fds(srv: Server) -> int:
    return len(os.listdir(f"/proc/{srv.proc.pid}/fd"))


def test_stranger_connections_are_closed_at_accept(srv_url: tuple[Server, str]) -> None:
    srv, url = srv_url
    before = tcp_event(url, "refused_stranger")
    fds = server_fds(srv)
    assert all(refused(STRANGER_IP, srv.port) for _ in range(50))
    wait_event_count(url, "refused_stranger", before + 50)
    assert server_fds(srv) <= fds + 2  # none kept (a log or DB file may come and go)
    with socket.socket() as late:  # and what it sends is never answered
        late.bind((STRANGER_IP, 0))
        try:
            late.connect(("127.0.0.1", srv.port))
            late.sendall(request("OPTIONS", srv.port, src=STRANGER_IP,
                                 transport="TCP").encode())
        except OSError:
            pass
        assert closed_by_server(late, 5.0)


def test_a_trunk_address_gets_at_most_its_cap(srv_url: tuple[Server, str]) -> None:
    srv, url = srv_url
    before = tcp_event(url, "refused_per_source_cap")
    held = [connect(TRUNK_IP, srv.port) for _ in range(3)]
    try:
        assert [options(s, srv.port, TRUNK_IP) for s in held] == [200, 200, 200]
        assert refused(TRUNK_IP, srv.port)
        wait_event_count(url, "refused_per_source_cap", before + 1)
        held.pop().close()  # one goes: the address may open another
        deadline = time.monotonic() + 10
        while True:
            again = connect(TRUNK_IP, srv.port)
            try:
                assert options(again, srv.port, TRUNK_IP) == 200
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:  # the server saw the close only now
                    raise
            finally:
                again.close()
            time.sleep(0.1)
        assert options(held[0], srv.port, TRUNK_IP) == 200  # the others were never touched
    finally:
        for s in held:
            s.close()


def test_silent_and_idle_connections_are_closed(srv_url: tuple[Server, str]) -> None:
    srv, url = srv_url
    silent0, idle0 = tcp_event(url, "closed_no_first_message"), tcp_event(url, "closed_idle")
    silent, idle = connect(TRUNK_IP, srv.port), connect(TRUNK_IP, srv.port)
    keepalive = connect(TRUNK_IP, srv.port)
    try:
        keepalive.sendall(b"\r\n\r\n")  # keep-alives are no SIP message
        assert options(idle, srv.port, TRUNK_IP) == 200
        assert closed_by_server(silent) and closed_by_server(keepalive)
        assert closed_by_server(idle)
        wait_event_count(url, "closed_no_first_message", silent0 + 2)
        wait_event_count(url, "closed_idle", idle0 + 1)
    finally:
        for s in (silent, idle, keepalive):
            s.close()


def test_the_listen_backlog_is_configured(srv_url: tuple[Server, str]) -> None:
    """ss shows a listening socket's backlog as its Send-Q: 300 here, where pjsip's 5
    let a carrier's reconnect burst through at the pace of SYN retransmissions."""
    srv, _ = srv_url
    out = subprocess.run(["ss", "-Hltn", f"sport = :{srv.port}"], capture_output=True,
                         text=True, timeout=10, check=True).stdout.split()
    assert int(out[2]) == 300, out


def test_defaults_without_a_tcp_section(tmp_path: Path) -> None:
    """The documented defaults are what the server applies."""
    srv = start_server(tmp_path)
    try:
        ev = srv.wait_event("tcp_guard")
        assert (ev["backlog"], ev["max_connections_per_source"], ev["idle_timeout_s"],
                ev["first_message_timeout_s"]) == (1024, 32, 600, 10)
        out = subprocess.run(["ss", "-Hltn", f"sport = :{srv.port}"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.split()
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        assert int(out[2]) == min(1024, somaxconn)
    finally:
        assert srv.stop() == 0, srv.raw[-20:]
