"""RTP inactivity watch: fed packet counters once a second, names idle calls once."""

from __future__ import annotations

import pytest

from vio_sbc.rtp.inactivity import InactivityWatch


@pytest.mark.parametrize(("feed", "expected"), [
    # (time, packets) -> reported idle seconds (None: not reported)
    ([(0, 0), (1, 0), (2, 0), (3, 0)], [None, None, None, 3.0]),
    # packets flowing: never idle
    ([(0, 0), (1, 50), (2, 100), (3, 150), (4, 200)], [None] * 5),
    # flowing, then stop: idle counted from the last change
    ([(0, 0), (1, 50), (2, 50), (3, 50), (4, 50)], [None, None, None, None, 3.0]),
    # reported once
    ([(0, 5), (3, 5), (4, 5), (5, 5)], [None, 3.0, None, None]),
    # not watched (held / media not active) resets the clock
    ([(0, 7), (2, None), (3, 7), (5, 7), (6, 7)], [None, None, None, None, 3.0]),
])
def test_inactivity_table(feed: list[tuple[float, int | None]],
                          expected: list[float | None]) -> None:
    w = InactivityWatch(3.0)
    assert [w.observe("c", pkts, t) for t, pkts in feed] == expected


def test_forget_and_rearm() -> None:
    w = InactivityWatch(1.0)
    w.observe("a", 0, 0.0)
    assert w.observe("a", 0, 1.0) == 1.0
    w.forget("a")
    assert w.keys() == set()
    w.observe("a", 0, 2.0)
    assert w.observe("a", 0, 3.5) == 1.5
