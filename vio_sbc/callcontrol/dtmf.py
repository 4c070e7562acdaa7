"""DTMF from SIP INFO, and one digit per key press however many ways it came. Pure.

Digits reach a call as RFC 4733 telephone-events (RTP) or as SIP INFO requests:
`application/dtmf-relay` (`Signal=5\\r\\nDuration=160`, which pjsua parses itself)
or `application/dtmf` (the body is the digit, `parse_info_dtmf` here). Some
gateways send both for the same key press; `DtmfDedup` drops a digit that repeats
the previous one by the *other* method within `SAME_PRESS_MS` (the same press,
reported twice). Repeats by the same method are always new presses.
"""

from __future__ import annotations

from dataclasses import dataclass

DIGITS = frozenset("0123456789*#ABCD")
SAME_PRESS_MS = 1500  # a press's RFC 4733 event and its INFO arrive within this
DEFAULT_DURATION_MS = 160
_EVENT_CODES = "0123456789*#ABCD"  # RFC 4733 event codes 0-15


class InfoDtmfError(ValueError):
    """An INFO DTMF body we cannot read (answered 400)."""


@dataclass(frozen=True, slots=True)
class InfoDigit:
    digit: str
    duration_ms: int


def parse_info_dtmf(content_type: str, body: str) -> InfoDigit | None:
    """The digit of an `application/dtmf` INFO body: the digit itself, or its event
    code 0-15 (some senders write `10` for `*`). None: another content type
    (`application/dtmf-relay` is pjsua's: it answers it and reports the digit)."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    text = body.strip()
    if ctype == "application/dtmf":
        if text.upper() in DIGITS:
            return InfoDigit(text.upper(), DEFAULT_DURATION_MS)
        if text.isdigit() and int(text) < len(_EVENT_CODES):
            return InfoDigit(_EVENT_CODES[int(text)], DEFAULT_DURATION_MS)
        raise InfoDtmfError(f"application/dtmf body is not a DTMF digit: {text[:20]!r}")
    return None


class DtmfDedup:
    """Per call: is this digit a new key press? `method`: "rfc4733" or "info"."""

    def __init__(self, window_ms: int = SAME_PRESS_MS) -> None:
        self.window_ms = window_ms
        self._last: tuple[str, str, int] | None = None  # digit, method, t_ms
        self.duplicates = 0

    def accept(self, digit: str, method: str, t_ms: int) -> bool:
        last = self._last
        if (last is not None and last[0] == digit and last[1] != method
                and 0 <= t_ms - last[2] <= self.window_ms):
            self.duplicates += 1
            self._last = None  # a third report of the same press would be a new press
            return False
        self._last = (digit, method, t_ms)
        return True
