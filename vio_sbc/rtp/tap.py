"""The native media tap (scripts/pjproject-patches/30-media-tap.patch) through ctypes.

One `Tap` per call: a port of its own on the conference bridge, connected both ways
to the call, whose clock-thread callbacks are C: the caller's frames go into a ring
the agent engine reads once per tick (`read`), the engine's playout frames into a
ring the clock thread plays from (`write`), and with recording on, one stereo frame
per bridge tick (caller left, agent right) into a ring a native writer thread
appends to the call's WAV file. No Python runs on the clock thread.

`Ring` exposes the rings alone (the unit tests' view of wrap-around, overrun and
underrun). `available()` is False on a pjsua2 built without the patch: the media
adapter then falls back to the Python port (vio_sbc/rtp/port.py).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import Any

from vio_sbc.sip.native import symbol

U64 = ctypes.c_uint64
RX_CAP = 250   # caller frames a tap holds for the engine (5 s)
TX_CAP = 100   # playout frames queued natively (2 s); the engine holds the rest
REC_CAP = 250  # stereo frames queued for the writer (5 s)
HIST = 50      # ticks of played audio the echo guard compares with (1 s)


class TapInfo(ctypes.Structure):
    """vio_tap_info: what the engine learns from one `read`."""

    _fields_ = [
        ("rx_frames", U64), ("rx_overruns", U64), ("first_seq", U64), ("first_ns", U64),
        ("ticks", U64), ("tx_written", U64), ("tx_played", U64), ("tx_audio", U64),
        ("tx_underruns", U64), ("bursts", U64), ("burst_ns", U64), ("rec_frames", U64),
        ("rec_overruns", U64), ("rec_state", ctypes.c_int), ("rec_errno", ctypes.c_int),
    ]


REC_NONE, REC_ON, REC_DONE, REC_FAILED = 0, 1, 2, 3

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "vio_now_ns": (U64, []),
    "vio_ring_new": (ctypes.c_void_p, [ctypes.c_uint, ctypes.c_uint, ctypes.c_int]),
    "vio_ring_free": (None, [ctypes.c_void_p]),
    "vio_ring_put": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, U64]),
    "vio_ring_put_many": (ctypes.c_uint, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                          ctypes.c_int]),
    "vio_ring_pop": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "vio_ring_get": (ctypes.c_uint, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                     ctypes.POINTER(U64)]),
    "vio_ring_flush": (None, [ctypes.c_void_p]),
    "vio_ring_counts": (None, [ctypes.c_void_p, ctypes.POINTER(U64)]),
    "vio_tap_create": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                         ctypes.POINTER(ctypes.c_int)]),
    "vio_tap_slot": (ctypes.c_int, [ctypes.c_void_p]),
    "vio_tap_frame_bytes": (ctypes.c_uint, [ctypes.c_void_p]),
    "vio_tap_reconnect": (ctypes.c_int, [ctypes.c_void_p]),
    "vio_tap_detach": (None, [ctypes.c_void_p]),
    "vio_tap_release": (None, [ctypes.c_void_p]),
    "vio_tap_read": (ctypes.c_uint, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                     ctypes.POINTER(TapInfo)]),
    "vio_tap_write": (ctypes.c_uint, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                      ctypes.c_int]),
    "vio_tap_flush": (U64, [ctypes.c_void_p]),
    "vio_tap_set_tx": (None, [ctypes.c_void_p, ctypes.c_int]),
    "vio_tap_played": (ctypes.c_uint, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_uint]),
    "vio_tap_record": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]),
    "vio_tap_record_stop": (None, [ctypes.c_void_p]),
}


@functools.lru_cache(maxsize=1)
def _fns() -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, (res, args) in _SIGNATURES.items():
        fn = symbol(name)
        if fn is None:
            return None
        fn.restype = res
        fn.argtypes = args
        out[name] = fn
    return out


def available() -> bool:
    """Is the native tap in the loaded pjsua2?"""
    return _fns() is not None


def _f() -> dict[str, Any]:
    fns = _fns()
    if fns is None:
        raise RuntimeError("this pjsua2 has no native media tap (30-media-tap.patch)")
    return fns


def now_ns() -> int:
    """The clock of the tap's capture times (CLOCK_MONOTONIC, as time.monotonic)."""
    return int(_f()["vio_now_ns"]())


