"""The at-a-glance view: bucket quantiles, /metrics text summarised, lines rendered."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import Counter

from vio_sbc.ops.glance import (
    bucket_quantile,
    metric_lines,
    readiness_lines,
    server_lines,
    summarise,
)
from vio_sbc.ops.metrics import Metrics

INF = math.inf


def test_quantile_interpolates_inside_the_bucket() -> None:
    # 10 observations: 4 in (0, 0.01], 6 in (0.01, 0.05]
    b = [(0.01, 4.0), (0.05, 10.0), (INF, 10.0)]
    assert bucket_quantile(0.4, b) == pytest.approx(0.01)
    assert bucket_quantile(0.5, b) == pytest.approx(0.01 + 0.04 * 1 / 6)
    assert bucket_quantile(0.95, b) == pytest.approx(0.01 + 0.04 * 5.5 / 6)
    assert bucket_quantile(0.2, b) == pytest.approx(0.005)  # first bucket starts at 0


def test_quantile_skips_empty_buckets_and_caps_at_the_highest_finite_bound() -> None:
    b = [(0.01, 0.0), (0.05, 0.0), (0.1, 2.0), (INF, 4.0)]
    assert bucket_quantile(0.25, b) == pytest.approx(0.075)
    assert bucket_quantile(0.95, b) == 0.1  # in +Inf: the highest finite bound


def test_quantile_without_observations_is_none_and_q_is_checked() -> None:
    assert bucket_quantile(0.5, []) is None
    assert bucket_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None
    with pytest.raises(ValueError, match=r"quantile must be within 0\.\.1, got 1\.5"):
        bucket_quantile(1.5, [(INF, 1.0)])


def _metrics() -> Metrics:
    m = Metrics()
    m.set_active({("inbound", "pbx"): 2, ("outbound", "carrier"): 1})
    for status in ("ended", "ended", "refused"):
        m.call_finished(status)
    for s in (0.003, 0.02, 0.04):
        m.answered(s)
    m.reject("stranger")
    m.reject("unknown_number")
    m.reject("stranger")
    m.frames(95, 2.0)  # 100 expected
    m.set_registration("carrier", True)
    m.set_registration("backup", False)
    dropped = Counter("vio_rtp_dropped_packets", "dropped", ["reason"], registry=m.registry)
    dropped.labels("source").inc(40)  # as vio_sbc.rtp.guard registers it
    dropped.labels("malformed").inc(3)
    return m


def test_summarise_reads_every_figure_from_real_metrics_text() -> None:
    s = summarise(_metrics().render().decode())
    assert sorted((a["direction"], a["trunk"], a["calls"]) for a in s["active_calls"]) == [
        ("inbound", "pbx", 2.0), ("outbound", "carrier", 1.0)]
    assert s["calls_total"] == {"ended": 2.0, "refused": 1.0}
    lat = s["answer_latency"]
    # buckets 0.005: 1, 0.01: 1, 0.025: 2, 0.05: 3 -> p50 rank 1.5 in (0.01, 0.025]
    assert lat["answered"] == 3
    assert lat["p50_ms"] == pytest.approx(10 + 15 * 0.5, abs=0.05)
    assert lat["p95_ms"] == pytest.approx(25 + 25 * 0.85, abs=0.05)
    assert lat["mean_ms"] == pytest.approx(21.0, abs=0.05)
    assert s["rejected"] == {"stranger": 2.0, "unknown_number": 1.0}
    assert s["rtp_dropped"] == {"source": 40.0, "malformed": 3.0}
    assert (s["rx_frames"], s["rx_frames_expected"], s["frame_loss_pct"]) == (95, 100, 5.0)
    assert s["registrations"] == {"carrier": True, "backup": False}
    assert s["dialer_queue_depth"] is None  # no dialer: no gauge


def test_summarise_empty_server_and_dialer_gauge() -> None:
    m = Metrics()
    m.gauge_fn("vio_dialer_queue_depth", "waiting", lambda: 7.0)
    s = summarise(m.render().decode())
    assert s["active_calls"] == [] and s["calls_total"] == {} and s["rejected"] == {}
    assert s["rtp_dropped"] == {}
    assert s["answer_latency"] == {"answered": 0, "p50_ms": None, "p95_ms": None,
                                   "mean_ms": None}
    assert s["frame_loss_pct"] is None
    assert s["dialer_queue_depth"] == 7.0


def test_metric_lines() -> None:
    lines = metric_lines(summarise(_metrics().render().decode()))
    assert lines == [
        "active calls: 3 (inbound/pbx=2, outbound/carrier=1)",
        "calls: ended=2, refused=1",
        "answer latency: 3 answered, p50 17.5 ms, p95 46.2 ms, mean 21 ms",
        "frames: 95 received of 100 expected (loss 5.00%)",
        "rejected: stranger=2, unknown_number=1",
        "rtp dropped: malformed=3, source=40",
        "blocked sources: 0",
        "registrations: backup=DOWN, carrier=up",
        "dialer queue: off",
    ]


def test_metric_lines_of_an_idle_server() -> None:
    lines = metric_lines(summarise(Metrics().render().decode()))
    assert lines[:4] == ["active calls: 0", "calls: none",
                         "answer latency: 0 answered, p50 -, p95 -, mean -",
                         "frames: 0 received of 0 expected (loss n/a)"]


def test_readiness_lines() -> None:
    checks = {"sip_transport": {"ok": True, "detail": "udp on 127.0.0.1:5060"},
              "call_log": {"ok": False, "detail": "database is locked"}}
    assert readiness_lines(503, {"checks": checks}) == [
        "ready: NO", "  FAIL call_log: database is locked",
        "  ok   sip_transport: udp on 127.0.0.1:5060"]


def _reply(**extra: Any) -> dict[str, Any]:
    return {"config": "vio.yaml", "uptime_s": 12.5, "live_calls": 1, "draining": False,
            "trunks": [{"trunk": "pbx", "kind": "byoc", "outbound": None,
                        "registration": None, "health": None, "live_calls": 1,
                        "live_outbound": 0, "max_calls": 0}], **extra}


def test_server_lines_with_the_live_call_table() -> None:
    call = {"id": "0123456789abcdef", "direction": "inbound", "trunk": "pbx",
            "number": "+14155550100", "agent": "echo", "state": "active", "caller": "x",
            "callee": "y", "age_s": 4.4}
    assert server_lines(_reply(calls=[call])) == [
        "server: vio.yaml up 12.5s, live calls 1",
        "TRUNK  KIND  OUTBOUND  REGISTRATION  HEALTH  CALLS",
        "pbx    byoc  -         -             -       1 (0/0 out)",
        "CALL      DIRECTION  TRUNK  NUMBER        OTHER PARTY  AGENT  STATE   AGE",
        "01234567  inbound    pbx    +14155550100  x            echo   active  4s",
    ]
    out = {**call, "direction": "outbound", "caller": "+14155550100", "callee": "+14155551234"}
    assert server_lines(_reply(calls=[out]))[-1] == (  # rough edge 9: whom we call
        "01234567  outbound   pbx    +14155550100  +14155551234  echo   active  4s")


def test_server_lines_without_calls_and_draining() -> None:
    lines = server_lines(_reply(draining=True, calls=[]))
    assert lines[0] == "server: vio.yaml up 12.5s, live calls 1 (draining)"
    assert len(lines) == 3  # no call table when no call is up
