"""qa.runner.options_ping: what counts as "a SIP server is answering"."""

from __future__ import annotations

import socket
import threading

import pytest

from vio_sbc.qa.runner import options_ping


def _responder(answers: list[bytes]) -> tuple[socket.socket, threading.Thread]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)

    def run() -> None:
        try:
            _, peer = s.recvfrom(65535)
            for a in answers:
                s.sendto(a, peer)
        except OSError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return s, t


@pytest.mark.parametrize("answers, up", [
    ([b"SIP/2.0 200 OK\r\n\r\n"], True),
    ([b"SIP/2.0 100 Trying\r\n\r\n", b"SIP/2.0 403 Forbidden\r\n\r\n"], True),
    ([b"SIP/2.0 403 Forbidden\r\n\r\n"], True),   # stranger_response: reject
    ([b"HTTP/1.1 400 Bad Request\r\n\r\n"], False),
    ([], False),                                    # stranger_response: drop / nothing
])
def test_any_final_sip_answer_means_up(answers: list[bytes], up: bool) -> None:
    s, t = _responder(answers)
    try:
        assert options_ping("127.0.0.1", s.getsockname()[1], "127.0.0.1", timeout=0.5) is up
    finally:
        t.join(6)
        s.close()
