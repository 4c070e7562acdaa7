"""Call recordings: one stereo WAV per answered call (left = caller, right = agent).

The clock thread only appends to a call's bounded hand-off deque (see
`Session.push_audio` / `Session.next_playout`): caller frames tagged with the
playout tick they arrived at, and one agent frame (or None = silence) per
playout tick. One writer thread drains every call's deque a few times a second,
lines the channels up on the playout ticks and appends interleaved 16-bit
frames to the WAV (the `wave` module rewrites the header sizes on every write,
so a crash leaves a playable file up to the last write). Memory per call is
bounded by the deque (`REC_CAP` items); nothing grows with call length.

A write error (disk full...) stops that recording only: the call goes on, the
rest of its audio is discarded and `recording_stopped` is logged once. The file is
then cut to the whole frames that reached the disk and its header patched to say
so (`repair_wav`); a file too short to hold a header is removed. `on_error` tells
the call log.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import structlog

from vio_sbc.fileperm import private_file
from vio_sbc.threadname import set_os_thread_name

log = structlog.get_logger("vio_sbc.recording")

WAV_HEADER = 44  # what `wave` writes for PCM: RIFF, fmt (16 bytes), data
MAX_LEFT_AHEAD = 5  # caller frames queued ahead of the playout clock before dropping
_RIGHT = -1

Handoff = deque[tuple[int, bytes | None]]


class Recording:
    """One call's recording. `handoff` is shared with the call's Session."""

    def __init__(self, call_id: str, path: Path, sample_rate: int,
                 on_done: Callable[[Recording], None] | None = None,
                 on_error: Callable[[Recording, str], None] | None = None) -> None:
        self.call_id = call_id
        self.path = path
        self.sample_rate = sample_rate
        self.frame_bytes = 2 * sample_rate // 50
        self.handoff: Handoff = deque()
        self.on_done = on_done
        self.on_error = on_error  # (recording, reason) on the writer thread, once
        self.kept = True  # False: the file was removed (nothing usable reached the disk)
        self.closing = False
        self.finished = threading.Event()
        self.frames_written = 0  # stereo 20 ms frames
        self.error: str | None = None
        self._wav: wave.Wave_write | None = None
        self._left: deque[tuple[int, bytes]] = deque()
        self._right: list[bytes | None] = []
        self._tick = 0  # playout ticks consumed
        self._silence = bytes(self.frame_bytes)

    @property
    def seconds(self) -> float:
        return self.frames_written * 0.02

    # -- writer thread -------------------------------------------------------
    def drain(self, final: bool = False) -> None:
        q = self.handoff
        while True:
            try:
                tag, pcm = q.popleft()
            except IndexError:
                break
            if self.error is not None:
                continue
            if tag == _RIGHT:
                self._right.append(pcm)
            elif pcm is not None and len(pcm) == self.frame_bytes:
                self._left.append((tag, pcm))
        if self.error is not None:
            return
        # a caller frame for tick t is tagged t or t+1 (callback order within a tick):
        # keep two ticks of agent frames back until the end of the call
        keep = 0 if final else 2
        n = len(self._right) - keep
        if n <= 0:
            return
        frames = self._right[:n]
        del self._right[:n]
        self._write(frames)

    def _write(self, rights: list[bytes | None]) -> None:
        n = len(rights)
        fb = self.frame_bytes
        left = bytearray(n * fb)
        right = bytearray(n * fb)
        for i, pcm in enumerate(rights):
            tick = self._tick + i
            if self._left and self._left[0][0] <= tick + 1:
                left[i * fb:(i + 1) * fb] = self._left.popleft()[1]
            if pcm is not None and len(pcm) == fb:
                right[i * fb:(i + 1) * fb] = pcm
        self._tick += n
        while len(self._left) > MAX_LEFT_AHEAD:  # caller clock ran ahead: drop the oldest
            self._left.popleft()
        stereo = np.empty(2 * n * (fb // 2), dtype="<i2")
        stereo[0::2] = np.frombuffer(bytes(left), dtype="<i2")
        stereo[1::2] = np.frombuffer(bytes(right), dtype="<i2")
        try:
            if self._wav is None:
                private_file(self.path)  # 0600 whatever the umask (vio_sbc/fileperm.py)
                wav = wave.open(str(self.path), "wb")
                wav.setnchannels(2)
                wav.setsampwidth(2)
                wav.setframerate(self.sample_rate)
                self._wav = wav
            self._wav.writeframes(stereo.tobytes())
            self.frames_written += n
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        reason = "disk_full" if exc.errno == errno.ENOSPC else "write_error"
        self.error = f"{reason}: {exc.strerror or exc}"
        self.handoff.clear()
        self._left.clear()
        self._right.clear()
        self._close_file()
        frames = repair_wav(self.path, 4)
        self.kept = frames is not None
        if frames is None:
            self.frames_written = 0
        elif frames:  # what the file holds, including the failed write's whole frames
            self.frames_written = frames * 50 // self.sample_rate
        log.error("recording_stopped", call_id=self.call_id, path=str(self.path),
                  reason=reason, error=str(exc), seconds=round(self.seconds, 2),
                  kept=self.kept)
        if self.on_error is not None:
            self.on_error(self, reason)

    def _close_file(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            try:
                wav.close()
            except OSError:
                pass

    def finish(self) -> None:
        self.drain(final=True)
        self._close_file()
        if self.error is None:
            log.info("recording_saved", call_id=self.call_id, path=str(self.path),
                     seconds=round(self.seconds, 2))
        self.finished.set()
        if self.on_done is not None:
            self.on_done(self)


def repair_wav(path: Path, block_align: int) -> int | None:
    """After a failed write: cut the PCM WAV `path` (written by `wave`) to the whole
    frames on disk and make its RIFF and data sizes say so; the frames it holds.

    Only rewrites bytes already on disk (no new space needed). A file without a
    complete header is removed (None); anything but a regular file, or a file that
    cannot be rewritten, is left alone (0).
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return 0
        with open(path, "r+b") as f:
            head = f.read(WAV_HEADER)
            if len(head) < WAV_HEADER or head[:4] != b"RIFF" or head[36:40] != b"data":
                raise ValueError("no complete header")
            data = (st.st_size - WAV_HEADER) // block_align * block_align
            f.truncate(WAV_HEADER + data)
            f.seek(4)
            f.write(struct.pack("<I", 36 + data))
            f.seek(40)
            f.write(struct.pack("<I", data))
        return data // block_align
    except FileNotFoundError:
        return None
    except ValueError:
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    except OSError:  # cannot even rewrite it: leave it as the last good write left it
        return 0


