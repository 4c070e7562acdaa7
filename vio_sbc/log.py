"""structlog logging (JSON lines, or human-readable on a terminal) with secrets and
digest values redacted, and a rate limiter for noisy events."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "***"
# digest values (RFC 7616): a response or nonce pair is enough for an offline dictionary
# attack on the password, so they never reach a log line (pjsip's SIP trace included)
# (a quoted value may lack its closing quote: a pjsip line cut at MAX_MSG in the middle)
_DIGEST = re.compile(r'(?i)\b(response|c?nonce|nextnonce)(\s*=\s*)("[^"]*"?|[^\s,;"]+)')


def mask_digest(text: str) -> str:
    """`response="a1b2", cnonce=x` -> `response="***", cnonce=***`; a quoted value cut
    before its closing quote is masked to the end of the text."""
    if "=" not in text:  # the common case: nothing to do
        return text
    return _DIGEST.sub(lambda m: m.group(1) + m.group(2) + (
        f'"{REDACTED}"' if m.group(3).startswith('"') else REDACTED), text)


class Redactor:
    """structlog processor replacing every configured secret in any string value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = ()
        self.set(secrets)

    def set(self, secrets: Iterable[str]) -> None:
        # longest first so a secret containing another is replaced whole
        self.secrets = tuple(sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        return mask_digest(text)

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for k, v in list(event.items()):
            if isinstance(v, str):
                event[k] = self.scrub(v)
            elif v is not None and not isinstance(v, int | float | bool):
                s = str(v)
                scrubbed = self.scrub(s)
                if scrubbed != s:
                    event[k] = scrubbed
        return event


redactor = Redactor()


def renderer(fmt: str, stream: TextIO) -> Any:
    """`json` (one JSON object a line, for machines), `console` (aligned human-readable
    lines) or `auto`: console when `stream` is a terminal, JSON otherwise."""
    tty = stream.isatty()
    if fmt == "console" or (fmt == "auto" and tty):
        return structlog.dev.ConsoleRenderer(colors=tty, sort_keys=False,
                                             exception_formatter=structlog.dev.plain_traceback)
    return structlog.processors.JSONRenderer()


def configure(level: str = "info", stream: TextIO | None = None, fmt: str = "json") -> None:
    """Log lines on `stream` (stdout by default) in `fmt` (see `renderer`)."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    out = stream or sys.stdout
    human = not isinstance(renderer(fmt, out), structlog.processors.JSONRenderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S" if human else "iso", utc=True),
            *([] if human else [structlog.processors.format_exc_info]),
            redactor,
            renderer(fmt, out),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


class RateLimiter:
    """Allows `burst` events per key per `window` seconds; counts what it suppressed."""

    def __init__(self, burst: int = 5, window: float = 60.0) -> None:
        self.burst = burst
        self.window = window
        self._seen: dict[str, tuple[float, int, int]] = {}

    def allow(self, key: str, now: float | None = None) -> tuple[bool, int]:
        """(allowed, suppressed since the last allowed event for this key)."""
        t = time.monotonic() if now is None else now
        start, count, suppressed = self._seen.get(key, (t, 0, 0))
        if t - start >= self.window:
            start, count = t, 0
        if count < self.burst:
            self._seen[key] = (start, count + 1, 0)
            if len(self._seen) > 10000:
                self._seen.clear()
            return True, suppressed
        self._seen[key] = (start, count, suppressed + 1)
        return False, suppressed + 1
