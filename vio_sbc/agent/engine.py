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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from vio_sbc.agent.turns import VoiceCount
from vio_sbc.threadname import set_os_thread_name

log = structlog.get_logger("vio_sbc.agent")
_monotonic = time.monotonic
PipelineFactory = Callable[["Session"], Sequence[Processor]]
_STOP = object()
BATCH_S = 0.005  # engine poll period when idle
REC_CAP = 1000  # recording hand-off items per call (~10 s of both channels)
RX_TIMES = 1024  # capture times kept per call (20 s of frames: lag beyond reads low)
MEASURE_S = 0.02  # a busy engine measures its lag this often


@runtime_checkable
class AsyncSource(Protocol):
    """A processor that also produces frames from another thread (its own I/O)."""

    def attach(self, push: Callable[[Frame], None]) -> None: ...


@dataclass(eq=False)
class Session:
    """One call's view from the engine. Counters are written by one thread each."""

    call_id: str
    sample_rate: int
    pipeline: Sequence[Processor]
    inbox: queue.SimpleQueue[tuple[Session, int, object]]
    playout: deque[bytes | MarkPlayed] = field(default_factory=deque)
    pending_marks: list[MarkPlayed] = field(default_factory=list)  # engine thread only
    # the last second of what the clock thread played (None: a silent frame), the
    # echo guard's reference; appended on the clock thread, read by the engine
    played: deque[bytes | None] = field(default_factory=lambda: deque(maxlen=50))
    rx_frames: int = 0        # written by the clock thread
    tx_frames: int = 0        # clock thread: frames requested (while the agent has audio)
    tx_audio_frames: int = 0  # clock thread: frames we filled with agent audio
    ended: bool = False
    # turn latency: monotonic time of each burst of agent audio starting on the wire
    # (clock thread, appended once per burst), and of each caller turn's end (engine)
    burst_starts: list[float] = field(default_factory=list)
    turn_ends: list[float] = field(default_factory=list)
    rx_wall: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=600))
    voice: VoiceCount = field(default_factory=VoiceCount)  # engine thread: the VAD's counts
    # monotonic capture time of caller frame n at [n % RX_TIMES] (clock thread writes,
    # the engine reads it back to measure its lag)
    rx_times: list[float] = field(default_factory=lambda: [0.0] * RX_TIMES)
    _was_playing: bool = False
    # recording hand-off (vio_sbc.rtp.recorder): caller frames tagged with the playout
    # tick, agent frames (None = silence) tagged -1; bounded, drained by the writer
    rec: deque[tuple[int, bytes | None]] | None = None

    @property
    def frame_bytes(self) -> int:
        return 2 * self.sample_rate * FRAME_MS // 1000

    # -- clock thread: keep these tiny --------------------------------------
    def push_audio(self, pcm: bytes) -> None:
        n = self.rx_frames
        self.rx_times[n % RX_TIMES] = _monotonic()
        self.inbox.put((self, n, pcm))
        self.rx_frames = n + 1
        rec = self.rec
        if rec is not None and len(rec) < REC_CAP:
            rec.append((self.tx_frames, pcm))

    def next_playout(self) -> bytes | None:
        self.tx_frames += 1
        pcm: bytes | None = None
        while True:
            try:
                item = self.playout.popleft()
            except IndexError:
                self.played.append(None)
                self._was_playing = False
                break
            if type(item) is bytes:
                if not self._was_playing:
                    self._was_playing = True
                    self.burst_starts.append(time.monotonic())
                self.played.append(item)
                self.tx_audio_frames += 1
                pcm = item
                break
            self.inbox.put((self, -1, item))  # a mark reached: the engine reports it
        rec = self.rec
        if rec is not None and len(rec) < REC_CAP:
            rec.append((-1, pcm))
        return pcm

    # -- any thread ---------------------------------------------------------
    def push(self, frame: Frame) -> None:
        self.inbox.put((self, -1, frame))

    @property
    def playing(self) -> bool:
        return bool(self.playout)

    def is_playing(self) -> bool:
        return any(type(item) is bytes for item in self.playout)

    def recent_played(self) -> tuple[bytes | None, ...]:
        return tuple(self.played)


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

    def _run(self) -> None:
        set_os_thread_name("agent-engine")
        get = self.inbox.get_nowait
        next_measure = 0.0  # a lag is observed once per pass, and every MEASURE_S in one
        while True:
            try:
                sess, seq, item = get()
            except queue.Empty:
                # Poll instead of blocking: a blocked get() is woken by every frame the
                # clock thread puts, and each wake-up hands the GIL back and forth with
                # the clock thread. Sleeping BATCH_S lets frames gather and be run in
                # one go (adds at most BATCH_S of latency; see docs/performance.md).
                if self._busy_since:
                    self.passes += 1
                self._busy_since = 0.0
                next_measure = 0.0
                time.sleep(BATCH_S)
                continue
            if not self._busy_since:
                self._busy_since = _monotonic()
            if item is _STOP:
                log.info("engine_stopped", cpu_s=round(time.thread_time(), 3), errors=self.errors)
                self._busy_since = 0.0
                return
            if sess.ended:
                continue
            if isinstance(item, MarkPlayed):
                if not _take(sess.pending_marks, item):
                    continue  # already reported when an Interrupt dropped it
            if isinstance(item, bytes):
                now = _monotonic()
                if now >= next_measure:
                    next_measure = now + MEASURE_S
                    self._busy_since = now
                    self._observe(max(0.0, now - sess.rx_times[seq % RX_TIMES]), now)
                self.frames += 1
                frame: Frame = InputAudio(
                    pcm=item, sample_rate=sess.sample_rate, t_ms=seq * FRAME_MS
                )
                sess.rx_wall.append((seq * FRAME_MS, time.monotonic()))
            else:
                assert isinstance(item, Frame)
                frame = item
            try:
                self._dispatch(sess, frame)
            except Exception:
                self.errors += 1
                log.exception("agent_error", call_id=sess.call_id)
            if isinstance(frame, CallEnded):
                sess.ended = True
                sess.playout.clear()
                sess.pending_marks.clear()

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
