"""The Dialer: ticked by the softswitch main loop, it claims due jobs and places calls.

Runs on the SIP main thread (`tick` from Softswitch._tick, results through the
`on_result` callback of place_call), so it needs no locks. Its database writes are
short single-row transactions on `dialer.db`; they are synchronous on purpose: the
attempt row must be on disk before the INVITE goes out (see docs/dialer.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from vio_sbc.config.model import DialerSettings
from vio_sbc.dialer.contract import Originator, OutboundRequest, OutboundResult
from vio_sbc.dialer.rules import (
    ANSWERED,
    FAILED,
    Decision,
    RetryPolicy,
    after_attempt,
    campaign_hold,
    outcome_from_call_row,
    trunk_hold,
)
from vio_sbc.dialer.store import Claim, JobStore
from vio_sbc.errors import SipRefusal

log = structlog.get_logger("vio_sbc.dialer")

CallLookup = Callable[[str], Mapping[str, Any] | None]
MAX_CLAIMS_PER_TICK = 16


class Dialer:
    def __init__(self, originator: Originator, store: JobStore, settings: DialerSettings,
                 trunk_of: Mapping[str, str], trunk_cps: Mapping[str, float],
                 lookup_call: CallLookup, clock: Callable[[], float] = time.time) -> None:
        """`trunk_of` maps each outbound-capable from-number to its trunk, `trunk_cps`
        each trunk to its calls per second (the trunk's `outbound.cps`);
        `lookup_call` reads a call-log row by id (to resolve attempts cut off by a crash)."""
        self.originator = originator
        self.store = store
        self.settings = settings
        self.trunk_of = dict(trunk_of)
        self.trunk_cps = dict(trunk_cps)
        self.lookup_call = lookup_call
        self.clock = clock  # wall clock, for results arriving between ticks
        self.draining = False
        self.live: dict[int, tuple[Claim, RetryPolicy]] = {}  # job id -> claim
        self.stats = {"placed": 0, "refused": 0, "ended": 0, "resolved": 0}
        self._last_trunk: dict[str, float] = {}
        self._last_campaign: dict[str, float] = {}
        self._next_poll = 0.0
        self._next_renew = 0.0
        self._placing: int | None = None
        self._early: list[tuple[Claim, RetryPolicy, OutboundResult]] = []

    def now(self, wall: float) -> float:
        return wall + self.settings.clock_offset_s

    # -- main loop ---------------------------------------------------------------------
    def tick(self, wall: float) -> None:
        now = self.now(wall)
        if now < self._next_poll:
            return
        self._next_poll = now + self.settings.poll_s
        try:
            if now >= self._next_renew:
                self._next_renew = now + self.settings.lease_s / 3
                self.store.renew(list(self.live), now, self.settings.lease_s)
                self.resolve_orphans(now)
            if not self.draining:
                self._claim_due(now)
        except Exception:
            log.exception("dialer_tick_failed")

    def reconfigure(self, trunk_of: Mapping[str, str], trunk_cps: Mapping[str, float]) -> None:
        """New numbers/trunks after a config reload; calls in progress are unaffected."""
        self.trunk_of, self.trunk_cps = dict(trunk_of), dict(trunk_cps)
        log.info("dialer_reconfigured", numbers=sorted(self.trunk_of),
                 trunks=sorted(self.trunk_cps))

    def drain(self) -> None:
        """Stop claiming; calls in progress finish and report as usual."""
        if not self.draining:
            self.draining = True
            log.info("dialer_draining", live=len(self.live))

    def close(self, wall: float | None = None) -> None:
        """After the switch stopped: attempts whose result never came are resolved from
        the call log now (not left for a lease to expire); queued jobs stay queued."""
        now = self.now(self.clock() if wall is None else wall)
        for claim, policy in list(self.live.values()):
            self._resolve(claim.job_id, claim.attempt_id, claim.attempt, policy,
                          self._call_id_of(claim), now)
        self.live.clear()
        self.store.close()
        log.info("dialer_stopped", **self.stats)

    # -- claiming ----------------------------------------------------------------------
    def _open_numbers(self, now: float) -> list[str]:
        open_trunks: dict[str, bool] = {}
        for trunk in set(self.trunk_of.values()):
            live, max_calls = self.originator.outbound_capacity(trunk)
            cps = self.trunk_cps.get(trunk, 1.0)
            open_trunks[trunk] = trunk_hold(live=live, max_calls=max_calls,
                                            last_dial=self._last_trunk.get(trunk), cps=cps,
                                            now=now) is None
        return [n for n, t in self.trunk_of.items() if open_trunks[t]]

    def _held_campaigns(self, now: float) -> list[str]:
        live = self.store.live_by_campaign()
        held = []
        for c in self.store.campaigns():
            if campaign_hold(status=c.status, live=live.get(c.name, 0),
                             max_concurrent=c.max_concurrent,
                             last_dial=self._last_campaign.get(c.name), cps=c.cps,
                             now=now) is not None:
                held.append(c.name)
        return held

    def _claim_due(self, now: float) -> None:
        for _ in range(MAX_CLAIMS_PER_TICK):
            numbers = self._open_numbers(now)
            if not numbers:
                return
            claim = self.store.claim(now, self.settings.lease_s, from_numbers=numbers,
                                     held_campaigns=self._held_campaigns(now))
            if claim is None:
                return
            self._last_trunk[self.trunk_of[claim.from_number]] = now
            if claim.campaign is not None:
                self._last_campaign[claim.campaign] = now
            self._place(claim, now)

    def _place(self, claim: Claim, now: float) -> None:
        policy = RetryPolicy.from_json(self.store.job(claim.job_id)["policy"])
        req = OutboundRequest(from_number=claim.from_number, to_number=claim.to_number,
                              agent=claim.agent, variables=claim.variables,
                              job_id=str(claim.job_id),
                              ring_timeout_s=self.settings.ring_timeout_s)
        bound = log.bind(job_id=claim.job_id, attempt=claim.attempt, number=claim.to_number,
                         campaign=claim.campaign, trunk=self.trunk_of[claim.from_number])
        self._placing = claim.job_id
        try:
            call_id = self.originator.place_call(
                req, lambda res: self._on_result(claim, policy, res))
        except SipRefusal as ref:
            self.stats["refused"] += 1
            if ref.status == 503:  # capacity or trunk down: not an attempt, queue again
                retry_at = now + self.settings.refused_retry_s
                self.store.unplaced(claim, ref.status, ref.detail, retry_at)
                bound.info("dialer_call_deferred", status=ref.status, detail=ref.detail)
            else:
                self.store.finish(claim.job_id, claim.attempt_id, "rejected", ref.status,
                                  ref.detail, Decision(FAILED), now)
                bound.warning("dialer_call_refused", status=ref.status, detail=ref.detail)
            return
        except Exception as exc:
            bound.exception("dialer_place_failed")
            self.store.finish(claim.job_id, claim.attempt_id, "failed", 500, str(exc),
                              after_attempt(policy, "failed", 500, claim.attempt, now), now)
            return
        finally:
            self._placing = None
        self.stats["placed"] += 1
        self.store.placed(claim, call_id, now)
        self.live[claim.job_id] = (claim, policy)
        bound.info("dialer_call_placed", call_id=call_id)
        early, self._early = self._early, []
        for c, p, res in early:
            self._on_result(c, p, res)

    # -- results -----------------------------------------------------------------------
    def _on_result(self, claim: Claim, policy: RetryPolicy, res: OutboundResult) -> None:
        try:
            if self._placing == claim.job_id:  # reported from inside place_call
                self._early.append((claim, policy, res))
                return
            now = self.now(self.clock())
            self.live.pop(claim.job_id, None)
            decision = after_attempt(policy, res.outcome, res.sip_status, claim.attempt, now)
            self.store.finish(claim.job_id, claim.attempt_id, res.outcome, res.sip_status,
                              res.reason, decision, now)
            self.stats["ended"] += 1
            log.info("dialer_attempt_ended", job_id=claim.job_id, attempt=claim.attempt,
                     call_id=res.call_id, outcome=res.outcome, status=res.sip_status,
                     campaign=claim.campaign, next=decision.status,
                     retry_at=decision.not_before, duration_s=res.duration_s)
        except Exception:
            log.exception("dialer_result_failed", job_id=claim.job_id)

    # -- crash recovery ----------------------------------------------------------------
    def resolve_orphans(self, now: float) -> int:
        """Jobs left in `dialing` by a dead owner (lease expired) are resolved from their
        last attempt's call-log record — never dialled again for that attempt."""
        n = 0
        for o in self.store.orphans(now):
            if o.job_id in self.live:
                continue
            if o.attempt_id is None:  # cannot happen: the attempt is written with the claim
                continue
            self._resolve(o.job_id, o.attempt_id, o.attempts, o.policy, o.call_id, now)
            n += 1
        return n

    def _resolve(self, job_id: int, attempt_id: int, attempts: int, policy: RetryPolicy,
                 call_id: str | None, now: float) -> None:
        row = self.lookup_call(call_id) if call_id else None
        outcome, status, reason, end_seen = outcome_from_call_row(
            dict(row) if row is not None else None)
        if outcome == "answered" and not end_seen:
            decision = Decision(ANSWERED)  # answered; the end was not observed
        else:
            decision = after_attempt(policy, outcome, status, attempts, now)
        if self.store.finish(job_id, attempt_id, outcome, status, reason, decision, now,
                             resolved=True):
            self.stats["resolved"] += 1
            log.warning("dialer_attempt_resolved", job_id=job_id, attempt=attempts,
                        call_id=call_id, outcome=outcome, status=status, next=decision.status)

    def _call_id_of(self, claim: Claim) -> str | None:
        for a in self.store.attempts(claim.job_id):
            if a["id"] == claim.attempt_id:
                return str(a["call_id"]) if a["call_id"] else None
        return None