class Ring:
    """A native SPSC ring of `cap` frames of `frame_bytes` (tests and tools)."""

    def __init__(self, cap: int, frame_bytes: int, stamps: bool = False) -> None:
        self._fn = _f()
        self.frame_bytes = frame_bytes
        self._p = self._fn["vio_ring_new"](cap, frame_bytes, int(stamps))
        if not self._p:
            raise ValueError(f"bad ring size {cap} x {frame_bytes}")

    def put(self, frame: bytes, stamp: int = 0) -> bool:
        assert len(frame) == self.frame_bytes
        return bool(self._fn["vio_ring_put"](self._p, frame, stamp))

    def put_many(self, frames: bytes, more: bool = False) -> int:
        return int(self._fn["vio_ring_put_many"](self._p, frames,
                                                 len(frames) // self.frame_bytes, int(more)))

    def pop(self) -> bytes | None:
        buf = ctypes.create_string_buffer(self.frame_bytes)
        return buf.raw if self._fn["vio_ring_pop"](self._p, buf) else None

    def get(self, max_frames: int) -> tuple[bytes, int]:
        """Up to `max_frames` frames (joined) and the first one's stamp."""
        buf = ctypes.create_string_buffer(max_frames * self.frame_bytes)
        stamp = U64(0)
        n = self._fn["vio_ring_get"](self._p, buf, max_frames, ctypes.byref(stamp))
        return buf.raw[:n * self.frame_bytes], int(stamp.value)

    def flush(self) -> None:
        self._fn["vio_ring_flush"](self._p)

    def counts(self) -> dict[str, int]:
        out = (U64 * 4)()
        self._fn["vio_ring_counts"](self._p, out)
        return dict(zip(("head", "tail", "overruns", "underruns"), map(int, out), strict=True))

    def close(self) -> None:
        if self._p:
            self._fn["vio_ring_free"](self._p)
            self._p = None

    def __del__(self) -> None:
        self.close()


class TapError(RuntimeError):
    pass


class Tap:
    """One call's native tap. Created and detached on the main thread (a pjlib
    thread); `read`, `write`, `flush` and `played` on the engine thread. The memory
    lives until every owner (the call, the engine, the recording) has called `unref`;
    the call detaches it before its own `unref`, so the last `unref` (any thread) only
    tells C it may free it."""

    def __init__(self, pj_call_id: int, owners: int = 1) -> None:
        self._fn = _f()
        status = ctypes.c_int(0)
        p = self._fn["vio_tap_create"](pj_call_id, RX_CAP, TX_CAP, ctypes.byref(status))
        if not p:
            raise TapError(f"vio_tap_create failed: pj status {status.value}")
        self._p: int | None = p
        self.frame_bytes = int(self._fn["vio_tap_frame_bytes"](p))
        self.slot = int(self._fn["vio_tap_slot"](p))
        self.info = TapInfo()
        self._rx = ctypes.create_string_buffer(RX_CAP * self.frame_bytes)
        self._hist = ctypes.create_string_buffer(HIST * self.frame_bytes)
        self._flags = ctypes.create_string_buffer(HIST)
        self._owners = owners
        self._lock = threading.Lock()
        self.detached = False

    # -- main thread ------------------------------------------------------------
    def reconnect(self) -> None:
        if self._p and not self.detached:
            self._fn["vio_tap_reconnect"](self._p)

    def set_tx(self, on: bool) -> None:
        if self._p:
            self._fn["vio_tap_set_tx"](self._p, int(on))

    def record(self, path: str) -> int:
        """Start the native recording to `path` (its directory must exist): 0 or an
        errno."""
        assert self._p
        return int(self._fn["vio_tap_record"](self._p, path.encode(), REC_CAP))

    def record_stop(self) -> None:
        if self._p:
            self._fn["vio_tap_record_stop"](self._p)

    def detach(self) -> None:
        """Off the bridge (a recording in progress finishes)."""
        if self._p and not self.detached:
            self.detached = True
            self._fn["vio_tap_detach"](self._p)

    def add_owner(self) -> None:
        with self._lock:
            self._owners += 1

    def unref(self) -> None:
        """One owner is done; the last one (after detach) lets C free it."""
        with self._lock:
            self._owners -= 1
            last = self._owners == 0
            p = self._p if last else None
            if last:
                self._p = None
        if p:
            self._fn["vio_tap_release"](p)

    # -- engine thread ------------------------------------------------------------
    def read(self) -> list[bytes]:
        """The caller frames since the last read; `info` is refreshed."""
        p = self._p
        if not p:
            return []
        n = self._fn["vio_tap_read"](p, self._rx, RX_CAP, ctypes.byref(self.info))
        if not n:
            return []
        fb = self.frame_bytes
        raw = self._rx.raw[:n * fb]
        return [raw[i:i + fb] for i in range(0, n * fb, fb)]

    def state(self) -> TapInfo:
        """A fresh copy of the counters without taking frames (any thread: only the
        engine may `read`)."""
        out = TapInfo()
        p = self._p
        if p:
            self._fn["vio_tap_read"](p, None, 0, ctypes.byref(out))
        return out

    def write(self, frames: bytes, more: bool) -> int:
        """Queue whole frames for playout; the number taken (the ring may be full)."""
        p = self._p
        if not p or not frames:
            return 0
        return int(self._fn["vio_tap_write"](p, frames, len(frames) // self.frame_bytes,
                                             int(more)))

    def flush(self) -> int:
        """Drop every queued playout frame; the playout position after it."""
        p = self._p
        return int(self._fn["vio_tap_flush"](p)) if p else 0

    def played(self, ticks: int = HIST) -> tuple[bytes | None, ...]:
        """The last `ticks` ticks of what the call played, oldest first (None: silent)."""
        p = self._p
        if not p:
            return ()
        n = self._fn["vio_tap_played"](p, self._hist, self._flags, min(ticks, HIST))
        fb = self.frame_bytes
        raw, flags = self._hist.raw, self._flags.raw
        return tuple(raw[i * fb:(i + 1) * fb] if flags[i] else None for i in range(n))
