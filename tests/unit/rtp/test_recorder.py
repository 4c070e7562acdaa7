"""Recording: channel alignment on the playout clock, header sizes, bounded hand-off,
disk-full handling (real ENOSPC from /dev/full)."""

from __future__ import annotations

import os
import queue
import wave
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.agent.audio import tone
from vio_sbc.agent.engine import REC_CAP, Session
from vio_sbc.rtp.recorder import Recording, RecordingWriter, repair_wav

RATE = 8000
FB = 320


def _session(rec: Recording) -> Session:
    s = Session("c1", RATE, [], queue.SimpleQueue())
    s.rec = rec.handoff
    return s


def _frame(value: int) -> bytes:
    return np.full(FB // 2, value, dtype="<i2").tobytes()


def _read(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getnchannels(), w.getframerate(), data.reshape(-1, 2)


@pytest.mark.parametrize("caller_first", [True, False])
def test_channels_line_up_tick_by_tick(tmp_path: Path, caller_first: bool) -> None:
    """The bridge requests a port's frame before it delivers the caller's (get, then
    put, in each tick): caller frame k lands in the left channel of tick k. With the
    order reversed it does too (after a gap in the caller's audio, the first frame may
    land one tick, 20 ms, early: no more).
    Agent frames (None = silence) land in the right channel of their tick."""
    rec = Recording("c1", tmp_path / "r.wav", RATE)
    s = _session(rec)
    for k in range(50):
        s.playout.append(_frame(1000 + k)) if k % 2 == 0 else None
        if caller_first:
            s.push_audio(_frame(-(k + 1)))
            s.next_playout()
        else:
            s.next_playout()
            s.push_audio(_frame(-(k + 1)))
        if k % 7 == 0:
            rec.drain()
    rec.finish()
    channels, rate, data = _read(tmp_path / "r.wav")
    assert (channels, rate) == (2, RATE)
    assert len(data) == 50 * 160
    left = data[::160, 0].tolist()
    right = data[::160, 1].tolist()
    assert left == [-(k + 1) for k in range(50)]
    assert right == [(1000 + k) if k % 2 == 0 else 0 for k in range(50)]


def test_missing_caller_frames_are_silence(tmp_path: Path) -> None:
    rec = Recording("c1", tmp_path / "r.wav", RATE)
    s = _session(rec)
    for k in range(10):
        s.next_playout()
        if k in (3, 4):
            s.push_audio(_frame(7))
    rec.finish()
    _, _, data = _read(tmp_path / "r.wav")
    assert data[::160, 0].tolist() == [0, 0, 0, 7, 7, 0, 0, 0, 0, 0]


def test_header_sizes_are_right_after_every_write(tmp_path: Path) -> None:
    """A crash between writes leaves a playable file: the header matches the data."""
    rec = Recording("c1", tmp_path / "r.wav", RATE)
    s = _session(rec)
    for _ in range(20):
        s.next_playout()
    rec.drain()  # not finished: two ticks kept back
    size = os.path.getsize(tmp_path / "r.wav")
    with wave.open(str(tmp_path / "r.wav")) as w:
        assert w.getnframes() == 18 * 160
        assert size == 44 + 18 * 160 * 4
    rec.finish()


def test_handoff_is_bounded(tmp_path: Path) -> None:
    rec = Recording("c1", tmp_path / "r.wav", RATE)
    s = _session(rec)
    for _ in range(REC_CAP + 500):
        s.next_playout()
        s.push_audio(_frame(1))
    assert len(rec.handoff) == REC_CAP


def test_disk_full_stops_the_recording_not_the_call(tmp_path: Path) -> None:
    done: list[Recording] = []
    rec = Recording("c1", Path("/dev/full"), RATE, on_done=done.append)
    s = _session(rec)
    for _ in range(3000):  # enough to overflow the file buffer
        s.next_playout()
        s.push_audio(_frame(1))
        if len(rec.handoff) > 100:
            rec.drain()
    rec.finish()
    assert rec.error is not None and rec.error.startswith("disk_full")
    assert done == [rec]
    assert len(rec.handoff) == 0  # later frames are discarded, not kept
    assert Path("/dev/full").exists()  # the repair leaves what is not a regular file


def test_write_error_is_reported_once(tmp_path: Path) -> None:
    errors: list[tuple[str, str]] = []
    rec = Recording("c1", Path("/dev/full"), RATE,
                    on_error=lambda r, reason: errors.append((r.call_id, reason)))
    s = _session(rec)
    for _ in range(3000):
        s.next_playout()
        s.push_audio(_frame(1))
        if len(rec.handoff) > 100:
            rec.drain()
    rec.finish()
    assert errors == [("c1", "disk_full")]


def _wav_with_tail(path: Path, frames: int, tail: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(4 * frames))
    with open(path, "ab") as f:  # data that reached the disk after the last header update
        f.write(tail)


@pytest.mark.parametrize("tail, frames", [(b"", 10), (b"\1" * 3, 10), (b"\1" * 9, 12)])
def test_repair_wav_makes_the_header_match_the_whole_frames(
        tmp_path: Path, tail: bytes, frames: int) -> None:
    path = tmp_path / "a.wav"
    _wav_with_tail(path, 10, tail)
    assert repair_wav(path, 4) == frames
    assert path.stat().st_size == 44 + 4 * frames
    with wave.open(str(path)) as w:
        assert w.getnframes() == frames and len(w.readframes(frames)) == 4 * frames


@pytest.mark.parametrize("content", [b"", b"RIFF\0\0", b"x" * 60])
def test_repair_wav_removes_a_file_without_a_header(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(content)
    assert repair_wav(path, 4) is None
    assert not path.exists()
    assert repair_wav(tmp_path / "missing.wav", 4) is None


def test_writer_thread_finalises_on_close_and_on_stop(tmp_path: Path) -> None:
    writer = RecordingWriter(interval_s=0.01)
    writer.start()
    a = Recording("a", tmp_path / "a.wav", RATE)
    b = Recording("b", tmp_path / "b.wav", 16000)
    for rec in (a, b):
        writer.add(rec)
        s = _session(rec)
        s.playout.extend([tone(1000, 20, rec.sample_rate)] * 10)
        for _ in range(25):
            s.next_playout()
    writer.close(a)
    assert a.finished.wait(5)
    writer.stop()
    assert b.finished.is_set()
    assert _read(tmp_path / "a.wav")[2].shape == (25 * 160, 2)
    assert _read(tmp_path / "b.wav")[1] == 16000
    assert _read(tmp_path / "b.wav")[2].shape == (25 * 320, 2)
