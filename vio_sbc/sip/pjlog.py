"""Route pjsip's own log lines into structlog (stdout carries log lines of one format)."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import sys
import tempfile
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
    """pjsua2 LogWriter: called from any pjlib thread, and re-entrantly.

    `write` only puts the line on a SimpleQueue (whose `put` is re-entrant); a
    thread of its own formats and logs it. Logging inline could deadlock: Python's
    GC may run a SWIG destructor while the main thread is inside a structlog call
    holding the (non re-entrant) stdout lock, and pjsip logs from that destructor.
    (The same lock did deadlock a signal handler that logged: see cli.py.)

    Malformed packets make pjsip log one error each: lines are cut to MAX_MSG
    characters and rate-limited per message shape (digits ignored), with the count
    of suppressed lines reported on the next one allowed. With `trace`
    (log.sip_trace: the operator asked for every message) nothing is cut or
    suppressed."""

    def __init__(self, burst: int = 5, window: float = 60.0, trace: bool = False) -> None:
        super().__init__()
        self.limiter = RateLimiter(burst=burst, window=window)
        self.trace = trace
        self._q: queue.SimpleQueue[tuple[int, str, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="pjsip-log", daemon=True)
        self._thread.start()

    def write(self, entry: Any) -> None:
        try:
            self._q.put((int(entry.level), str(entry.msg), str(entry.threadName)))
        except Exception:  # never raise into C
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Log what is queued, then stop (after libDestroy: no more lines come)."""
        self._q.put(None)
        self._thread.join(timeout)

    def _drain(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            try:
                self._emit(*item)
            except Exception:  # a bad line must not stop the logging thread
                pass

    def _emit(self, level: int, text: str, thread: str) -> None:
        msg = text.rstrip()
        suppressed = 0
        if not self.trace:
            ok, suppressed = self.limiter.allow(_DIGITS.sub("#", msg[:60]))
            if not ok:
                return
            if len(msg) > MAX_MSG:
                msg = msg[:MAX_MSG] + f"... [{len(msg) - MAX_MSG} more]"
        fields: dict[str, Any] = {"msg": msg, "thread": thread}
        if suppressed:
            fields["suppressed"] = suppressed
        getattr(_log, _LEVELS.get(level, "debug"))("pjsip", **fields)


_TIME = re.compile(r"^[0-9:.]+\s+")


@contextlib.contextmanager
def stdout_logged() -> Iterator[None]:
    """pjlib prints its banner on stdout in libCreate, before any log writer applies:
    capture fd 1 meanwhile and log each line as a `pjsip` debug event, so the log stream
    stays in one format (JSON or console) and nothing raw reaches the operator."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    _log.debug("pjsip", msg=_TIME.sub("", line.strip())[:MAX_MSG],
                               thread="main")
