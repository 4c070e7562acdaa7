"""Per-call cost: carrier cost from a trunk's rate table plus the platform rate. Pure.

Rules (docs/calllog.md):
- The rate is the trunk's rate for the call's direction, overridden field by
  field by the longest matching destination prefix (the dialled number for both
  directions: our number for inbound, the callee for outbound).
- Billable seconds: 0 if the call was not answered or lasted 0 s; else the first
  block if the call fits in it, else the first block plus the next blocks needed
  to cover the rest ("60/60", "6/6", "1/1").
- Carrier cost = connection fee + per_minute x billable / 60. Unanswered calls
  cost 0, or only the connection fee when the trunk sets `charge_unanswered`.
- Platform cost = platform per_minute x started seconds of the answered call / 60.
- Rounding: each component is rounded to 6 decimal places, half up; the total is
  the exact sum of the rounded components. Decimal arithmetic throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from vio_sbc.config.model import DirectionRate, Increment, PlatformRate, Rates

PLACES = Decimal("0.000001")
_ZERO = Decimal(0)
_SIXTY = Decimal(60)


@dataclass(frozen=True, slots=True)
class Cost:
    total: Decimal
    currency: str
    billable_s: int
    breakdown: dict[str, object] = field(default_factory=dict)


def billable_seconds(duration_s: Decimal, inc: Increment) -> int:
    """Seconds billed for an answered call of `duration_s` under increment `inc`."""
    if duration_s <= 0:
        return 0
    if duration_s <= inc.first_s:
        return inc.first_s
    blocks = ((duration_s - inc.first_s) / inc.next_s).to_integral_value(ROUND_CEILING)
    return inc.first_s + int(blocks) * inc.next_s


def _digits(number: str) -> str:
    return number[1:] if number.startswith("+") else number


def effective_rate(rates: Rates, direction: str, number: str) -> tuple[DirectionRate, str | None]:
    """The rate for `direction` after the longest matching prefix's overrides, and that
    prefix (None if none matched). Missing fields get 0/min, "60/60", no fee."""
    base = rates.inbound if direction == "inbound" else rates.outbound
    per_minute = base.per_minute if base else None
    increment = base.increment if base else None
    fee = base.connection_fee if base else None
    digits = _digits(number)
    matched: str | None = None
    for entry in sorted(rates.prefixes, key=lambda p: len(p.prefix), reverse=True):
        over = entry.inbound if direction == "inbound" else entry.outbound
        if over is not None and digits.startswith(entry.prefix):
            matched = entry.prefix
            per_minute = over.per_minute if over.per_minute is not None else per_minute
            increment = over.increment if over.increment is not None else increment
            fee = over.connection_fee if over.connection_fee is not None else fee
            break
    return DirectionRate(per_minute if per_minute is not None else _ZERO,
                         increment or Increment(), fee if fee is not None else _ZERO), matched


def _q(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def call_cost(rates: Rates | None, platform: PlatformRate | None, *, direction: str,
              number: str, answered: bool, duration_s: Decimal | float | str) -> Cost | None:
    """The cost of one call; None when neither the trunk nor the workspace has a rate."""
    if rates is None and platform is None:
        return None
    duration = Decimal(str(duration_s)) if answered else _ZERO
    duration = max(duration, _ZERO).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    currency = rates.currency if rates is not None else platform.currency  # type: ignore[union-attr]
    bd: dict[str, object] = {"currency": currency, "direction": direction, "number": number,
                             "answered": answered, "duration_s": str(duration)}
    carrier = _q(_ZERO)
    billable = 0
    if rates is not None:
        rate, prefix = effective_rate(rates, direction, number)
        assert rate.per_minute is not None and rate.increment is not None
        fee = rate.connection_fee or _ZERO
        billable = billable_seconds(duration, rate.increment) if answered else 0
        if answered:
            carrier = _q(fee + rate.per_minute * billable / _SIXTY)
        elif rates.charge_unanswered:
            carrier = _q(fee)
        bd.update(rate_prefix=f"+{prefix}" if prefix else None,
                  per_minute=str(rate.per_minute), increment=str(rate.increment),
                  connection_fee=str(fee), billable_s=billable, carrier=str(carrier))
    plat = _q(_ZERO)
    if platform is not None:
        started = int(duration.to_integral_value(ROUND_CEILING)) if answered else 0
        plat = _q(platform.per_minute * started / _SIXTY)
        bd.update(platform_per_minute=str(platform.per_minute), platform_billable_s=started,
                  platform=str(plat))
        if rates is None:
            billable = started
    total = carrier + plat
    bd["total"] = str(total)
    return Cost(total, currency, billable, bd)
