"""Name the OS thread under a Python thread (what /proc/PID/task/*/comm and top show),
so per-thread CPU tells the agent engine from the recording writer. Linux only; a
no-op elsewhere or when prctl is not reachable."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

_PR_SET_NAME = 15


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def set_os_thread_name(name: str) -> None:
    """Name the calling thread (at most 15 bytes kept)."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
