"""Dialer scheduling rules as tables: pacing, concurrency, retries, DNC, crash outcomes."""

from __future__ import annotations

import pytest

from vio_sbc.dialer.rules import (
    Decision,
    RetryPolicy,
    after_attempt,
    campaign_hold,
    next_pace,
    normalise_number,
    on_dnc,
    outcome_from_call_row,
    pace_due,
    retry_class,
    trunk_hold,
)
from vio_sbc.dialer.windows import DialerError


@pytest.mark.parametrize(("last", "cps", "now", "due"), [
    (None, 1.0, 0.0, True),
    (100.0, 1.0, 100.99, False),
    (100.0, 1.0, 101.0, True),
    (100.0, 2.0, 100.49, False),
    (100.0, 2.0, 100.5, True),
    (100.0, 0.1, 109.0, False),
    (100.0, 0.1, 110.0, True),
])
def test_pace_due(last: float | None, cps: float, now: float, due: bool) -> None:
    assert pace_due(last, cps, now) is due


def test_next_pace() -> None:
    assert next_pace(None, 2.0, 5.0) == 5.0
    assert next_pace(5.0, 2.0, 5.1) == 5.5
    assert next_pace(5.0, 2.0, 9.0) == 9.0


def test_pacing_never_puts_more_than_cps_calls_in_a_second() -> None:
    """Drive the rule with a 10 ms clock for 10 s: every 1 s window holds <= cps starts."""
    for cps in (1.0, 2.0, 3.0):
        starts: list[float] = []
        for i in range(1000):
            now = i * 0.01
            if pace_due(starts[-1] if starts else None, cps, now):
                starts.append(now)
        worst = max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts)
        assert worst == int(cps)
        assert len(starts) >= 10 * cps - 1


@pytest.mark.parametrize(("live", "max_calls", "last", "cps", "now", "why"), [
    (0, 5, None, 1.0, 0.0, None),
    (5, 5, None, 1.0, 0.0, "trunk_max_calls"),
    (6, 5, None, 1.0, 0.0, "trunk_max_calls"),
    (4, 5, 10.0, 1.0, 10.5, "trunk_cps"),
    (4, 5, 10.0, 1.0, 11.0, None),
    (5, 5, 10.0, 1.0, 10.5, "trunk_max_calls"),  # capacity is reported first
])
def test_trunk_hold(live: int, max_calls: int, last: float | None, cps: float, now: float,
                    why: str | None) -> None:
    assert trunk_hold(live=live, max_calls=max_calls, last_dial=last, cps=cps, now=now) == why


@pytest.mark.parametrize(("status", "live", "max_c", "last", "cps", "now", "why"), [
    ("active", 0, 3, None, 2.0, 0.0, None),
    ("active", 3, 3, None, 2.0, 0.0, "campaign_max_concurrent"),
    ("active", 2, 3, 1.0, 2.0, 1.2, "campaign_cps"),
    ("active", 2, 3, 1.0, 2.0, 1.5, None),
    ("paused", 0, 3, None, 2.0, 0.0, "campaign_paused"),
    ("cancelled", 0, 3, None, 2.0, 0.0, "campaign_cancelled"),
])
def test_campaign_hold(status: str, live: int, max_c: int, last: float | None, cps: float,
                       now: float, why: str | None) -> None:
    assert campaign_hold(status=status, live=live, max_concurrent=max_c, last_dial=last,
                         cps=cps, now=now) == why


@pytest.mark.parametrize(("outcome", "status", "bucket"), [
    ("answered", 200, "answered"),
    ("busy", 486, "busy"),
    ("no_answer", 408, "no_answer"),
    ("machine", 200, "machine"),
    ("rejected", 486, "busy"),
    ("rejected", 600, "busy"),
    ("rejected", 480, "no_answer"),
    ("rejected", 487, "no_answer"),
    ("rejected", 603, "final"),
    ("rejected", 404, "final"),
    ("rejected", 503, "failed"),
    ("failed", 500, "failed"),
    ("unknown", 0, "failed"),
])
def test_retry_class(outcome: str, status: int, bucket: str) -> None:
    assert retry_class(outcome, status) == bucket


