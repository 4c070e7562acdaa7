"""Route pjsip's own log lines into structlog (stdout stays JSON only)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pjsua2 as pj
import structlog

_log = structlog.get_logger("vio_sbc.pjsip")
_LEVELS = {0: "error", 1: "error", 2: "warning", 3: "info", 4: "debug", 5: "debug", 6: "debug"}


class StructlogWriter(pj.LogWriter):  # type: ignore[misc]
    """pjsua2 LogWriter: may be called from any pjlib thread; keep it simple."""

    def write(self, entry: Any) -> None:
        try:
            msg = str(entry.msg).rstrip()
            getattr(_log, _LEVELS.get(int(entry.level), "debug"))(
                "pjsip", msg=msg, thread=str(entry.threadName)
            )
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
