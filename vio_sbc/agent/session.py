"""One call's session with the agent engine (vio_sbc/agent/engine.py runs it).

Without a native tap, the media adapter's Python port (vio_sbc/rtp/port.py) calls
`push_audio` and `next_playout` on the bridge's clock thread; with one
(vio_sbc/agent/taps.py) the engine moves the audio itself and the clock thread
never calls Python.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vio_sbc.agent.frames import FRAME_MS, Frame, InputAudio, MarkPlayed
from vio_sbc.agent.processor import Processor
from vio_sbc.agent.taps import NativeMedia
from vio_sbc.agent.turns import VoiceCount

_monotonic = time.monotonic
REC_CAP = 1000  # recording hand-off items per call (~10 s of both channels)
# the engine's fast path between turns (Session.fast_path)
FastPath = tuple[Callable[[InputAudio], bool], tuple[Callable[[InputAudio], None], ...]]
ATTACH = object()  # inbox item: a session's tap is ready (its seq: the ring's capacity)
RX_TIMES = 1024  # capture times kept per call (20 s of frames: lag beyond reads low)


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
    # the call's native tap (vio_sbc/agent/taps.py): set once by `Engine.attach_tap`;
    # then the clock thread never calls the methods above
    tap: NativeMedia | None = None
    tx_written: int = 0  # engine thread: frames put into the tap's playout ring
    tap_flushed: int = 0  # engine thread: the playout position the last flush asked for
    tap_marks: deque[tuple[int, MarkPlayed]] = field(default_factory=deque)  # engine
    recording: bool = False  # the tap records the call (native recorder)

    _fast: FastPath | None = None
    _fast_known: bool = False

    def fast_path(self) -> FastPath | None:
        """(the first processor's `quiet`, the others' `idle_audio`) when the pipeline
        starts with a turn detector and every later stage can take a caller frame
        between turns without a dispatch (engine thread); None otherwise (a WebSocket
        agent needs every frame)."""
        if not self._fast_known:
            procs = list(self.pipeline)
            quiet = getattr(procs[0], "quiet", None) if procs else None
            idles = [getattr(p, "idle_audio", None) for p in procs[1:]]
            if quiet is not None and all(i is not None for i in idles):
                self._fast = (quiet, tuple(i for i in idles if i is not None))
            self._fast_known = True
        return self._fast

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
    def attach_tap(self, tap: NativeMedia, capacity: int) -> None:
        """From now on the call's audio moves through `tap`, whose playout ring holds
        `capacity` frames (main thread, once, before the call's first frame): the
        engine takes it on at its next pass."""
        self.tap = tap
        self.inbox.put((self, capacity, ATTACH))

    def push(self, frame: Frame) -> None:
        self.inbox.put((self, -1, frame))

    @property
    def playing(self) -> bool:
        tap = self.tap
        return bool(self.playout) or (tap is not None and self._tap_pending(tap))

    def is_playing(self) -> bool:
        tap = self.tap
        if tap is not None and self._tap_pending(tap):
            return True
        return any(type(item) is bytes for item in self.playout)

    def _tap_pending(self, tap: NativeMedia) -> bool:
        return self.tx_written > max(tap.info.tx_played, self.tap_flushed)

    def recent_played(self) -> Sequence[bytes | None]:
        tap = self.tap
        return tap.played(50) if tap is not None else tuple(self.played)
