"""The engine's batch path for calls with a native tap: one pass per tick takes every
tapped call's new frames, tops each call's playout ring up, reports marks as the tap
plays past them, flushes on barge-in. The tap here is a Python model of the C one
(vio_sbc/agent/taps.py's protocol); tests/integration run the real one."""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from vio_sbc.agent.engine import Engine, Session
from vio_sbc.agent.frames import (
    CallEnded,
    Frame,
    InputAudio,
    Interrupt,
    MarkPlayed,
    OutputAudio,
    PlayoutMark,
)
from vio_sbc.agent.taps import room

FB = 320


@dataclass
class Info:
    rx_frames: int = 0
    rx_overruns: int = 0
    first_seq: int = 0
    first_ns: int = 0
    ticks: int = 0
    tx_played: int = 0
    tx_audio: int = 0
    tx_underruns: int = 0
    bursts: int = 0
    burst_ns: int = 0


@dataclass
class ModelTap:
    """What the clock thread would do, done by the test: `deliver` caller frames,
    `tick` plays one frame from the playout ring."""

    cap: int = 8
    frame_bytes: int = FB
    info: Info = field(default_factory=Info)
    rx: list[bytes] = field(default_factory=list)
    tx: list[bytes] = field(default_factory=list)
    played_frames: list[bytes] = field(default_factory=list)
    unrefs: int = 0
    flushes: int = 0
    written: int = 0

    def deliver(self, *pcm: bytes) -> None:
        self.rx.extend(pcm)

    def tick(self) -> None:
        self.info.ticks += 1
        if self.tx:
            self.played_frames.append(self.tx.pop(0))
            self.info.tx_played += 1

    def read(self) -> list[bytes]:
        out, self.rx = self.rx, []
        self.info.first_seq = self.info.rx_frames
        self.info.first_ns = time.monotonic_ns()
        self.info.rx_frames += len(out)
        return out

    def write(self, frames: bytes, more: bool) -> int:
        n = len(frames) // FB
        assert len(self.tx) + n <= self.cap, "the engine overfilled the ring"
        self.tx += [frames[i * FB:(i + 1) * FB] for i in range(n)]
        self.written += n
        return n

    def flush(self) -> int:
        self.flushes += 1
        self.info.tx_played += len(self.tx)
        self.tx.clear()
        return self.written

    def played(self, ticks: int = 50) -> Sequence[bytes | None]:
        return tuple(self.played_frames[-ticks:])

    def unref(self) -> None:
        self.unrefs += 1


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Frame] = []
        self.reply: list[Frame] = []

    def process(self, frame: Frame) -> list[Frame]:
        self.seen.append(frame)
        if isinstance(frame, InputAudio) and self.reply:
            out, self.reply = self.reply, []
            return [frame, *out]
        return [frame]


