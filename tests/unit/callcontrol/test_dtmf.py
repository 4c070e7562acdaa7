"""INFO DTMF bodies and the one-digit-per-press rule."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.dtmf import (
    SAME_PRESS_MS,
    DtmfDedup,
    InfoDigit,
    InfoDtmfError,
    parse_info_dtmf,
)


@pytest.mark.parametrize(("ctype", "body", "digit"), [
    ("application/dtmf", "5", InfoDigit("5", 160)),
    ("Application/DTMF; charset=x", " #\r\n", InfoDigit("#", 160)),
    ("application/dtmf", "a", InfoDigit("A", 160)),
    ("application/dtmf", "10", InfoDigit("*", 160)),  # event code
    ("application/dtmf", "11", InfoDigit("#", 160)),
    ("application/dtmf-relay", "Signal=5\r\nDuration=160", None),  # pjsua's
    ("application/sdp", "v=0", None),
    ("", "", None),
])
def test_parse_info_dtmf(ctype: str, body: str, digit: InfoDigit | None) -> None:
    assert parse_info_dtmf(ctype, body) == digit


@pytest.mark.parametrize("body", ["", "16", "x", "55"])
def test_unreadable_application_dtmf(body: str) -> None:
    with pytest.raises(InfoDtmfError, match="not a DTMF digit"):
        parse_info_dtmf("application/dtmf", body)


# (digit, method, t_ms, accepted)
SEQUENCES = [
    # one press reported both ways, either order: once
    [("1", "rfc4733", 1000, True), ("1", "info", 1030, False)],
    [("1", "info", 1000, True), ("1", "rfc4733", 1200, False)],
    # the same digit twice by one method: two presses
    [("1", "rfc4733", 1000, True), ("1", "rfc4733", 1100, True)],
    [("1", "info", 1000, True), ("1", "info", 1001, True)],
    # by the other method but later than a press lasts: a new press
    [("1", "rfc4733", 1000, True), ("1", "info", 1000 + SAME_PRESS_MS + 1, True)],
    # another digit in between
    [("1", "rfc4733", 1000, True), ("2", "info", 1010, True), ("1", "info", 1020, True)],
    # a press seen twice, then again by RFC 4733: the third is a new press
    [("1", "rfc4733", 0, True), ("1", "info", 10, False), ("1", "rfc4733", 300, True)],
]


@pytest.mark.parametrize("seq", SEQUENCES)
def test_one_digit_per_press(seq: list[tuple[str, str, int, bool]]) -> None:
    d = DtmfDedup()
    assert [d.accept(digit, m, t) for digit, m, t, _ in seq] == [ok for *_, ok in seq]
    assert d.duplicates == sum(not ok for *_, ok in seq)
