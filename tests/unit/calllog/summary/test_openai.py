"""The OpenAI-compatible provider against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from vio_sbc.calllog.summary.extractive import CallFacts, Line
from vio_sbc.calllog.summary.openai import (
    Job,
    OpenAiSummariser,
    SummaryError,
    SummaryWorker,
    endpoint,
)
from vio_sbc.config.model import SummarySettings

pytestmark = pytest.mark.timeout(30)

LINES = (Line("agent", "Hello, how can I help?", 0, 1000),
         Line("caller", "I need a refund.", 1500, 3000))


class Handler(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                             "body": json.loads(body)})
        if Handler.mode == "ok":
            self._send(200, {"choices": [{"message": {"content": " Refund request. \n"}}]})
        elif Handler.mode == "500":
            self._send(500, {"error": {"message": "model overloaded"}})
        elif Handler.mode == "garbage":
            self._send(200, {"nope": 1})
        elif Handler.mode == "401":  # as some providers do: quote the rejected key
            key = str(self.headers.get("Authorization")).removeprefix("Bearer ")
            self._send(401, {"error": f"Incorrect API key provided: {key}"})

    def _send(self, status: int, obj: object) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    Handler.seen = []
    Handler.mode = "ok"
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _provider(url: str, timeout: float = 5.0) -> OpenAiSummariser:
    return OpenAiSummariser(SummarySettings("openai", url, "tiny-model", "sk-secret", timeout))


def test_success(server: str) -> None:
    text = _provider(server).summarise(LINES, CallFacts("ended", "caller", duration_s=3))
    assert text == "Refund request."
    req = Handler.seen[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer sk-secret"
    assert req["body"]["model"] == "tiny-model"
    user = req["body"]["messages"][1]["content"]
    assert "[00:01] caller: I need a refund." in user
    assert "How the call ended: caller hung up after 3 s." in user


@pytest.mark.parametrize(("mode", "message"), [
    ("500", 'HTTP 500 Internal Server Error: {"error": {"message": "model overloaded"}}'),
    ("garbage", "response is not a chat completion (no choices[0].message.content)"),
    ("401", 'HTTP 401 Unauthorized: {"error": "Incorrect API key provided: ***"}'),
])
def test_failures_raise_with_a_precise_message(server: str, mode: str, message: str) -> None:
    Handler.mode = mode
    with pytest.raises(SummaryError) as info:
        _provider(server).summarise(LINES, CallFacts("ended", "caller"))
    assert str(info.value) == message


def test_unreachable() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(SummaryError, match=r"cannot reach http://127.0.0.1:\d+/chat/completions"):
        _provider(f"http://127.0.0.1:{port}", timeout=2).summarise(LINES, CallFacts("ended"))


def test_endpoint() -> None:
    assert endpoint("http://h/v1/") == "http://h/v1/chat/completions"
    assert endpoint("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


def test_worker_reports_success_and_failure_off_thread(server: str) -> None:
    results: list[tuple[str, str | None, str | None]] = []
    done = threading.Event()

    def on_result(call_id: str, text: str | None, error: str | None) -> None:
        results.append((call_id, text, error))
        if len(results) == 2:
            done.set()

    worker = SummaryWorker(_provider(server), on_result)
    worker.start()
    worker.submit(Job("a", LINES, CallFacts("ended", "caller")))
    worker.stop()  # finishes the queued job first
    Handler.mode = "500"
    worker2 = SummaryWorker(_provider(server), on_result)
    worker2.start()
    worker2.submit(Job("b", LINES, CallFacts("ended", "caller")))
    assert done.wait(10)
    worker2.stop()
    assert results[0] == ("a", "Refund request.", None)
    assert results[1][0] == "b" and results[1][1] is None
    assert results[1][2] is not None and results[1][2].startswith("HTTP 500")