def _wait(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def _engine() -> tuple[Engine, queue.SimpleQueue[tuple[Session, Frame]]]:
    control: queue.SimpleQueue[tuple[Session, Frame]] = queue.SimpleQueue()
    eng = Engine(lambda s, f: control.put((s, f)))
    eng.start()
    return eng, control


def test_caller_frames_of_every_tapped_call_are_taken_in_order_with_their_time() -> None:
    eng, _ = _engine()
    try:
        calls = []
        for i in range(3):
            proc = Recorder()
            sess = eng.session(f"c{i}", 8000, [proc])
            t = ModelTap()
            eng.attach_tap(sess, t, t.cap)
            calls.append((proc, t, sess))
        for i, (_, t, _) in enumerate(calls):
            t.deliver(*(bytes([i + 1]) * FB for _ in range(5)))
        assert _wait(lambda: all(s.rx_frames == 5 for _, _, s in calls))
        assert _wait(lambda: all(len(p.seen) == 5 for p, _, _ in calls))
        for i, (proc, _, _) in enumerate(calls):
            audio = [f for f in proc.seen if isinstance(f, InputAudio)]
            assert [f.t_ms for f in audio] == [0, 20, 40, 60, 80]
            assert all(f.pcm == bytes([i + 1]) * FB for f in audio)
        calls[0][1].deliver(bytes(FB))
        assert _wait(lambda: [f.t_ms for f in calls[0][0].seen][-1] == 100)
    finally:
        eng.stop()


def test_playout_fills_the_ring_as_it_drains_and_marks_follow_the_play_position() -> None:
    eng, _ = _engine()
    try:
        proc = Recorder()
        sess = eng.session("c", 8000, [proc])
        t = ModelTap(cap=4)
        eng.attach_tap(sess, t, t.cap)
        pcm = b"".join(bytes([k]) * FB for k in range(1, 11))  # 10 frames
        proc.reply = [OutputAudio(pcm, 8000), PlayoutMark("end")]
        t.deliver(bytes(FB))
        assert _wait(lambda: len(t.tx) == 4)  # the ring's room, the rest waits
        assert sess.playing and sess.is_playing()
        assert len(sess.playout) == 7  # 6 frames and the mark
        for _ in range(40):
            t.tick()
            time.sleep(0.005)
            if len(t.played_frames) == 10:
                break
        assert [f[0] for f in t.played_frames] == list(range(1, 11))
        assert _wait(lambda: any(isinstance(f, MarkPlayed) for f in proc.seen))
        mark = [f for f in proc.seen if isinstance(f, MarkPlayed)]
        assert [m.name for m in mark] == ["end"]
        assert _wait(lambda: not sess.playing)
    finally:
        eng.stop()


def test_a_mark_is_not_reported_before_the_audio_ahead_of_it_has_played() -> None:
    eng, _ = _engine()
    try:
        proc = Recorder()
        sess = eng.session("c", 8000, [proc])
        t = ModelTap(cap=8)
        eng.attach_tap(sess, t, t.cap)
        proc.reply = [OutputAudio(bytes(3 * FB), 8000), PlayoutMark("m")]
        t.deliver(bytes(FB))
        assert _wait(lambda: len(t.tx) == 3)
        t.tick()
        t.tick()
        t.deliver(bytes(FB))  # an engine pass with the mark still one frame ahead
        assert _wait(lambda: len([f for f in proc.seen if isinstance(f, InputAudio)]) == 2)
        assert not any(isinstance(f, MarkPlayed) for f in proc.seen)
        t.tick()
        assert _wait(lambda: any(isinstance(f, MarkPlayed) for f in proc.seen))
    finally:
        eng.stop()


def test_barge_in_flushes_the_ring_and_reports_the_dropped_marks() -> None:
    eng, control = _engine()
    try:
        proc = Recorder()
        sess = eng.session("c", 8000, [proc])
        t = ModelTap(cap=4)
        eng.attach_tap(sess, t, t.cap)
        proc.reply = [OutputAudio(bytes(6 * FB), 8000), PlayoutMark("after")]
        t.deliver(bytes(FB))
        assert _wait(lambda: len(t.tx) == 4)
        proc.reply = [Interrupt(t_ms=20)]
        t.deliver(bytes(FB))
        assert _wait(lambda: t.flushes == 1)
        assert not t.tx and not sess.playout
        assert _wait(lambda: any(isinstance(f, MarkPlayed) for f in proc.seen))
        assert _wait(lambda: not sess.is_playing())
        assert isinstance(control.get(timeout=5)[1], Interrupt)
    finally:
        eng.stop()


def test_the_engine_lets_go_of_the_tap_when_the_call_ends() -> None:
    eng, _ = _engine()
    try:
        sess = eng.session("c", 8000, [Recorder()])
        t = ModelTap()
        eng.attach_tap(sess, t, t.cap)
        t.deliver(bytes(FB))
        assert _wait(lambda: sess.rx_frames == 1)
        sess.push(CallEnded("caller"))
        assert _wait(lambda: t.unrefs == 1)
        t.deliver(bytes(FB))
        other = eng.session("d", 8000, [Recorder()])
        t2 = ModelTap()
        eng.attach_tap(other, t2, t2.cap)
        t2.deliver(bytes(FB))
        assert _wait(lambda: other.rx_frames == 1)  # a tick went by...
        assert sess.rx_frames == 1 and len(t.rx) == 1  # ...and did not read the ended call
    finally:
        eng.stop()


def test_room_is_the_capacity_less_what_is_queued() -> None:
    assert room(100, written=30, played=10) == 80
    assert room(100, written=130, played=10) == 0
    assert room(4, written=0, played=0) == 4
