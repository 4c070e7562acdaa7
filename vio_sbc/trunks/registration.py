"""Registration state per trunk and its retry policy: pure, driven by the SIP adapter.

The adapter reports each REGISTER outcome (`registered(...)` / `failed(...)`)
and asks `failed` when to retry: exponential backoff from `retry_min_s`
doubling up to `retry_max_s`, with full jitter in [delay/2, delay]; a 403
(credentials refused) waits `forbidden_retry_s` instead, since hammering a
registrar with bad credentials gets the source banned. Refreshes before expiry
are pjsua's (see `refresh_margin_s`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from vio_sbc.config.model import TrunkRegister


class RegStatus(str, Enum):
    DISABLED = "disabled"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILING = "failing"
    UNREGISTERED = "unregistered"


def backoff_s(reg: TrunkRegister, failures: int, status: int, rand: float) -> float:
    """Delay before the next attempt after `failures` consecutive failures (>= 1),
    the last one answered `status`; `rand` in [0, 1) supplies the jitter."""
    if status == 403:
        base = reg.forbidden_retry_s
    else:
        base = min(reg.retry_max_s, reg.retry_min_s * 2.0 ** (max(1, failures) - 1))
    return base * (0.5 + 0.5 * rand)


def refresh_margin_s(expires: int) -> int:
    """How long before expiry pjsua refreshes: a third of the period, 1-60 s."""
    return max(1, min(60, expires // 3))


@dataclass(slots=True)
class Registration:
    """What `vio-sbc status` shows for one trunk's registration."""

    trunk: str
    status: RegStatus = RegStatus.DISABLED
    last_code: int = 0
    last_reason: str = ""
    expires_s: int = 0
    registered_at: float | None = None  # wall clock of the last success
    next_retry_at: float | None = None  # wall clock of the next attempt while failing
    failures: int = 0

    def attempt(self) -> None:
        """A REGISTER goes out: a refresh still shows registered, a retry still failing."""
        if self.status not in (RegStatus.REGISTERED, RegStatus.FAILING):
            self.status = RegStatus.REGISTERING

    def registered(self, code: int, reason: str, expires_s: int, now: float) -> None:
        self.status = RegStatus.REGISTERED
        self.last_code, self.last_reason = code, reason
        self.expires_s = expires_s
        self.registered_at = now
        self.next_retry_at = None
        self.failures = 0

    def failed(self, reg: TrunkRegister, code: int, reason: str, now: float,
               rng: random.Random | None = None) -> float:
        """Record a failure; returns the delay before the next attempt."""
        self.failures += 1
        self.status = RegStatus.FAILING
        self.last_code, self.last_reason = code, reason
        delay = backoff_s(reg, self.failures, code, (rng or random).random())
        self.next_retry_at = now + delay
        return delay

    def unregistered(self) -> None:
        self.status = RegStatus.UNREGISTERED
        self.next_retry_at = None

    def as_dict(self) -> dict[str, object]:
        return {
            "trunk": self.trunk, "status": self.status.value, "last_code": self.last_code,
            "last_reason": self.last_reason, "expires_s": self.expires_s,
            "registered_at": self.registered_at, "next_retry_at": self.next_retry_at,
            "failures": self.failures,
        }
