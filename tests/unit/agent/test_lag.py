"""The engine's lag: the pure window readiness reads, and the engine measuring it."""

from __future__ import annotations

import time

from vio_sbc.agent.engine import RX_TIMES, Engine
from vio_sbc.agent.frames import Frame
from vio_sbc.agent.lag import LagWindow
from vio_sbc.sip.periodic import engine_ready


def test_window_keeps_the_worst_lag_of_the_last_one_to_two_windows() -> None:
    w = LagWindow(window_s=2.0)
    assert w.current(0.0) == 0.0  # nothing measured: not late
    w.observe(0.005, 10.0)
    w.observe(0.300, 10.5)
    w.observe(0.004, 11.0)
    assert w.current(11.0) == 0.300
    w.observe(0.003, 12.1)  # a new window: the previous one's worst still counts
    assert w.current(12.2) == 0.300
    w.observe(0.002, 14.2)  # two windows on: the 300 ms has aged out
    assert w.current(14.3) == 0.003
    assert w.current(20.0) == 0.0  # idle for two windows: not late


def test_window_after_a_silent_gap_forgets_the_old_worst() -> None:
    w = LagWindow(window_s=2.0)
    w.observe(0.900, 1.0)
    w.observe(0.010, 6.0)  # nothing measured in between (more than two windows)
    assert w.current(6.0) == 0.010


def test_a_busy_engine_that_stopped_measuring_is_as_late_as_its_silence() -> None:
    w = LagWindow(window_s=2.0)
    w.observe(0.002, 100.0)
    assert w.current(100.5, busy_since=100.0) == 0.5
    assert w.current(100.5, busy_since=0.0) == 0.002


def test_engine_ready_turns_at_the_threshold() -> None:
    assert engine_ready(0.010, 250)[0]
    ok, detail = engine_ready(0.250, 250)
    assert not ok and "250 ms late" in detail


def _wait(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


class Slow:
    """A processor that takes `delay` per caller frame: the engine falls behind."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def process(self, frame: Frame) -> list[Frame]:
        time.sleep(self.delay)
        return [frame]


def test_engine_reports_its_lag_to_the_histogram_and_readiness() -> None:
    lags: list[float] = []
    eng = Engine(lambda s, f: None, on_lag=lags.append)
    sess = eng.session("c", 8000, [Slow(0.02)])
    eng.start()
    try:
        for _ in range(20):  # 20 frames at once, 20 ms of work each: the last waits ~0.4 s
            sess.push_audio(bytes(320))
        assert _wait(lambda: eng.frames == 20)
        assert max(lags) >= 0.2  # measured late frames, not only the first
        assert eng.lag_s() >= 0.2
        assert not engine_ready(eng.lag_s(), 100)[0]
    finally:
        eng.stop()


def test_capture_times_wrap_around_per_call() -> None:
    eng = Engine(lambda s, f: None)
    sess = eng.session("c", 8000, [])
    for _ in range(RX_TIMES + 3):
        sess.push_audio(bytes(320))
    assert sess.rx_frames == RX_TIMES + 3
    assert sess.rx_times[2] >= sess.rx_times[3]  # slot 2 rewritten by frame RX_TIMES + 2
