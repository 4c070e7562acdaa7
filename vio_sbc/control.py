"""Local control channel of a running server: JSON lines over a Unix socket.

The server listens on `<storage.dir>/control.sock` (mode 0600: only the
user running the server, and root, may talk to it). A client connects, sends
one JSON object on one line (`{"op": "status"}`, `{"op": "reload"}`,
`{"op": "call_out", "from": "+1...", "to": "+1...", "agent": null}`) and reads
JSON lines back until one carries `"final": true`. Each connection is served
by a short-lived thread that hands the request to the SIP main thread
(`Request` on a queue drained by a tick hook) and writes what the main thread
replies; nothing here touches pjsua2.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from vio_sbc.fileperm import private_dir

SOCKET_NAME = "control.sock"
MAX_REQUEST = 65536
REPLY_WAIT_S = 4 * 3600.0  # longest a connection waits for its final reply (a long call)

log = structlog.get_logger("vio_sbc.control")


class ControlError(Exception):
    """No server answers on the socket, or it sent something unreadable."""


def socket_path(storage_dir: str | Path) -> Path:
    return Path(storage_dir) / SOCKET_NAME


@dataclass(eq=False)
class Request:
    op: str
    args: dict[str, Any]
    replies: queue.SimpleQueue[dict[str, Any]] = field(default_factory=queue.SimpleQueue)

    def send(self, msg: dict[str, Any], final: bool = True) -> None:
        """Reply (any thread); the connection closes after the final reply."""
        self.replies.put({**msg, "final": final})


class ControlServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="control", daemon=True)

    def start(self) -> None:
        private_dir(self.path.parent)
        if self.path.exists():  # left by a crash: only reuse it if nobody answers
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(1.0)
                    probe.connect(str(self.path))
                raise ControlError(f"a server already listens on {self.path}")
            except (ConnectionRefusedError, FileNotFoundError):
                self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread.start()
        log.info("control_listening", path=str(self.path))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self.path.unlink(missing_ok=True)

    def pending(self) -> Iterator[Request]:
        """Requests waiting for the main thread."""
        while True:
            try:
                yield self.requests.get_nowait()
            except queue.Empty:
                return

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="control-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                line = _read_line(conn)
                if not line.strip():
                    return  # a probe (server_running) or a client that gave up
                msg = json.loads(line)
                if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
                    raise ValueError("expected a JSON object with an 'op'")
            except (OSError, ValueError) as exc:
                try:
                    _write(conn, {"ok": False, "error": f"bad request: {exc}", "final": True})
                except OSError:
                    pass
                return
            req = Request(op=msg.pop("op"), args=msg)
            self.requests.put(req)
            try:
                while True:
                    reply = req.replies.get(timeout=REPLY_WAIT_S)
                    _write(conn, reply)
                    if reply.get("final"):
                        return
            except (queue.Empty, OSError):
                return


def _read_line(conn: socket.socket) -> str:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_REQUEST:
            raise ValueError("request too long")
    return buf.split(b"\n", 1)[0].decode("utf-8")


def _write(conn: socket.socket, msg: dict[str, Any]) -> None:
    conn.sendall(json.dumps(msg).encode("utf-8") + b"\n")


def server_running(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect(str(path))
        return True
    except OSError:
        return False


def call(path: Path, msg: dict[str, Any], timeout: float = 30.0) -> Iterator[dict[str, Any]]:
    """Send one request; yield replies until the final one. Raises ControlError when
    no server answers or a reply does not come within `timeout` seconds."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(path))
    except OSError as exc:
        raise ControlError(f"no server on {path}: {exc.strerror or exc}") from None
    with s, s.makefile("rb") as f:
        try:
            _write(s, msg)
            for raw in f:
                reply = json.loads(raw)
                yield reply
                if reply.get("final"):
                    return
        except (OSError, ValueError) as exc:
            raise ControlError(f"control channel {path}: {exc}") from None
    raise ControlError(f"control channel {path}: closed without a final reply")
