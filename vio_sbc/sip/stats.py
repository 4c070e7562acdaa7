"""A periodic `media_stats` log line: is the media path keeping up?

Every `interval_s` while calls are up, logs the live call count, the 20 ms frames
the bridge delivered to the calls' ports against those their call time implies
(`rx_frames` / `rx_expected`: frames the clock thread dropped show as loss), the
frames waiting for the agent engine (`engine_backlog`) and the engine's lag
estimated from it (backlog / the calls' frame rate), the engine's measured lag
(`Engine.lag_s`) and the Python callbacks the clock thread has made so far. The
benchmark reads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import structlog

from vio_sbc.agent.engine import Engine
from vio_sbc.ops.http import Health
from vio_sbc.ops.metrics import Metrics
from vio_sbc.rtp.port import CallMediaPort
from vio_sbc.sip.calls import CallTable
from vio_sbc.sip.periodic import engine_ready

log = structlog.get_logger("vio_sbc.stats")
FRAMES_PER_S = 50


class SttCounts(Protocol):
    decodes: int
    dropped: int


def watch_media(metrics: Metrics, health: Health, engine: Engine, stt: SttCounts,
                max_lag_ms: Callable[[], int]) -> None:
    """/readyz's `media_engine` check (the engine's lag against `media.ready_max_lag_ms`)
    and the speech recogniser's counters in /metrics."""
    health.add_check("media_engine", lambda: engine_ready(engine.lag_s(), max_lag_ms()))
    metrics.gauge_fn("vio_stt_decodes", "Caller turns decoded by speech recognition",
                     lambda: float(stt.decodes))
    metrics.gauge_fn("vio_stt_shed", "Caller turns shed, not decoded: the recogniser's "
                     "queue was full (answered as not understood)", lambda: float(stt.dropped))


class MediaStats:
    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._next = time.monotonic() + interval_s

    def maybe_log(self, table: CallTable, engine: Engine) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval_s
        if not table:
            return
        wall = time.time()
        rx = expected = media_calls = 0
        for call in table:
            s = call.session
            if s is None or call.media_since is None:
                continue
            media_calls += 1
            rx += s.rx_frames
            expected += int((wall - call.media_since) * FRAMES_PER_S)
        backlog = engine.inbox.qsize()
        lag_ms = 1000.0 * backlog / (FRAMES_PER_S * media_calls) if media_calls else 0.0
        log.info("media_stats", calls=len(table), media_calls=media_calls, rx_frames=rx,
                 rx_expected=expected,
                 rx_loss_pct=round(100.0 * max(0, expected - rx) / expected, 3) if expected else 0,
                 engine_backlog=backlog, engine_lag_ms=round(lag_ms, 1),
                 engine_frames=engine.frames, engine_errors=engine.errors,
                 engine_lag_now_ms=round(1000.0 * engine.lag_s(), 1),
                 py_callbacks=CallMediaPort.callbacks)