POLICY = RetryPolicy(max_attempts=3, busy_s=300, no_answer_s=600, failed_s=900, machine_s=None)


@pytest.mark.parametrize(("outcome", "status", "attempts", "decision"), [
    ("answered", 200, 1, Decision("completed")),
    ("answered", 200, 3, Decision("completed")),
    ("busy", 486, 1, Decision("retry_wait", 1300.0)),
    ("busy", 486, 2, Decision("retry_wait", 1300.0)),
    ("busy", 486, 3, Decision("failed")),              # max attempts reached
    ("no_answer", 408, 1, Decision("retry_wait", 1600.0)),
    ("failed", 500, 2, Decision("retry_wait", 1900.0)),
    ("unknown", 0, 1, Decision("retry_wait", 1900.0)),  # cut off by a crash: a failed try
    ("machine", 200, 1, Decision("failed")),            # machine_s None: never retried
    ("rejected", 603, 1, Decision("failed")),           # declined: retrying cannot help
])
def test_after_attempt(outcome: str, status: int, attempts: int, decision: Decision) -> None:
    assert after_attempt(POLICY, outcome, status, attempts, now=1000.0) == decision


def test_policy_round_trips_and_validates() -> None:
    assert RetryPolicy.from_json(POLICY.to_json()) == POLICY
    assert RetryPolicy.from_json(None) == RetryPolicy()
    with pytest.raises(DialerError, match=r"^max attempts must be at least 1, got 0$"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(DialerError, match=r"^retry delay busy must be >= 0, got -1$"):
        RetryPolicy(busy_s=-1)


@pytest.mark.parametrize(("text", "number"), [
    ("+14155550100", "+14155550100"),
    (" +1 (415) 555-0100 ", "+14155550100"),
    ("0044 20 7946 0000", "+442079460000"),
    ("+44.20.7946.0000", "+442079460000"),
])
def test_normalise_number(text: str, number: str) -> None:
    assert normalise_number(text) == number


@pytest.mark.parametrize("text", ["4155550100", "+0123456789", "+1415", "+1415555010x"])
def test_normalise_number_rejects(text: str) -> None:
    with pytest.raises(DialerError) as exc:
        normalise_number(text)
    assert str(exc.value) == f"{text!r} is not an E.164 number (+ then 8-15 digits, no leading 0)"


def test_dnc() -> None:
    assert on_dnc("+14155550100", {"+14155550100"})
    assert not on_dnc("+14155550101", {"+14155550100"})


@pytest.mark.parametrize(("row", "result"), [
    (None, ("unknown", 0, "interrupted: no call-log record", False)),
    ({"status": "ended", "answered_at": 5.0, "final_status": 200, "final_reason": "OK"},
     ("answered", 200, "OK", True)),
    ({"status": "interrupted", "answered_at": 5.0, "final_status": None},
     ("answered", 200, "interrupted", False)),
    ({"status": "refused", "answered_at": None, "final_status": 486, "final_reason": "Busy Here"},
     ("busy", 486, "Busy Here", True)),
    ({"status": "cancelled", "answered_at": None, "final_status": 487,
      "final_reason": "Request Terminated"}, ("no_answer", 487, "Request Terminated", True)),
    ({"status": "refused", "answered_at": None, "final_status": 404, "final_reason": "Not Found"},
     ("rejected", 404, "Not Found", True)),
    ({"status": "interrupted", "answered_at": None, "final_status": None},
     ("unknown", 0, "interrupted: call interrupted", False)),
    # outbound rows carry the outcome as their status (vio_sbc/sip/outcall.py)
    ({"status": "no_answer", "answered_at": None, "final_status": 487,
      "final_reason": "Request Terminated"}, ("no_answer", 487, "Request Terminated", True)),
    ({"status": "failed", "answered_at": None, "final_status": 503,
      "final_reason": "Service Unavailable"}, ("failed", 503, "Service Unavailable", True)),
])
def test_outcome_from_call_row(row: dict[str, object] | None,
                               result: tuple[str, int, str, bool]) -> None:
    assert outcome_from_call_row(row) == result
