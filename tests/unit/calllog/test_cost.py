"""The cost rule, table-tested: increments, prefixes, unanswered calls, rounding."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from vio_sbc.calllog.cost import billable_seconds, call_cost, effective_rate
from vio_sbc.config.model import DirectionRate, Increment, PlatformRate, PrefixRate, Rates

QA = Rates(  # the shape of the example
    currency="USD",
    inbound=DirectionRate(D("0.0085"), Increment(60, 60)),
    outbound=DirectionRate(D("0.013"), Increment(6, 6), D("0.001")),
    prefixes=(PrefixRate("44", outbound=DirectionRate(D("0.021"))),
              PrefixRate("4420", outbound=DirectionRate(D("0.009"), Increment(1, 1))),
              PrefixRate("1800", inbound=DirectionRate(D("0.02"), None, D("0.005")))),
)


@pytest.mark.parametrize(("duration", "inc", "billable"), [
    ("0", (60, 60), 0),
    ("0.001", (60, 60), 60),
    ("59.999", (60, 60), 60),
    ("60", (60, 60), 60),
    ("60.001", (60, 60), 120),
    ("121", (60, 60), 180),
    ("1", (6, 6), 6),
    ("6", (6, 6), 6),
    ("6.5", (6, 6), 12),
    ("61.2", (6, 6), 66),
    ("0.2", (1, 1), 1),
    ("1.0", (1, 1), 1),
    ("1.01", (1, 1), 2),
    ("10", (30, 6), 30),
    ("31", (30, 6), 36),
    ("37", (30, 6), 42),
])
def test_billing_increments(duration: str, inc: tuple[int, int], billable: int) -> None:
    assert billable_seconds(D(duration), Increment(*inc)) == billable


@pytest.mark.parametrize(("direction", "number", "per_minute", "inc", "fee", "prefix"), [
    ("outbound", "+14155550100", "0.013", "6/6", "0.001", None),
    ("outbound", "+447700900123", "0.021", "6/6", "0.001", "44"),     # per_minute overridden
    ("outbound", "+442079460000", "0.009", "1/1", "0.001", "4420"),  # longest prefix wins
    ("outbound", "442079460000", "0.009", "1/1", "0.001", "4420"),   # "+" optional
    ("inbound", "+447700900123", "0.0085", "60/60", "0", None),      # prefix is per direction
    ("inbound", "+18005550100", "0.02", "60/60", "0.005", "1800"),
])
def test_effective_rate(direction: str, number: str, per_minute: str, inc: str, fee: str,
                        prefix: str | None) -> None:
    rate, matched = effective_rate(QA, direction, number)
    assert (str(rate.per_minute), str(rate.increment), str(rate.connection_fee), matched) == (
        per_minute, inc, fee, prefix)


@pytest.mark.parametrize(("rates", "platform", "direction", "number", "answered", "duration",
                          "total", "billable"), [
    # 61.2 s outbound to the UK: 0.001 + 0.021 * 66/60 = 0.0241
    (QA, None, "outbound", "+447700900123", True, "61.2", "0.024100", 66),
    # inbound 60/60: 61 s bills 120 s: 0.0085 * 2
    (QA, None, "inbound", "+14155550100", True, "61", "0.017000", 120),
    # 1/1 to London: 0.001 + 0.009 * 7/60 = 0.00205
    (QA, None, "outbound", "+442079460000", True, "6.4", "0.002050", 7),
    # unanswered: 0, even with a connection fee
    (QA, None, "outbound", "+447700900123", False, "30", "0.000000", 0),
    # ... unless the trunk charges unanswered attempts: the connection fee only
    (Rates("EUR", outbound=DirectionRate(D("0.01"), Increment(), D("0.002")),
           charge_unanswered=True), None, "outbound", "+33100000000", False, "0",
     "0.002000", 0),
    # rounding: 0.0085 * 6/60 = 0.00085; 0.0001234 * 60/60 rounds half up to 6 places
    (Rates("USD", inbound=DirectionRate(D("0.0085"), Increment(6, 6))), None, "inbound",
     "+1", True, "5", "0.000850", 6),
    (Rates("USD", inbound=DirectionRate(D("0.0000125"), Increment(60, 60))), None, "inbound",
     "+1", True, "5", "0.000013", 60),
    (Rates("USD", inbound=DirectionRate(D("0.0000124"), Increment(60, 60))), None, "inbound",
     "+1", True, "5", "0.000012", 60),
    # platform rate per started second: 0.05 * 62/60 = 0.0516666.. -> 0.051667
    (None, PlatformRate(D("0.05")), "inbound", "+1", True, "61.2", "0.051667", 62),
    # both: carrier 0.0241 + platform 0.051667
    (QA, PlatformRate(D("0.05")), "outbound", "+447700900123", True, "61.2", "0.075767", 66),
    # unanswered with a platform rate: nothing
    (None, PlatformRate(D("0.05")), "inbound", "+1", False, "10", "0.000000", 0),
])
def test_call_cost(rates: Rates | None, platform: PlatformRate | None, direction: str,
                   number: str, answered: bool, duration: str, total: str,
                   billable: int) -> None:
    cost = call_cost(rates, platform, direction=direction, number=number, answered=answered,
                     duration_s=duration)
    assert cost is not None
    assert (str(cost.total), cost.billable_s) == (total, billable)
    assert cost.breakdown["total"] == total


def test_total_is_the_sum_of_rounded_components_and_breakdown_is_pinned() -> None:
    cost = call_cost(QA, PlatformRate(D("0.05")), direction="outbound",
                     number="+447700900123", answered=True, duration_s=61.2)
    assert cost is not None and cost.currency == "USD"
    assert cost.breakdown == {
        "currency": "USD", "direction": "outbound", "number": "+447700900123",
        "answered": True, "duration_s": "61.200", "rate_prefix": "+44",
        "per_minute": "0.021", "increment": "6/6", "connection_fee": "0.001",
        "billable_s": 66, "carrier": "0.024100", "platform_per_minute": "0.05",
        "platform_billable_s": 62, "platform": "0.051667", "total": "0.075767",
    }
    assert D(cost.breakdown["carrier"]) + D(cost.breakdown["platform"]) == cost.total  # type: ignore[arg-type]


def test_no_rates_anywhere_means_no_cost() -> None:
    assert call_cost(None, None, direction="inbound", number="+1", answered=True,
                     duration_s=10) is None


def test_float_durations_are_taken_to_the_millisecond() -> None:
    cost = call_cost(Rates("USD", inbound=DirectionRate(D("0.06"), Increment(1, 1))), None,
                     direction="inbound", number="+1", answered=True, duration_s=0.1 + 0.2)
    assert cost is not None and cost.breakdown["duration_s"] == "0.300"
    assert str(cost.total) == "0.001000"  # 1 s at 0.06/min
