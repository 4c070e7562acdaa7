"""The control channel: JSON lines over a Unix socket, answered by the main thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vio_sbc import control
from vio_sbc.control import ControlError, ControlServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    srv = ControlServer(control.socket_path(tmp_path / "var"))
    srv.start()
    stop = threading.Event()

    def main_thread() -> None:  # stands in for the SIP loop's tick hook
        while not stop.wait(0.01):
            for req in srv.pending():
                if req.op == "echo":
                    req.send({"ok": True, "args": req.args})
                elif req.op == "two":
                    req.send({"ok": True, "step": 1}, final=False)
                    req.send({"ok": True, "step": 2})

    t = threading.Thread(target=main_thread, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        stop.set()
        t.join(2)
        srv.stop()


def test_request_and_reply(server: ControlServer) -> None:
    assert control.server_running(server.path)
    replies = list(control.call(server.path, {"op": "echo", "x": 1}, timeout=5))
    assert replies == [{"ok": True, "args": {"x": 1}, "final": True}]


def test_replies_until_final(server: ControlServer) -> None:
    steps = [r["step"] for r in control.call(server.path, {"op": "two"}, timeout=5)]
    assert steps == [1, 2]


def test_socket_is_private(server: ControlServer) -> None:
    assert server.path.stat().st_mode & 0o777 == 0o600


def test_bad_request_is_answered(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(server.path))
        s.sendall(b"[1, 2]\n")
        reply = s.makefile("rb").readline()
    assert b"bad request: expected a JSON object with an 'op'" in reply


def test_second_server_on_the_same_socket_is_refused(server: ControlServer) -> None:
    with pytest.raises(ControlError, match="a server already listens on"):
        ControlServer(server.path).start()


def test_no_server(tmp_path: Path) -> None:
    path = control.socket_path(tmp_path)
    assert not control.server_running(path)
    with pytest.raises(ControlError, match="no server on"):
        list(control.call(path, {"op": "status"}))


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = control.socket_path(tmp_path)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a crash leaves
    srv = ControlServer(path)
    srv.start()
    try:
        assert control.server_running(path)
    finally:
        srv.stop()
    assert not path.exists()
