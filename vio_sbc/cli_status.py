"""`vio-sbc health`: the running server's readiness and metrics at a glance, read
from its HTTP endpoint (`http.listen`). (`vio-sbc status` asks the control socket
for trunk registrations and live calls.)"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from vio_sbc.cli_common import load_or_report

EXIT_INVALID = 2
EXIT_DOWN = 3


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:  # 503 from /readyz still has a body
        return int(exc.code), bytes(exc.read())


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text -> sample name -> [(labels, value)]."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def render(ready_status: int, ready: dict[str, Any], metrics: str) -> list[str]:
    m = samples(metrics)
    lines = [f"ready: {'yes' if ready_status == 200 else 'NO'}"]
    for name, r in sorted(ready.get("checks", {}).items()):
        lines.append(f"  {'ok  ' if r['ok'] else 'FAIL'} {name}: {r['detail']}")

    def labelled(name: str, key: str) -> str:
        parts = [f"{lb.get(key, '') or '-'}={v:g}" for lb, v in m.get(name, []) if v]
        return ", ".join(parts) or "none"

    active = sum(v for _, v in m.get("vio_active_calls", []))
    by_trunk = ", ".join(f"{lb['trunk'] or '-'}={v:g}" for lb, v in m.get("vio_active_calls", [])
                         if v)
    lines.append(f"active calls: {active:g}" + (f" ({by_trunk})" if by_trunk else ""))
    lines.append(f"calls: {labelled('vio_calls_total', 'status')}")
    lines.append(f"rejected: {labelled('vio_rejected_requests_total', 'reason')}")
    count = sum(v for _, v in m.get("vio_answer_latency_seconds_count", []))
    total = sum(v for _, v in m.get("vio_answer_latency_seconds_sum", []))
    lines.append(f"answer latency: {count:g} answered, mean "
                 f"{(total / count * 1000 if count else 0):.1f} ms")
    rx = sum(v for _, v in m.get("vio_rx_frames_total", []))
    expected = sum(v for _, v in m.get("vio_rx_frames_expected_total", []))
    loss = f"{max(0.0, 1 - rx / expected) * 100:.2f}%" if expected else "n/a"
    lines.append(f"frames: {rx:g} received of {expected:g} expected (loss {loss})")
    blocked = sum(v for _, v in m.get("vio_blocked_sources", []))
    lines.append(f"blocked sources: {blocked:g}")
    regs = m.get("vio_trunk_registered", [])
    if regs:
        lines.append("registrations: " + ", ".join(
            f"{lb['trunk']}={'up' if v else 'DOWN'}" for lb, v in regs))
    return lines


def cmd_health(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config)
    if cfg is None:
        return EXIT_INVALID
    if cfg.http is None:
        print(f"{args.config}: no http.listen configured: health needs the HTTP endpoint",
              file=sys.stderr)
        return EXIT_INVALID
    base = f"http://{cfg.http.listen}"
    try:
        ready_status, ready_body = _get(base + "/readyz", args.timeout)
        _, metrics_body = _get(base + "/metrics", args.timeout)
    except OSError as exc:
        print(f"vio-sbc at {base} is not answering: {exc}", file=sys.stderr)
        return EXIT_DOWN
    for line in render(ready_status, json.loads(ready_body), metrics_body.decode()):
        print(line)
    return 0 if ready_status == 200 else 1


def add_parser(sub: Any) -> None:
    s = sub.add_parser("health", help="readiness and metrics of the running server (HTTP)",
                       description="Read /readyz and /metrics from the server's http.listen "
                       "and print them at a glance. Exit 0 ready, 1 not ready, 3 not "
                       "answering.")
    s.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    s.add_argument("--timeout", type=float, default=3.0, help="HTTP timeout in seconds")
    s.set_defaults(func=cmd_health)
