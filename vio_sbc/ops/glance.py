"""The server at a glance, for `vio-sbc status` and `vio-sbc health`: pure functions
over what /readyz, /metrics and the control socket's `status` reply return.

`summarise()` turns Prometheus text into a plain dict (also the `--json` form);
`metric_lines()`, `readiness_lines()` and `server_lines()` render it. The answer
latency percentiles are estimated from the histogram buckets the way Prometheus'
`histogram_quantile` does (linear inside the bucket), so they are only as fine
as the buckets (vio_sbc.ops.metrics.LATENCY_BUCKETS).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    """Prometheus text -> sample name -> [(labels, value)]."""
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile (0..1) from cumulative histogram buckets [(upper bound, count)]
    (+Inf included); None without observations. Linear interpolation inside the
    bucket, the first bucket starting at 0; in the +Inf bucket: the highest finite
    bound."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {q}")
    bs = sorted(buckets)
    if not bs or bs[-1][1] <= 0:
        return None
    rank = q * bs[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in bs:
        if count >= rank and count > below:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def _by(m: Samples, name: str, key: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for lb, v in m.get(name, []):
        out[lb.get(key, "")] = out.get(lb.get(key, ""), 0.0) + v
    return out


def summarise(text: str) -> dict[str, Any]:
    """The figures `vio-sbc status` shows, from /metrics text."""
    m = samples(text)
    active = [{"direction": lb.get("direction", ""), "trunk": lb.get("trunk", ""), "calls": v}
              for lb, v in m.get("vio_active_calls", []) if v]
    buckets = [(float(lb["le"]), v) for lb, v in m.get("vio_answer_latency_seconds_bucket", [])]
    count = sum(v for _, v in m.get("vio_answer_latency_seconds_count", []))
    total = sum(v for _, v in m.get("vio_answer_latency_seconds_sum", []))

    def ms(q: float) -> float | None:
        s = bucket_quantile(q, buckets)
        return None if s is None else round(s * 1000, 1)

    rx = sum(v for _, v in m.get("vio_rx_frames_total", []))
    expected = sum(v for _, v in m.get("vio_rx_frames_expected_total", []))
    depth = m.get("vio_dialer_queue_depth")
    return {
        "active_calls": active,
        "calls_total": {k: v for k, v in _by(m, "vio_calls_total", "status").items() if v},
        "answer_latency": {"answered": count, "p50_ms": ms(0.5), "p95_ms": ms(0.95),
                           "mean_ms": round(total / count * 1000, 1) if count else None},
        "rejected": {k: v for k, v in _by(m, "vio_rejected_requests_total", "reason").items()
                     if v},
        "rx_frames": rx, "rx_frames_expected": expected,
        "frame_loss_pct": round(max(0.0, 1 - rx / expected) * 100, 2) if expected else None,
        "rtp_dropped": {k: v for k, v in
                        _by(m, "vio_rtp_dropped_packets_total", "reason").items() if v},
        "blocked_sources": sum(v for _, v in m.get("vio_blocked_sources", [])),
        "registrations": {lb.get("trunk", ""): bool(v)
                          for lb, v in m.get("vio_trunk_registered", [])},
        "dialer_queue_depth": sum(v for _, v in depth) if depth is not None else None,
    }


def _pairs(d: dict[str, float]) -> str:
    return ", ".join(f"{k or '-'}={v:g}" for k, v in sorted(d.items())) or "none"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:g} ms"


def readiness_lines(ready_status: int, ready: dict[str, Any]) -> list[str]:
    lines = [f"ready: {'yes' if ready_status == 200 else 'NO'}"]
    for name, r in sorted(ready.get("checks", {}).items()):
        lines.append(f"  {'ok  ' if r['ok'] else 'FAIL'} {name}: {r['detail']}")
    return lines


def metric_lines(s: dict[str, Any]) -> list[str]:
    active = s["active_calls"]
    n = sum(a["calls"] for a in active)
    parts = ", ".join(f"{a['direction'] or '-'}/{a['trunk'] or '-'}={a['calls']:g}"
                      for a in sorted(active, key=lambda a: (a["direction"], a["trunk"])))
    lat = s["answer_latency"]
    loss = "n/a" if s["frame_loss_pct"] is None else f"{s['frame_loss_pct']:.2f}%"
    lines = [
        f"active calls: {n:g}" + (f" ({parts})" if parts else ""),
        f"calls: {_pairs(s['calls_total'])}",
        f"answer latency: {lat['answered']:g} answered, p50 {_ms(lat['p50_ms'])}, "
        f"p95 {_ms(lat['p95_ms'])}, mean {_ms(lat['mean_ms'])}",
        f"frames: {s['rx_frames']:g} received of {s['rx_frames_expected']:g} expected "
        f"(loss {loss})",
        f"rejected: {_pairs(s['rejected'])}",
        f"rtp dropped: {_pairs(s['rtp_dropped'])}",
        f"blocked sources: {s['blocked_sources']:g}",
    ]
    if s["registrations"]:
        lines.append("registrations: " + ", ".join(
            f"{t}={'up' if up else 'DOWN'}" for t, up in sorted(s["registrations"].items())))
    depth = s["dialer_queue_depth"]
    lines.append("dialer queue: off" if depth is None else f"dialer queue: {depth:g} waiting")
    return lines


def _when(t: object) -> str:
    if not isinstance(t, int | float):
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%SZ")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def registration_text(reg: dict[str, Any] | None) -> str:
    if reg is None:
        return "-"
    if reg["status"] == "registered":
        return f"registered ({reg['expires_s']}s, at {_when(reg['registered_at'])})"
    if reg["status"] == "failing":
        return (f"failing (last {reg['last_code']} {reg['last_reason']}, "
                f"retry at {_when(reg['next_retry_at'])})")
    return str(reg["status"])


def health_text(h: dict[str, Any]) -> str:
    """A trunk's OPTIONS health: `unknown` until a first ping has an answer or fails."""
    if not h["up"]:
        return f"down (last {h['last_status']})"
    return "up" if h.get("checked", True) else "unknown (no OPTIONS answer yet)"


