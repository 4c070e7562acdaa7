"""Prometheus metrics (names prefixed `vio_`), updated from the SIP main thread and
served by the HTTP thread; prometheus-client metrics are thread-safe.

Other parts of the switch plug in what they own: trunk registration state
(`set_registration`) and gauges read at scrape time (`gauge_fn`: the run command
registers the dialer's queue depth). This module imports no other room."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FRAME_MS = 20
# the agent engine's lag: a caller frame captured by the bridge to the engine taking it
ENGINE_LAG_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("vio_active_calls", "Calls in progress",
                                  ["direction", "trunk"], registry=r)
        self.calls = Counter("vio_calls", "Calls finished, by final status", ["status"],
                             registry=r)
        self.answer_latency = Histogram(
            "vio_answer_latency_seconds", "INVITE received to 200 OK sent",
            buckets=LATENCY_BUCKETS, registry=r)
        self.rejected = Counter("vio_rejected_requests", "Requests refused, by reason",
                                ["reason"], registry=r)
        self.tcp = Counter("vio_tcp_connections", "SIP/TCP connections the TCP guard "
                           "refused at accept or closed, by event", ["event"], registry=r)
        self.rx_frames = Counter("vio_rx_frames", "20 ms audio frames delivered to agents",
                                 registry=r)
        self.rx_frames_expected = Counter(
            "vio_rx_frames_expected", "20 ms frames an answered call's duration implies "
            "(1 - rx/expected = frame loss)", registry=r)
        self.blocked_sources = Gauge("vio_blocked_sources",
                                     "Source addresses serving a temporary block", registry=r)
        self.registration = Gauge("vio_trunk_registered",
                                  "1 if the trunk's registration is current", ["trunk"],
                                  registry=r)
        self.calllog_write_errors = Counter(
            "vio_calllog_write_errors", "Call-log writes the database refused (the row or "
            "event is lost)", registry=r)
        self.engine_lag = Histogram(
            "vio_engine_lag_seconds", "Agent engine lag: a caller frame's capture by the "
            "bridge to the engine taking it (measured once per engine pass, and every "
            "20 ms within a long one)", buckets=ENGINE_LAG_BUCKETS, registry=r)
        self._active_labels: set[tuple[str, str]] = set()

    def set_active(self, counts: dict[tuple[str, str], int]) -> None:
        """Active calls per (direction, trunk); labels that dropped to zero read 0."""
        for labels in self._active_labels | set(counts):
            self.active_calls.labels(*labels).set(counts.get(labels, 0))
        self._active_labels |= set(counts)

    def call_finished(self, status: str) -> None:
        self.calls.labels(status).inc()

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason).inc()

    def answered(self, latency_s: float) -> None:
        self.answer_latency.observe(latency_s)

    def frames(self, rx_frames: int, duration_s: float) -> None:
        self.rx_frames.inc(rx_frames)
        self.rx_frames_expected.inc(int(duration_s * 1000 / FRAME_MS))

    def set_registration(self, trunk: str, registered: bool) -> None:
        self.registration.labels(trunk).set(1 if registered else 0)

    def gauge_fn(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        Gauge(name, doc, registry=self.registry).set_function(fn)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
