"""`vio-sbc status` and `vio-sbc health`: the running server at a glance.

`status` asks the control socket (`<storage.dir>/control.sock`) for the server,
its trunks and live calls, and, when `http.listen` is configured, reads /readyz and
/metrics for readiness and the figures. `health` is the HTTP-only subset
(readiness and figures, no control socket): for a probe on another host or
container, where the socket is out of reach. Rendering: vio_sbc.ops.glance.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from vio_sbc import control
from vio_sbc.cli.common import load_or_report
from vio_sbc.cli.trunks import control_socket
from vio_sbc.errors import ConfigError
from vio_sbc.ops.glance import metric_lines, readiness_lines, server_lines, summarise
from vio_sbc.ops.glance import samples as samples

EXIT_NOT_READY = 1
EXIT_INVALID = 2
EXIT_DOWN = 3  # the HTTP endpoint is configured but not answering
EXIT_NO_SERVER = 4  # nothing answers on the control socket


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:  # 503 from /readyz still has a body
        return int(exc.code), bytes(exc.read())


def read_http(base: str, timeout: float) -> dict[str, Any]:
    """/readyz and /metrics of `base`: {url, ready, checks, metrics}; raises OSError
    when the endpoint does not answer."""
    ready_status, ready_body = _get(base + "/readyz", timeout)
    _, metrics_body = _get(base + "/metrics", timeout)
    ready = json.loads(ready_body)
    return {"url": base, "ready": ready_status == 200, "checks": ready.get("checks", {}),
            "metrics": summarise(metrics_body.decode())}


def http_lines(h: dict[str, Any]) -> list[str]:
    return (readiness_lines(200 if h["ready"] else 503, {"checks": h["checks"]})
            + metric_lines(h["metrics"]))


def cmd_status(args: argparse.Namespace) -> int:
    worker = getattr(args, "worker", None)
    path = control_socket(args.config, worker)
    try:
        reply = list(control.call(path, {"op": "status"}, timeout=args.timeout))[-1]
    except control.ControlError as exc:
        print(f"vio-sbc: {exc} (is `vio-sbc run -c {args.config}` running?)", file=sys.stderr)
        return EXIT_NO_SERVER
    from vio_sbc.config import load_config
    from vio_sbc.fileperm import warnings as storage_warnings

    http: dict[str, Any] | None
    note, rc = "", 0
    storage: list[str] = []  # existing call data others can read
    try:
        cfg = load_config(args.config, unset_ok=True)  # status reads, it needs no secret
    except ConfigError as exc:
        http = None
        note = f"metrics: unknown ({args.config} does not load: {exc.issues[0]})"
    else:
        if worker is not None and cfg.cluster is not None:  # that worker's own addresses
            from vio_sbc.cluster.worker import as_worker

            cfg = as_worker(cfg, worker)
        storage = storage_warnings(cfg.storage.dir)
        if cfg.http is None:
            http = None
            note = f"metrics: off (no http.listen in {args.config}; readiness not checked)"
        else:
            base = f"http://{cfg.http.listen}"
            try:
                http = read_http(base, args.timeout)
            except OSError as exc:
                http = {"url": base, "error": str(exc)}
                note, rc = f"metrics: {base} is not answering: {exc}", EXIT_DOWN
            else:
                rc = 0 if http["ready"] else EXIT_NOT_READY
    if args.json:
        print(json.dumps({**reply, "http": http, "storage_warnings": storage}, indent=2))
        return rc
    for line in storage:
        print(line, file=sys.stderr)
    lines = server_lines(reply)
    body = http_lines(http) if http is not None and "error" not in http else [note]
    for line in [lines[0], *body, *lines[1:]]:
        print(line)
    return rc


def cmd_health(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, unset_ok=True)
    if cfg is None:
        return EXIT_INVALID
    if cfg.http is None:
        print(f"{args.config}: no http.listen configured: health needs the HTTP endpoint",
              file=sys.stderr)
        return EXIT_INVALID
    base = f"http://{cfg.http.listen}"
    try:
        h = read_http(base, args.timeout)
    except OSError as exc:
        print(f"vio-sbc at {base} is not answering: {exc}", file=sys.stderr)
        return EXIT_DOWN
    for line in http_lines(h):
        print(line)
    return 0 if h["ready"] else EXIT_NOT_READY


def add_parser(sub: Any) -> None:
    st = sub.add_parser(
        "status", help="the running server at a glance: readiness, calls, trunks",
        description="Ask the server running on this config for its state over "
        "<storage.dir>/control.sock (trunk registration and OPTIONS health, live calls) "
        "and, when http.listen is configured, /readyz and /metrics (readiness, active "
        "calls, calls by status, answer latency p50/p95, rejected requests, RTP "
        "dropped, frame loss, dialer queue). Exit 0 ready (or http off), 1 not ready, "
        "3 http.listen not answering, 4 no server on the control socket.")
    st.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    st.add_argument("--json", action="store_true",
                    help="print the control socket's reply with the HTTP figures under 'http'")
    st.add_argument("--timeout", type=float, default=10.0, help="timeout in seconds")
    st.add_argument("--worker", type=int, metavar="I", help="cluster worker I's server")
    st.set_defaults(func=cmd_status)

    s = sub.add_parser("health", help="readiness and metrics of the running server (HTTP only)",
                       description="Read /readyz and /metrics from the server's http.listen "
                       "and print them at a glance (the HTTP part of `status`, for where the "
                       "control socket is out of reach). Exit 0 ready, 1 not ready, 2 no "
                       "http.listen or invalid config, 3 not answering.")
    s.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    s.add_argument("--timeout", type=float, default=3.0, help="HTTP timeout in seconds")
    s.set_defaults(func=cmd_health)