def server_lines(reply: dict[str, Any]) -> list[str]:
    """The control socket's `status` reply: server line, trunk table, live-call table."""
    lines = [f"server: {reply['config']} up {reply['uptime_s']}s, live calls "
             f"{reply['live_calls']}{' (draining)' if reply['draining'] else ''}"]
    tls = reply.get("tls")  # absent from servers older than this view, None without TLS
    if tls:
        until = datetime.fromtimestamp(tls["not_after"], UTC).strftime("%Y-%m-%d %H:%MZ")
        lines.append(f"tls certificate: {tls['subject']} (issuer {tls['issuer']}), expires "
                     f"{until} ({tls['days_left']:g} days)")
    rows: list[tuple[str, ...]] = [("TRUNK", "KIND", "OUTBOUND", "REGISTRATION", "HEALTH",
                                    "CALLS")]
    for t in reply["trunks"]:
        h = t["health"]
        health = "-" if h is None else health_text(h)
        calls = f"{t['live_calls']} ({t['live_outbound']}/{t['max_calls']} out)"
        rows.append((t["trunk"], t["kind"], t["outbound"] or "-",
                     registration_text(t["registration"]), health, calls))
    lines += _table(rows)
    live = reply.get("calls")  # absent from servers older than this view
    if live:
        rows = [("CALL", "DIRECTION", "TRUNK", "NUMBER", "OTHER PARTY", "AGENT", "STATE",
                 "AGE")]
        for c in live:  # NUMBER is ours; the other party: the caller, or whom we call
            party = c.get("callee") if c["direction"] == "outbound" else c.get("caller")
            rows.append((c["id"][:8], c["direction"], c["trunk"] or "-", c["number"] or "-",
                         party or "-", c["agent"] or "-", c["state"], f"{c['age_s']:.0f}s"))
        lines += _table(rows)
    return lines
