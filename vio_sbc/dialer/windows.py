"""Calling windows: "Mon-Fri 09:00-18:00" style rules, evaluated in the callee's time zone.

Pure functions over plain values; the current time is always passed in.
A window is a set of weekdays and a half-open local time range [start, end).
An empty window list means "any time".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_INDEX = {d.lower(): i for i, d in enumerate(DAY_NAMES)}
_WINDOW = re.compile(r"\s*(?P<days>[A-Za-z, -]+?)\s+(?P<start>[0-9]{1,2}:[0-9]{2})\s*-\s*"
                     r"(?P<end>[0-9]{1,2}:[0-9]{2})\s*")


class DialerError(ValueError):
    """A dialer input (window, time zone, number, CSV row, option) is invalid."""


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start_min: int  # minutes after local midnight, inclusive
    end_min: int  # exclusive; 1440 = midnight at the end of the day

    def __str__(self) -> str:
        return f"{_days_text(self.days)} {_hhmm(self.start_min)}-{_hhmm(self.end_min)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: frozenset[int]) -> str:
    runs: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        a, b = DAY_NAMES[ordered[i]], DAY_NAMES[ordered[j]]
        runs.append(a if i == j else f"{a}-{b}")
        i = j + 1
    return ",".join(runs)


def _day(name: str, text: str) -> int:
    key = name.strip().lower()[:3]
    if len(name.strip()) < 3 or key not in _DAY_INDEX:
        raise DialerError(f"window {text!r}: unknown day {name.strip()!r} "
                          f"(expected one of {', '.join(DAY_NAMES)})")
    return _DAY_INDEX[key]


def _minutes(hhmm: str, text: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    if h > 24 or m > 59 or (h == 24 and m):
        raise DialerError(f"window {text!r}: invalid time {hhmm!r}")
    return h * 60 + m


def parse_window(text: str) -> Window:
    """One window: DAYS HH:MM-HH:MM, DAYS a day, a range (Mon-Fri) or a comma list."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise DialerError(f"window {text!r}: expected DAYS HH:MM-HH:MM, "
                          "e.g. 'Mon-Fri 09:00-18:00'")
    days: set[int] = set()
    for part in match["days"].split(","):
        if not part.strip():
            raise DialerError(f"window {text!r}: empty day in list")
        first, dash, last = part.partition("-")
        a = _day(first, text)
        if not dash:
            days.add(a)
            continue
        b = _day(last, text)
        if b < a:
            raise DialerError(f"window {text!r}: day range {part.strip()!r} runs backwards")
        days.update(range(a, b + 1))
    start, end = _minutes(match["start"], text), _minutes(match["end"], text)
    if end <= start:
        raise DialerError(f"window {text!r}: end {match['end']} must be after start "
                          f"{match['start']} (split overnight windows in two)")
    return Window(frozenset(days), start, end)


def parse_windows(texts: Iterable[str]) -> tuple[Window, ...]:
    """Several windows; each text may hold more than one, separated by ';'."""
    out: list[Window] = []
    for text in texts:
        out.extend(parse_window(part) for part in text.split(";") if part.strip())
    return tuple(out)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DialerError(f"unknown time zone {name!r} (expected an IANA name such as "
                          "America/New_York)") from None


def in_windows(windows: tuple[Window, ...], tz: ZoneInfo, now: datetime) -> bool:
    """Whether the aware instant `now` falls inside any window, in local time of `tz`."""
    if not windows:
        return True
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(local.weekday() in w.days and w.start_min <= minute < w.end_min
               for w in windows)


def next_opening(windows: tuple[Window, ...], tz: ZoneInfo, now: datetime) -> datetime | None:
    """`now` if inside a window, else the earliest window start after it (None: no day
    is ever open). Local wall-clock starts are resolved through `tz`, so DST is honoured."""
    if in_windows(windows, tz, now):
        return now
    local = now.astimezone(tz)
    best: datetime | None = None
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        for w in windows:
            if day.weekday() not in w.days:
                continue
            start = datetime(day.year, day.month, day.day, w.start_min // 60,
                             w.start_min % 60, tzinfo=tz)
            # a start that falls in a DST gap is normalised forward by the round trip
            start = start.astimezone(now.tzinfo).astimezone(tz)
            if start > now and (best is None or start < best):
                best = start
        if best is not None:
            break
    return best
