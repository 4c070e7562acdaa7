"""Library entry points: open the queue for a config, schedule a callback.

`schedule_callback` is what an agent calls during a call ("call me back tomorrow at
10"): it writes a job to `<storage.dir>/dialer.db`; the dialer inside `vio-sbc run`
places the call when its time comes. Safe from any thread (its own connection).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import structlog

from vio_sbc.calllog.dialect import dialect_for
from vio_sbc.config.model import Config
from vio_sbc.dialer.contract import Originator
from vio_sbc.dialer.engine import CallLookup, Dialer
from vio_sbc.dialer.rules import CLAIMABLE, RetryPolicy, normalise_number
from vio_sbc.dialer.store import JobSpec, JobStore
from vio_sbc.dialer.windows import DialerError

log = structlog.get_logger("vio_sbc.dialer")

CALLBACK_PRIORITY = 10  # a promised callback goes before campaign contacts


def db_path(cfg: Config) -> Path:
    return Path(cfg.storage.dir) / "dialer.db"


def open_store(cfg: Config) -> JobStore:
    """The queue: `<storage.dir>/dialer.db`, or the cluster's PostgreSQL database; its
    leases and attempts are in this worker's name when it is one."""
    worker = cfg.cluster.worker if cfg.cluster is not None else None
    owner = f"{worker}-{uuid.uuid4().hex[:6]}" if worker else None  # one per incarnation
    return JobStore(dialect_for(cfg, db_path(cfg).name), owner=owner)


def outbound_trunks(cfg: Config) -> dict[str, str]:
    """Each number that may call out, with its trunk."""
    return {n.number: n.trunk for n in cfg.numbers.values() if n.direction.allows_outbound}


def trunk_cps(cfg: Config) -> dict[str, float]:
    """Calls per second of each trunk that can call out (its `outbound.cps`)."""
    return {t.name: t.outbound.cps for t in cfg.trunks.values() if t.outbound is not None}


def start_dialer(originator: Originator, cfg: Config, lookup_call: CallLookup) -> Dialer:
    """The Dialer for `vio-sbc run`: `originator` places the calls; `lookup_call` reads
    the call log to resolve attempts a crash cut off. The caller ticks it from the main
    loop and tells it of reloads (`follow(dialer, cfg)`)."""
    dialer = Dialer(originator, open_store(cfg), cfg.dialer, outbound_trunks(cfg),
                    trunk_cps(cfg), lookup_call)
    idle = sorted({t for t in outbound_trunks(cfg).values() if t not in trunk_cps(cfg)})
    if idle:
        log.warning("dialer_trunks_without_outbound", trunks=idle)
    counts = dialer.store.counts()
    log.info("dialer_started", owner=dialer.store.owner, db=dialer.store.location,
             queued=counts["queued"], retry_wait=counts["retry_wait"],
             dialing=counts["dialing"], lease_s=cfg.dialer.lease_s)
    return dialer


def follow(dialer: Dialer, cfg: Config) -> None:
    """A reloaded config: the numbers and trunks the dialer may use."""
    dialer.reconfigure(outbound_trunks(cfg), trunk_cps(cfg))


def queue_depth(cfg: Config) -> float:
    """Jobs waiting to be dialled (queued or waiting for a retry), read from dialer.db on
    a connection of its own (safe from any thread: the HTTP thread's scrape)."""
    store = open_store(cfg)
    try:
        counts = store.counts()
    finally:
        store.close()
    return float(sum(counts.get(s, 0) for s in CLAIMABLE))


def check_from_number(cfg: Config, text: str) -> str:
    """The E.164 calling number, checked against the config (exists, allows outbound)."""
    number = normalise_number(text)
    conf = cfg.numbers.get(number)
    if conf is None:
        known = ", ".join(sorted(outbound_trunks(cfg))) or "none"
        raise DialerError(f"calling number {number} is not configured (outbound numbers: "
                          f"{known})")
    if not conf.direction.allows_outbound:
        raise DialerError(f"calling number {number} is {conf.direction.value}-only")
    return number


def check_agent(cfg: Config, agent: str | None) -> str | None:
    if agent is not None and agent not in cfg.agents:
        raise DialerError(f"unknown agent {agent!r} (defined: {', '.join(sorted(cfg.agents))})")
    return agent


def schedule_callback(cfg: Config, from_number: str, to_number: str, at: datetime, *,
                      agent: str | None = None, variables: Mapping[str, str] | None = None,
                      max_attempts: int = 2, retry_s: float = 300.0,
                      now: float | None = None) -> int:
    """Queue a call from `from_number` to `to_number` at the aware instant `at`; returns
    the job id. Callbacks ignore campaign calling windows: the callee asked for the time."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise DialerError(f"callback time {at.isoformat()} has no UTC offset "
                          "(write e.g. 2026-11-25T10:00-05:00)")
    spec = JobSpec(
        from_number=check_from_number(cfg, from_number),
        to_number=normalise_number(to_number),
        agent=check_agent(cfg, agent),
        not_before=at.timestamp(),
        priority=CALLBACK_PRIORITY,
        policy=RetryPolicy(max_attempts=max_attempts, busy_s=retry_s, no_answer_s=retry_s,
                           failed_s=retry_s),
        variables=dict(variables or {}),
    )
    store = open_store(cfg)
    try:
        return store.add_job(spec, time.time() if now is None else now)
    finally:
        store.close()
