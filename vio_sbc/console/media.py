"""Recordings over HTTP with Range requests (RFC 9110 §14), so an audio element can
seek and the browser fetches only what it plays. Pure parsing plus one file read."""

from __future__ import annotations

import re
from pathlib import Path

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
CHUNK_MAX = 8 * 1024 * 1024  # one response carries at most this much


class RangeNotSatisfiable(ValueError):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single `bytes=` range, None for the whole file (no
    header, or one we do not serve as a range: several ranges). Raises
    RangeNotSatisfiable when it starts past the end."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None:
        return None
    first_s, last_s = m.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # the last N bytes
        n = int(last_s)
        if n == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - n), size - 1
    first = int(first_s)
    last = min(int(last_s), size - 1) if last_s else size - 1
    if first >= size or first > last:
        raise RangeNotSatisfiable(header)
    return first, min(last, first + CHUNK_MAX - 1)


def read_part(path: Path, first: int, last: int) -> bytes:
    with path.open("rb") as f:
        f.seek(first)
        return f.read(last - first + 1)
