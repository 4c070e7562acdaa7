"""The engine's side of a call's native media tap (vio_sbc/rtp/tap.py implements it).

With a tap the clock thread never calls Python: each engine tick (`TICK_S`) takes
every tapped call's new caller frames from its ring in one call, and tops the
call's native playout ring up from the session's playout deque (the deque holds
what does not fit, the ring about 2 s). Marks never enter the ring: each is kept
with the playout position it follows and reported once the tap has played that far.
A flush (barge-in) drops what the ring holds; the clock thread applies it at its
next tick. Declared here as a protocol so the agent room does not depend on rtp/.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

TICK_S = 0.02  # one bridge tick: the engine takes each tapped call's frames this often
NS = 1e-9


class TapCounters(Protocol):
    rx_frames: int
    rx_overruns: int
    first_seq: int
    first_ns: int
    ticks: int
    tx_played: int
    tx_audio: int
    tx_underruns: int
    bursts: int
    burst_ns: int


class NativeMedia(Protocol):
    """A call's native tap as the engine uses it (engine thread only, but `unref`)."""

    frame_bytes: int

    @property
    def info(self) -> TapCounters: ...

    def read(self) -> list[bytes]: ...

    def write(self, frames: bytes, more: bool) -> int: ...

    def flush(self) -> int: ...

    def played(self, ticks: int = ...) -> Sequence[bytes | None]: ...

    def unref(self) -> None: ...


def room(cap: int, written: int, played: int) -> int:
    """Frames a playout ring of `cap` frames can take: `written` is what the engine
    put in, `played` how far the tap has played (or flushed)."""
    return max(0, cap - (written - played))