class RecState(Protocol):
    rec_frames: int
    rec_overruns: int
    rec_state: int  # 0 none, 1 recording, 2 done, 3 failed
    rec_errno: int


@runtime_checkable
class NativeRecorder(Protocol):
    """A call's native tap as the recording sees it (vio_sbc/rtp/tap.py's Tap)."""

    def record(self, path: str) -> int: ...

    def record_stop(self) -> None: ...

    def state(self) -> RecState: ...

    def add_owner(self) -> None: ...

    def unref(self) -> None: ...


_REC_DONE, _REC_FAILED = 2, 3
FINISH_S = 5.0  # how long `finish` waits for the native writer to close the file


class NativeRecording(Recording):
    """A recording the call's native tap writes (30-media-tap.patch): one stereo frame
    per bridge tick, queued by the clock thread and appended to the WAV by a native
    writer thread, which rewrites the header sizes after every write. This object
    (on the RecordingWriter thread) only watches it: the frames written, a write error
    (then the same repair, log line and `on_error` as the Python recording)."""

    def __init__(self, call_id: str, path: Path, sample_rate: int, tap: NativeRecorder,
                 on_done: Callable[[Recording], None] | None = None,
                 on_error: Callable[[Recording, str], None] | None = None) -> None:
        super().__init__(call_id, path, sample_rate, on_done, on_error)
        self.tap = tap
        self.overruns = 0
        self._start_error: OSError | None = None
        tap.add_owner()

    def start(self) -> None:
        """Open the file natively (main thread). A failure (a full disk...) is reported
        by the writer thread's first pass, as a Python recording's first write would."""
        try:
            private_file(self.path)  # 0700 directories, 0600 file, whatever the umask
            err = self.tap.record(str(self.path))
            if err:
                raise OSError(err, os.strerror(err), str(self.path))
        except OSError as exc:
            self._start_error = exc

    def drain(self, final: bool = False) -> None:
        if self.error is not None:
            return
        if self._start_error is not None:
            self._fail(self._start_error)
            return
        st = self.tap.state()
        self.frames_written = int(st.rec_frames)
        self.overruns = int(st.rec_overruns)
        if st.rec_state == _REC_FAILED:
            self._fail(OSError(st.rec_errno, os.strerror(st.rec_errno), str(self.path)))

    def finish(self) -> None:
        self.tap.record_stop()
        deadline = time.monotonic() + FINISH_S
        while self.tap.state().rec_state not in (_REC_DONE, _REC_FAILED, 0):
            if time.monotonic() > deadline:
                log.error("recording_not_closed", call_id=self.call_id, path=str(self.path))
                break
            time.sleep(0.005)  # the native writer closes within one of its passes
        self.drain(final=True)
        try:
            if self.error is None:
                log.info("recording_saved", call_id=self.call_id, path=str(self.path),
                         seconds=round(self.seconds, 2),
                         **({"overruns": self.overruns} if self.overruns else {}))
            self.finished.set()
            if self.on_done is not None:
                self.on_done(self)
        finally:
            self.tap.unref()


class RecordingWriter:
    """The one thread that writes every call's recording."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self._active: dict[str, Recording] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def add(self, rec: Recording) -> None:
        with self._lock:
            self._active[rec.call_id] = rec

    def close(self, rec: Recording) -> None:
        """End of the call: the writer drains what is left and finalises the file."""
        rec.closing = True
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finalise every recording (shutdown) and stop the thread."""
        with self._lock:
            for rec in self._active.values():
                rec.closing = True
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._pass()

    def _pass(self) -> None:
        with self._lock:
            recs = list(self._active.values())
        for rec in recs:
            try:
                if rec.closing:
                    rec.finish()
                    with self._lock:
                        self._active.pop(rec.call_id, None)
                else:
                    rec.drain()
            except Exception:
                self.errors += 1
                log.exception("recording_writer_error", call_id=rec.call_id)
                with self._lock:
                    self._active.pop(rec.call_id, None)
                rec.finished.set()

    def _run(self) -> None:
        set_os_thread_name("rec-writer")
        while True:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._pass()
            if self._stopping:
                with self._lock:
                    left = bool(self._active)
                if not left:
                    return
                time.sleep(0.01)
