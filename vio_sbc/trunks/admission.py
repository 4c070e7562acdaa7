"""Outbound admission: may this call be placed now? A pure decision over plain objects.

`admit_outbound` checks, in order: the number is configured (404), its
direction allows outbound (403), its trunk has an `outbound:` section (503),
the trunk is not marked down by OPTIONS (503), it is below `max_calls` (503)
and its calls-per-second token bucket has a token (503). Only when everything
passes is a token taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from vio_sbc.config.model import Config, NumberConfig, TrunkConfig, TrunkOutbound
from vio_sbc.errors import SipRefusal


class OutboundRefused(SipRefusal):
    """An outbound call refused up front: no INVITE was sent."""


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens per second, holding at most `burst`; starts full."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    @classmethod
    def for_cps(cls, cps: float) -> TokenBucket:
        return cls(rate=cps, burst=max(1.0, cps))

    def _refill(self, now: float) -> None:
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        if self.stamp is None or now > self.stamp:
            self.stamp = now

    def available(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1.0

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def wait_s(self, now: float) -> float:
        """Seconds until a token is available (0 if one is)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Admitted:
    number: NumberConfig
    trunk: TrunkConfig
    outbound: TrunkOutbound


def admit_outbound(cfg: Config, from_number: str, *, live_calls: int, bucket: TokenBucket,
                   trunk_down: bool, now: float) -> Admitted:
    """Admit an outbound call from `from_number`, or raise `OutboundRefused`.

    `live_calls` is the trunk's live outbound calls; `bucket` its cps bucket
    (a token is taken only when the call is admitted); `trunk_down` whether
    OPTIONS health marked the trunk down.
    """
    number = cfg.numbers.get(from_number)
    if number is None:
        raise OutboundRefused(404, f"number {from_number} is not configured")
    if not number.direction.allows_outbound:
        raise OutboundRefused(403, f"number {from_number} is {number.direction.value}-only")
    trunk = cfg.trunks[number.trunk]
    out = trunk.outbound
    if out is None:
        raise OutboundRefused(503, f"trunk {trunk.name!r} has no outbound section")
    if trunk_down:
        raise OutboundRefused(503, f"trunk {trunk.name!r} is down (OPTIONS unanswered)")
    if live_calls >= out.max_calls:
        raise OutboundRefused(503, f"trunk {trunk.name!r} is at max_calls ({out.max_calls})")
    if not bucket.take(now):
        raise OutboundRefused(503, f"trunk {trunk.name!r} is at its cps limit ({out.cps:g}/s; "
                              f"next slot in {bucket.wait_s(now):.2f}s)")
    return Admitted(number=number, trunk=trunk, outbound=out)
