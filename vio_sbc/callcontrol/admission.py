"""Admission control: per-source token buckets, temporary blocks and a global CPS cap.

Pure logic over a caller-supplied clock (seconds, monotonic): no I/O, no pjsua2.
`vio_sbc.callcontrol.inbound.decide_inbound` asks `check_source()` before routing
an INVITE, reports a stranger's refused attempt with `failed()` and takes a
`take_call()` token for each call it accepts; the SIP adapter calls `expire()` from
its main loop and `drain_started()` after a refusal, to log each block once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from vio_sbc.config.model import AdmissionSettings


class TokenBucket:
    """`rate` tokens per second up to `burst`; starts full."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until one token is available (0 if one is now)."""
        self._refill(now)
        if self.tokens >= 1.0 or self.rate <= 0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst


class Verdict(str, Enum):
    ADMIT = "admit"
    RATE_LIMITED = "rate_limited"  # this source sends faster than sip.admission.rate
    BLOCKED = "blocked"  # this source is serving a temporary block
    OVER_CPS = "over_cps"  # all sources together exceed sip.max_cps


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    retry_after: int = 0  # whole seconds, >= 1 when not admitted

    @property
    def admitted(self) -> bool:
        return self.verdict is Verdict.ADMIT


@dataclass(frozen=True, slots=True)
class Block:
    """A block that started (from `failed`/`check_source`) or ended (from `expire`)."""

    source: str
    until: float
    reason: str  # "failures" or "rate"
    refused: int = 0  # requests refused while blocked (known when it ends)


ADMIT = Decision(Verdict.ADMIT)


class _Source:
    __slots__ = ("block_reason", "blocked_until", "failures", "refused", "requests")

    def __init__(self, s: AdmissionSettings, now: float) -> None:
        self.requests = TokenBucket(s.rate, s.burst, now)
        self.failures = TokenBucket(s.max_failures / s.failure_window_s, s.max_failures, now)
        self.blocked_until = 0.0
        self.block_reason = ""
        self.refused = 0


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class Admission:
    """Admission state for all sources. Not thread-safe: use from the SIP main thread."""

    def __init__(self, settings: AdmissionSettings, max_cps: float, now: float,
                 max_sources: int = 100_000) -> None:
        self.settings = settings
        self.cps = TokenBucket(max_cps, max(1.0, max_cps), now) if max_cps > 0 else None
        self.max_sources = max_sources
        self._sources: dict[str, _Source] = {}
        self._blocked: set[str] = set()
        self.started: list[Block] = []  # blocks started since the caller last drained this

    def _source(self, source: str, now: float) -> _Source:
        st = self._sources.get(source)
        if st is None:
            if len(self._sources) >= self.max_sources:
                self._evict(now)
            st = self._sources[source] = _Source(self.settings, now)
        return st

    def _evict(self, now: float) -> None:
        """Forget sources that are not blocked (idle ones first; all of them if needed)."""
        idle = [k for k, v in self._sources.items()
                if k not in self._blocked and v.requests.full(now) and v.failures.full(now)]
        for k in idle:
            del self._sources[k]
        if len(self._sources) >= self.max_sources:
            for k in [k for k in self._sources if k not in self._blocked]:
                del self._sources[k]

    def _block(self, source: str, st: _Source, reason: str, now: float) -> None:
        st.blocked_until = now + self.settings.block_s
        st.block_reason = reason
        st.refused = 0
        self._blocked.add(source)
        self.started.append(Block(source, st.blocked_until, reason))

    def is_blocked(self, source: str, now: float) -> bool:
        st = self._sources.get(source)
        return st is not None and st.blocked_until > now

    def check_source(self, source: str, now: float, trusted: bool = False) -> Decision:
        """Per-source check for one request, before routing it. A `trusted` source (a
        trunk's address) is rate-limited but never blocked."""
        st = self._source(source, now)
        if st.blocked_until > now:
            st.refused += 1
            return Decision(Verdict.BLOCKED, _ceil(st.blocked_until - now))
        if not st.requests.take(now):
            # an untrusted source over its request rate also spends failure tokens:
            # a flood blocks it
            if not trusted and not st.failures.take(now):
                self._block(source, st, "rate", now)
                return Decision(Verdict.BLOCKED, _ceil(self.settings.block_s))
            return Decision(Verdict.RATE_LIMITED, _ceil(st.requests.wait_s(now)))
        return ADMIT

    def failed(self, source: str, now: float) -> Block | None:
        """Record a refused attempt of an untrusted source; the block it started."""
        st = self._source(source, now)
        if st.blocked_until > now:
            return None
        if not st.failures.take(now):
            self._block(source, st, "failures", now)
            return self.started[-1]
        return None

    def take_call(self, now: float) -> Decision:
        """Global calls-per-second cap, for a call about to be answered."""
        if self.cps is None or self.cps.take(now):
            return ADMIT
        return Decision(Verdict.OVER_CPS, _ceil(self.cps.wait_s(now)))

    def expire(self, now: float) -> list[Block]:
        """Blocks that have ended since the last call (each reported once)."""
        ended: list[Block] = []
        for source in list(self._blocked):
            st = self._sources[source]
            if st.blocked_until <= now:
                self._blocked.discard(source)
                ended.append(Block(source, st.blocked_until, st.block_reason, st.refused))
                # a fresh start: the source must earn its failures again
                self._sources[source] = _Source(self.settings, now)
        return ended

    def drain_started(self) -> list[Block]:
        out, self.started = self.started, []
        return out

    @property
    def blocked_count(self) -> int:
        return len(self._blocked)
