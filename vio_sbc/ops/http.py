"""The operator's HTTP endpoint: /healthz, /readyz, /metrics on its own thread, and every
other path handed to the web console when one is configured (a `WebApp`).

Liveness is the SIP main loop's heartbeat; readiness is a set of named checks
(transport up, call log written and writable, and whatever else registers one: trunk
registrations, the dialer...). Checks run on the HTTP thread: they must only read
state or do their own short I/O."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from vio_sbc.ops.metrics import Metrics

log = structlog.get_logger("vio_sbc.ops")

Check = Callable[[], tuple[bool, str]]
# the web console (vio_sbc/console/app.py): (method, target, headers, body) ->
# (status, content type, extra headers, body); every other path of the endpoint is its
WebApp = Callable[[str, str, dict[str, str], bytes],
                  tuple[int, str, list[tuple[str, str]], bytes]]
MAX_BODY = 64 * 1024
STALE_S = 5.0  # a main loop silent this long is not alive


class Health:
    def __init__(self) -> None:
        self.heartbeat = time.monotonic()
        self.checks: dict[str, Check] = {}

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.heartbeat
        return age < STALE_S, f"main loop {age:.1f} s ago"

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def ready(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        results: dict[str, dict[str, Any]] = {}
        for name, check in sorted(self.checks.items()):
            try:
                ok, detail = check()
            except Exception as exc:  # a check that fails to run is a failed check
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        return all(r["ok"] for r in results.values()), results


class OpsServer:
    def __init__(self, host: str, port: int, health: Health, metrics: Metrics,
                 app: WebApp | None = None) -> None:
        self.health = health
        self.metrics = metrics
        self.app = app
        handler = _handler(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ops-http",
                                       daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _handler(ops: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "vio-sbc"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes are not log lines

        def _send(self, status: int, body: bytes, ctype: str,
                  headers: list[tuple[str, str]] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers or []:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _app(self) -> None:
            if ops.app is None:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, b"request too large\n", "text/plain; charset=utf-8")
                return
            body = self.rfile.read(length) if length else b""
            try:
                status, ctype, headers, out = ops.app(self.command, self.path,
                                                      dict(self.headers.items()), body)
            except Exception:
                log.exception("console_request_failed", path=self.path.split("?", 1)[0])
                status, ctype, headers, out = 500, "text/plain; charset=utf-8", [], \
                    b"internal error\n"
            self._send(status, out, ctype, [*headers, ("X-Frame-Options", "DENY"),
                                            ("X-Content-Type-Options", "nosniff")])

        def do_POST(self) -> None:
            self._app()

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok, detail = ops.health.alive()
                self._send(200 if ok else 503, (("ok " if ok else "stale ") + detail + "\n")
                           .encode(), "text/plain; charset=utf-8")
            elif path == "/readyz":
                ok, results = ops.health.ready()
                body = json.dumps({"ready": ok, "checks": results}, indent=1).encode() + b"\n"
                self._send(200 if ok else 503, body, "application/json")
            elif path == "/metrics":
                self._send(200, ops.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._app()

    return Handler
