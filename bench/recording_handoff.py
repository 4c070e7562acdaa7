"""Micro-benchmark: what recording costs per frame.

1. Clock thread: Session.push_audio + Session.next_playout (one 20 ms tick of one
   call) with and without a recording hand-off attached. The deque is emptied
   every 5 ticks in both variants (the writer drains every 100 ms), so the loop
   work is the same; rounds alternate and the median is reported.
2. Writer thread: Recording.drain + WAV write, per second of call audio.
Prints figures; asserts nothing.

    .venv/bin/python bench/recording_handoff.py [TICKS]
"""

from __future__ import annotations

import logging
import queue
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from tempfile import TemporaryDirectory

import structlog

from vio_sbc.agent.engine import Session
from vio_sbc.rtp.recorder import Recording

FRAME = bytes(320)


def clock_round(ticks: int, record: bool) -> float:
    inbox: queue.SimpleQueue[tuple[Session, int, object]] = queue.SimpleQueue()
    s = Session("bench", 8000, [], inbox)
    sink: deque[tuple[int, bytes | None]] = deque()
    if record:
        s.rec = sink
    push, pull, playout, clear = s.push_audio, s.next_playout, s.playout, sink.clear
    t0 = time.perf_counter_ns()
    for i in range(ticks):
        if i % 3 == 0:
            playout.append(FRAME)
        pull()
        push(FRAME)
        if i % 5 == 0:
            clear()
    return (time.perf_counter_ns() - t0) / ticks


def writer_cost(seconds: int) -> float:
    """Writer-thread µs per second of call audio."""
    with TemporaryDirectory() as tmp:
        rec = Recording("bench", Path(tmp) / "b.wav", 8000)
        s = Session("bench", 8000, [], queue.SimpleQueue())
        s.rec = rec.handoff
        spent = 0
        for _ in range(seconds * 10):  # 100 ms batches, as the writer does
            for i in range(5):
                if i % 2:
                    s.playout.append(FRAME)
                s.next_playout()
                s.push_audio(FRAME)
            t0 = time.perf_counter_ns()
            rec.drain()
            spent += time.perf_counter_ns() - t0
        rec.finish()
    return spent / 1000 / seconds


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ticks = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base, rec = [], []
    for _ in range(15):
        base.append(clock_round(ticks, False))
        rec.append(clock_round(ticks, True))
    b, r = statistics.median(base), statistics.median(rec)
    print(f"clock thread, {ticks} ticks x 15 alternating rounds (median):")
    print(f"  push_audio + next_playout, no recording : {b:6.0f} ns/tick")
    print(f"  push_audio + next_playout, recording    : {r:6.0f} ns/tick")
    print(f"  added by the hand-off                   : {r - b:6.0f} ns/tick "
          f"= {(r - b) / 2:.0f} ns per frame (2 frames per tick)")
    w = writer_cost(60)
    print(f"writer thread: {w:.0f} us per second of call audio "
          f"({w / 1e4:.2f}% of one core per recorded call)")


if __name__ == "__main__":
    main()
