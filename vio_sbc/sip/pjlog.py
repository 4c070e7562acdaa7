"""Route pjsip's own log lines into structlog (stdout stays JSON only)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pjsua2 as pj
import structlog

from vio_sbc.log import RateLimiter

_log = structlog.get_logger("vio_sbc.pjsip")
_LEVELS = {0: "error", 1: "error", 2: "warning", 3: "info", 4: "debug", 5: "debug", 6: "debug"}


MAX_MSG = 400  # pjsip quotes whole packets in some errors: a 50 kB header is not a log line
_DIGITS = re.compile(r"[0-9]+")


class StructlogWriter(pj.LogWriter):  # type: ignore[misc]
    """pjsua2 LogWriter: may be called from any pjlib thread; keep it simple.

    Malformed packets make pjsip log one error each: lines are cut to MAX_MSG
    characters and rate-limited per message shape (digits ignored), with the
    count of suppressed lines reported on the next one allowed."""

    def __init__(self, burst: int = 5, window: float = 60.0) -> None:
        super().__init__()
        self.limiter = RateLimiter(burst=burst, window=window)
        self._lock = threading.Lock()

    def write(self, entry: Any) -> None:
        try:
            msg = str(entry.msg).rstrip()
            key = _DIGITS.sub("#", msg[:60])
            with self._lock:
                ok, suppressed = self.limiter.allow(key)
            if not ok:
                return
            if len(msg) > MAX_MSG:
                msg = msg[:MAX_MSG] + f"... [{len(msg) - MAX_MSG} more]"
            fields: dict[str, Any] = {"msg": msg, "thread": str(entry.threadName)}
            if suppressed:
                fields["suppressed"] = suppressed
            getattr(_log, _LEVELS.get(int(entry.level), "debug"))("pjsip", **fields)
        except Exception:  # never raise into C
            pass


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """pjlib prints its banner on stdout in libCreate, before any config applies."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
