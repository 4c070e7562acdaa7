"""Admission control: token buckets, per-source rate and failure limits, blocks, CPS."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.admission import Admission, Block, Decision, TokenBucket, Verdict
from vio_sbc.config.model import AdmissionSettings

S = AdmissionSettings(rate=2.0, burst=3, max_failures=4, failure_window_s=40.0, block_s=100.0)
A, B = "192.0.2.1", "192.0.2.2"


@pytest.mark.parametrize(("rate", "burst", "times", "expected"), [
    # starts full: `burst` takes succeed at once, then one per 1/rate seconds
    (1.0, 3, [0, 0, 0, 0], [True, True, True, False]),
    (1.0, 1, [0, 0.5, 1.0, 1.2, 2.0], [True, False, True, False, True]),
    (10.0, 2, [0, 0, 0, 0.1, 0.1], [True, True, False, True, False]),
    # refills never exceed the burst
    (1.0, 2, [0, 0, 100, 100, 100], [True, True, True, True, False]),
])
def test_token_bucket_table(rate: float, burst: int, times: list[float],
                            expected: list[bool]) -> None:
    bucket = TokenBucket(rate, burst, 0.0)
    assert [bucket.take(t) for t in times] == expected


def test_token_bucket_wait() -> None:
    bucket = TokenBucket(4.0, 1, 0.0)
    assert bucket.wait_s(0.0) == 0.0
    assert bucket.take(0.0)
    assert bucket.wait_s(0.0) == pytest.approx(0.25)
    assert bucket.wait_s(0.2) == pytest.approx(0.05)


def test_source_rate_limit_then_block_when_flooding() -> None:
    """burst 3 at once, then rate-limited answers spend failure tokens (4): the 8th
    request at the same instant starts a block (logged once), later ones are BLOCKED."""
    adm = Admission(S, max_cps=0, now=0.0)
    verdicts = [adm.check_source(A, 0.0).verdict for _ in range(9)]
    assert verdicts == [Verdict.ADMIT] * 3 + [Verdict.RATE_LIMITED] * 4 + [Verdict.BLOCKED] * 2
    assert adm.drain_started() == [Block(A, 100.0, "rate")]
    assert adm.drain_started() == []  # reported once
    # another source is unaffected
    assert adm.check_source(B, 0.0).admitted


def test_trusted_source_is_rate_limited_never_blocked() -> None:
    adm = Admission(S, max_cps=0, now=0.0)
    verdicts = [adm.check_source(A, 0.0, trusted=True).verdict for _ in range(20)]
    assert verdicts == [Verdict.ADMIT] * 3 + [Verdict.RATE_LIMITED] * 17
    assert adm.drain_started() == []
    assert adm.check_source(A, 0.5, trusted=True).admitted


def test_rate_limited_retry_after_is_whole_seconds() -> None:
    adm = Admission(S, max_cps=0, now=0.0)
    for _ in range(3):
        adm.check_source(A, 0.0)
    assert adm.check_source(A, 0.0) == Decision(Verdict.RATE_LIMITED, 1)


def test_failures_block_and_expire_once() -> None:
    adm = Admission(S, max_cps=0, now=0.0)
    # four refused attempts spread out (so the request bucket never empties)
    for t in (0.0, 1.0, 2.0, 3.0):
        assert adm.check_source(A, t).admitted
        assert adm.failed(A, t) is None
    assert adm.check_source(A, 4.0).admitted
    assert adm.failed(A, 4.0) == Block(A, 104.0, "failures")
    assert adm.is_blocked(A, 50.0)
    assert adm.check_source(A, 50.0) == Decision(Verdict.BLOCKED, 54)
    assert adm.check_source(A, 103.5) == Decision(Verdict.BLOCKED, 1)
    assert adm.failed(A, 60.0) is None  # no second block while blocked
    assert adm.expire(103.9) == []
    assert adm.blocked_count == 1
    assert adm.expire(104.0) == [Block(A, 104.0, "failures", refused=2)]
    assert adm.expire(105.0) == []  # reported once
    assert adm.blocked_count == 0
    assert adm.check_source(A, 105.0).admitted


def test_failures_refill_over_the_window() -> None:
    """4 failures per 40 s: one every 10 s forever never blocks."""
    adm = Admission(S, max_cps=0, now=0.0)
    for i in range(20):
        assert adm.failed(A, i * 10.0) is None
    assert not adm.is_blocked(A, 200.0)


@pytest.mark.parametrize(("max_cps", "times", "expected"), [
    (0, [0, 0, 0, 0, 0], [True] * 5),  # 0: no limit
    (2, [0, 0, 0, 0.5, 0.5, 1.0], [True, True, False, True, False, True]),
    (0.5, [0, 0, 1, 2], [True, False, False, True]),
])
def test_global_cps_table(max_cps: float, times: list[float], expected: list[bool]) -> None:
    adm = Admission(S, max_cps=max_cps, now=0.0)
    assert [adm.take_call(t).admitted for t in times] == expected


def test_over_cps_retry_after() -> None:
    adm = Admission(S, max_cps=0.5, now=0.0)
    assert adm.take_call(0.0).admitted
    assert adm.take_call(0.0) == Decision(Verdict.OVER_CPS, 2)


def test_source_table_is_bounded_and_keeps_blocks() -> None:
    adm = Admission(S, max_cps=0, now=0.0, max_sources=10)
    for _ in range(8):
        adm.check_source(A, 0.0)
    assert adm.is_blocked(A, 1.0)
    for i in range(50):
        adm.check_source(f"198.51.100.{i}", 1.0)
    assert len(adm._sources) <= 10
    assert adm.is_blocked(A, 1.0)
