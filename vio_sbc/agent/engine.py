"""The agent engine: runs each call's processors off the media clock thread.

The media adapter calls `Session.push_audio` from the conference-bridge clock
thread (a queue put, nothing else) and pops 20 ms playout frames with
`Session.next_playout`. One engine thread takes frames from the shared queue
and runs the call's pipeline (turn detector -> agent); audio it produces is cut
into 20 ms frames onto the call's playout deque, an Interrupt clears that deque
first, and control frames (hangup, transcript, speech events) go to the
`control` queue that the SIP thread drains.

Playout marks: a `PlayoutMark` from the pipeline puts a `MarkPlayed` object in
the playout deque between audio frames; the clock thread, popping it, only
puts it on the engine's inbox (one type check per frame, a queue put per
mark), and the engine then runs it through the pipeline. An Interrupt clears
the deque and reports the marks it dropped, in order (as Twilio does on
`clear`). Processors that produce frames from their own I/O thread (the
WebSocket agent) implement `attach(push)` and are given `Session.push`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import structlog

from vio_sbc.agent.audio import chunk
from vio_sbc.agent.frames import (
    FRAME_MS,
    CallEnded,
    Frame,
    InputAudio,
    Interrupt,
    MarkPlayed,
    OutputAudio,
    PlayoutMark,
    SpeechStopped,
)
from vio_sbc.agent.lag import LagWindow
from vio_sbc.agent.processor import Processor
from vio_sbc.agent.session import ATTACH as _ATTACH
from vio_sbc.agent.session import REC_CAP as REC_CAP
from vio_sbc.agent.session import RX_TIMES as RX_TIMES
from vio_sbc.agent.session import Session as Session
from vio_sbc.agent.taps import NS, TICK_S, NativeMedia, room
from vio_sbc.threadname import set_os_thread_name

log = structlog.get_logger("vio_sbc.agent")
_monotonic = time.monotonic
PipelineFactory = Callable[["Session"], Sequence[Processor]]
_STOP = object()
BATCH_S = 0.005  # engine poll period when idle
MEASURE_S = 0.02  # a busy engine measures its lag this often


@runtime_checkable
class AsyncSource(Protocol):
    """A processor that also produces frames from another thread (its own I/O)."""

    def attach(self, push: Callable[[Frame], None]) -> None: ...


class Engine:
    """The engine thread. Its lag: at the start of each pass (a run of frames taken
    until the inbox is empty, and every MEASURE_S within a long one), how long ago the
    caller frame it takes was captured by the clock thread; `on_lag(seconds)` is told
    each time (the `vio_engine_lag_seconds` histogram) and `lag_s()` answers /readyz."""

    def __init__(self, on_control: Callable[[Session, Frame], None],
                 on_lag: Callable[[float], None] | None = None) -> None:
        self.inbox: queue.SimpleQueue[tuple[Session, int, object]] = queue.SimpleQueue()
        self._on_control = on_control
        self._on_lag = on_lag
        self._thread = threading.Thread(target=self._run, name="agent-engine", daemon=True)
        self.errors = 0
        self.frames = 0  # caller audio frames taken off the inbox (media_stats)
        self.passes = 0
        self.fast_frames = 0  # caller frames the fast path handled (no pipeline dispatch)
        self._taps: dict[str, tuple[Session, int]] = {}  # engine thread: tapped calls
        self._next_measure = 0.0
        self._lag = LagWindow()
        self._busy_since = 0.0  # monotonic time of the last measure in a pass (0: idle)

    def lag_s(self) -> float:
        """The engine's lag now (any thread): the worst measured in the last one or two
        windows, or the time since a busy engine last measured if longer."""
        return self._lag.current(_monotonic(), self._busy_since)

    def _observe(self, lag: float, now: float) -> None:
        self._lag.observe(lag, now)
        if self._on_lag is not None:
            self._on_lag(lag)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self.inbox.put((None, -1, _STOP))  # type: ignore[arg-type]
            self._thread.join(timeout)

    def session(self, call_id: str, sample_rate: int,
                pipeline: Sequence[Processor] | PipelineFactory) -> Session:
        """A call's session; `pipeline` may be a factory that needs the session itself
        (barge-in and the echo guard watch its playout, STT results come back via push)."""
        if callable(pipeline):
            sess = Session(call_id, sample_rate, (), self.inbox)
            sess.pipeline = pipeline(sess)
        else:
            sess = Session(call_id, sample_rate, pipeline, self.inbox)
        for proc in sess.pipeline:
            if isinstance(proc, AsyncSource):
                proc.attach(sess.push)
        return sess

    def attach_tap(self, sess: Session, tap: NativeMedia, capacity: int) -> None:
        sess.attach_tap(tap, capacity)

    def _run(self) -> None:
        set_os_thread_name("agent-engine")
        get = self.inbox.get_nowait
        self._next_measure = 0.0  # lag observed once per pass, and every MEASURE_S in one
        next_tick = _monotonic()
        while True:
            try:
                sess, seq, item = get()
            except queue.Empty:
                if self._taps and _monotonic() >= next_tick:
                    self._busy_since = _monotonic()
                    self._tick_taps()
                    now = _monotonic()
                    next_tick = max(next_tick + TICK_S, now - TICK_S)
                # Poll instead of blocking: a blocked get() is woken by every frame the
                # clock thread puts, and each wake-up hands the GIL back and forth with
                # the clock thread. Sleeping BATCH_S lets frames gather and be run in
                # one go (adds at most BATCH_S of latency; see docs/performance.md).
                if self._busy_since:
                    self.passes += 1
                self._busy_since = 0.0
                self._next_measure = 0.0
                wait = BATCH_S if not self._taps else min(BATCH_S, next_tick - _monotonic())
                time.sleep(max(wait, 0.0005))
                continue
            if not self._busy_since:
                self._busy_since = _monotonic()
            if item is _STOP:
                log.info("engine_stopped", cpu_s=round(time.thread_time(), 3), errors=self.errors)
                self._busy_since = 0.0
                return
            self._item(sess, seq, item)

    def _item(self, sess: Session, seq: int, item: object) -> None:
        if sess.ended:
            return
        if item is _ATTACH:
            if sess.tap is not None:
                self._taps[sess.call_id] = (sess, seq)
            return
        if isinstance(item, MarkPlayed):
            if not _take(sess.pending_marks, item):
                return  # already reported when an Interrupt dropped it
        if isinstance(item, bytes):
            now = _monotonic()
            if now >= self._next_measure:
                self._next_measure = now + MEASURE_S
                self._busy_since = now
                self._observe(max(0.0, now - sess.rx_times[seq % RX_TIMES]), now)
            self._audio(sess, seq, item, now)
            return
        assert isinstance(item, Frame)
        self._run_frame(sess, item)

    def _audio(self, sess: Session, seq: int, pcm: bytes, now: float) -> None:
        self.frames += 1
        sess.rx_wall.append((seq * FRAME_MS, now))
        frame = InputAudio(pcm=pcm, sample_rate=sess.sample_rate, t_ms=seq * FRAME_MS)
        fast = sess.fast_path()
        if fast is not None and fast[0](frame):  # between turns, unvoiced: nothing to say
            for idle in fast[1]:
                idle(frame)
            self.fast_frames += 1
            return
        self._run_frame(sess, frame)

    def _run_frame(self, sess: Session, frame: Frame) -> None:
        try:
            self._dispatch(sess, frame)
        except Exception:
            self.errors += 1
            log.exception("agent_error", call_id=sess.call_id)
        if isinstance(frame, CallEnded):
            sess.ended = True
            sess.playout.clear()
            sess.pending_marks.clear()
            sess.tap_marks.clear()
            if self._taps.pop(sess.call_id, None) is not None and sess.tap is not None:
                sess.tap.unref()

    # -- native taps: one pass over every tapped call per tick ----------------------
    def _tick_taps(self) -> None:
        oldest = 0
        now = _monotonic()
        for sess, cap in list(self._taps.values()):
            tap = sess.tap
            assert tap is not None
            frames = tap.read()
            info = tap.info
            sess.rx_frames = info.rx_frames
            sess.tx_frames = info.ticks
            sess.tx_audio_frames = info.tx_audio
            if info.bursts > len(sess.burst_starts):
                sess.burst_starts.append(info.burst_ns * NS)
            if frames:
                if not oldest or info.first_ns < oldest:
                    oldest = info.first_ns
                seq = info.first_seq
                for i, pcm in enumerate(frames):
                    self._audio(sess, seq + i, pcm, now)
                    if sess.ended:
                        break
            if sess.ended:
                continue
            while sess.tap_marks and sess.tap_marks[0][0] <= info.tx_played:
                mark = sess.tap_marks.popleft()[1]
                if _take(sess.pending_marks, mark):
                    self._run_frame(sess, mark)
            if sess.playout and not sess.ended:
                self._fill(sess, tap, cap)
        if oldest:
            self._observe(max(0.0, now - oldest * NS), now)

    @staticmethod
    def _fill(sess: Session, tap: NativeMedia, cap: int) -> None:
        """Move playout frames from the deque into the tap's ring (marks to tap_marks
        at the position they follow), as many as the ring has room for."""
        q = sess.playout
        free = room(cap, sess.tx_written, tap.info.tx_played)
        out: list[bytes] = []
        while q and len(out) < free:
            item = q[0]
            if type(item) is bytes:
                out.append(item)
            else:
                assert isinstance(item, MarkPlayed)
                sess.tap_marks.append((sess.tx_written + len(out), item))
            q.popleft()
        if out:
            # bytes before the count: `playing` stays true while they move
            sess.tx_written += len(out)
            taken = tap.write(b"".join(out), more=bool(q))
            if taken < len(out):  # cannot happen (room was checked): keep the rest
                sess.tx_written -= len(out) - taken
                q.extendleft(reversed(out[taken:]))

    @staticmethod
    def _turn_end(sess: Session, end_ms: int) -> None:
        """When the caller's last voiced frame (ending at `end_ms`) reached the engine."""
        for t_ms, wall in reversed(sess.rx_wall):
            if t_ms + FRAME_MS <= end_ms:
                sess.turn_ends.append(wall)
                return

    def _dispatch(self, sess: Session, frame: Frame) -> None:
        """Run `frame` through the pipeline. An Interrupt flushes the playout the moment
        any stage emits it (it overtakes audio; later stages need not pass it on)."""
        flushed: list[Frame] = []

        def interrupt(f: Frame) -> None:
            if not any(f is g for g in flushed):
                flushed.append(f)
                sess.playout.clear()
                if sess.tap is not None:
                    sess.tap_flushed = sess.tap.flush()
                    sess.tap_marks.clear()
                # report the dropped marks; one the clock thread popped just before
                # the clear is the same object, and only its first report counts
                for mark in sess.pending_marks:
                    sess.push(mark)
                self._on_control(sess, f)

        if isinstance(frame, Interrupt):
            interrupt(frame)
        frames: list[Frame] = [frame]
        for proc in sess.pipeline:
            nxt: list[Frame] = []
            for f in frames:
                for g in proc.process(f):
                    if isinstance(g, Interrupt):
                        interrupt(g)
                    elif isinstance(g, SpeechStopped):
                        self._turn_end(sess, g.t_ms)
                    nxt.append(g)
            frames = nxt
        for f in frames:
            if isinstance(f, InputAudio):
                continue
            if isinstance(f, OutputAudio):
                sess.playout.extend(chunk(f.pcm, sess.frame_bytes))
            elif isinstance(f, PlayoutMark):
                mark = MarkPlayed(f.name)
                sess.pending_marks.append(mark)
                sess.playout.append(mark)
            elif isinstance(f, Interrupt):
                interrupt(f)
            else:
                self._on_control(sess, f)


def _take(marks: list[MarkPlayed], mark: MarkPlayed) -> bool:
    """Remove `mark` (by identity) from `marks`; False if it is not there."""
    for i, m in enumerate(marks):
        if m is mark:
            del marks[i]
            return True
    return False
