"""Calling windows: parsing (messages pinned) and evaluation in the callee's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vio_sbc.dialer.windows import (
    DialerError,
    Window,
    in_windows,
    next_opening,
    parse_window,
    parse_windows,
    zone,
)

NY = zone("America/New_York")
TOKYO = zone("Asia/Tokyo")


@pytest.mark.parametrize(("text", "days", "start", "end"), [
    ("Mon-Fri 09:00-18:00", {0, 1, 2, 3, 4}, 540, 1080),
    ("sat 10:00-12:30", {5}, 600, 750),
    ("Mon,Wed,Fri 08:00-24:00", {0, 2, 4}, 480, 1440),
    ("Mon-Tue,Sun 9:00 - 17:00", {0, 1, 6}, 540, 1020),
    ("monday 00:00-00:01", {0}, 0, 1),
])
def test_parse_window(text: str, days: set[int], start: int, end: int) -> None:
    assert parse_window(text) == Window(frozenset(days), start, end)


@pytest.mark.parametrize(("text", "message"), [
    ("9-5", "window '9-5': expected DAYS HH:MM-HH:MM, e.g. 'Mon-Fri 09:00-18:00'"),
    ("Mon-Fri", "window 'Mon-Fri': expected DAYS HH:MM-HH:MM, e.g. 'Mon-Fri 09:00-18:00'"),
    ("Mun 09:00-10:00", "window 'Mun 09:00-10:00': unknown day 'Mun' "
                        "(expected one of Mon, Tue, Wed, Thu, Fri, Sat, Sun)"),
    ("Fri-Mon 09:00-10:00", "window 'Fri-Mon 09:00-10:00': day range 'Fri-Mon' runs backwards"),
    ("Mon 25:00-26:00", "window 'Mon 25:00-26:00': invalid time '25:00'"),
    ("Mon 09:60-10:00", "window 'Mon 09:60-10:00': invalid time '09:60'"),
    ("Mon 22:00-02:00", "window 'Mon 22:00-02:00': end 02:00 must be after start 22:00 "
                        "(split overnight windows in two)"),
    ("Mon,,Tue 09:00-10:00", "window 'Mon,,Tue 09:00-10:00': empty day in list"),
])
def test_parse_window_errors(text: str, message: str) -> None:
    with pytest.raises(DialerError) as exc:
        parse_window(text)
    assert str(exc.value) == message


def test_window_text_round_trips() -> None:
    for text in ("Mon-Fri 09:00-18:00", "Mon,Wed,Fri-Sun 08:00-24:00", "Sun 00:00-01:00"):
        assert str(parse_window(text)) == text


def test_several_windows_in_one_text() -> None:
    ws = parse_windows(["Mon-Fri 09:00-12:00; Mon-Fri 13:00-18:00", "Sat 10:00-14:00"])
    assert [str(w) for w in ws] == ["Mon-Fri 09:00-12:00", "Mon-Fri 13:00-18:00",
                                    "Sat 10:00-14:00"]


def test_unknown_zone() -> None:
    with pytest.raises(DialerError, match=r"^unknown time zone 'Mars/Base' \(expected an IANA"):
        zone("Mars/Base")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


WEEKDAYS = parse_windows(["Mon-Fri 09:00-12:00; Mon-Fri 13:00-18:00"])


@pytest.mark.parametrize(("now", "tz", "inside"), [
    # 2026-11-25 is a Wednesday
    ("2026-11-25T08:59:59-05:00", NY, False),
    ("2026-11-25T09:00:00-05:00", NY, True),
    ("2026-11-25T14:00:00+00:00", NY, True),     # 09:00 in New York
    ("2026-11-25T12:30:00-05:00", NY, False),    # lunch gap
    ("2026-11-25T17:59:59-05:00", NY, True),
    ("2026-11-25T18:00:00-05:00", NY, False),    # end is exclusive
    ("2026-11-28T10:00:00-05:00", NY, False),    # Saturday
    ("2026-11-25T14:00:00+00:00", TOKYO, False),  # 23:00 in Tokyo
    ("2026-11-25T01:00:00+00:00", TOKYO, True),   # 10:00 Wednesday in Tokyo
])
def test_in_windows(now: str, tz: object, inside: bool) -> None:
    assert in_windows(WEEKDAYS, tz, at(now)) is inside  # type: ignore[arg-type]


def test_no_windows_means_any_time() -> None:
    assert in_windows((), NY, at("2026-11-28T03:00:00+00:00"))


@pytest.mark.parametrize(("now", "opening"), [
    ("2026-11-25T10:00:00-05:00", "2026-11-25T10:00:00-05:00"),  # open: now
    ("2026-11-25T08:00:00-05:00", "2026-11-25T09:00:00-05:00"),
    ("2026-11-25T12:15:00-05:00", "2026-11-25T13:00:00-05:00"),
    ("2026-11-25T19:00:00-05:00", "2026-11-26T09:00:00-05:00"),
    ("2026-11-27T18:30:00-05:00", "2026-11-30T09:00:00-05:00"),  # Friday evening -> Monday
    # DST: Saturday 7 March 2026 before the spring change -> Monday 09:00 EDT (-04:00)
    ("2026-03-07T12:00:00-05:00", "2026-03-09T09:00:00-04:00"),
])
def test_next_opening(now: str, opening: str) -> None:
    assert next_opening(WEEKDAYS, NY, at(now)) == at(opening)


def test_next_opening_in_a_dst_gap_moves_forward() -> None:
    ws = parse_windows(["Sun 02:30-04:00"])  # 02:30 does not exist on 8 March 2026 in NY
    got = next_opening(ws, NY, at("2026-03-08T06:00:00+00:00"))  # 01:00 EST
    assert got is not None and got.astimezone(UTC) == at("2026-03-08T07:30:00+00:00")
