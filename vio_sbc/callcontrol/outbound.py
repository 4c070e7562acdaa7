"""Outbound calls in plain terms: the request/result contract (the dialer's, the
control socket's) and the admission of a call before any INVITE is sent. Pure.

`plan_outbound` checks, in order: the switch takes calls at all (draining,
`sip.max_calls`: 503), the agent asked for exists (404), then `admit_outbound`: the
number is configured (404), its direction allows outbound (403), its trunk has an
`outbound:` section (503), the trunk is not marked down by OPTIONS (503), it is below
its `max_calls` (503), its account is up (503) and its calls-per-second bucket has a
token (503; only then is a token taken). A refusal is an
`OutboundRefused` (a `SipRefusal`): the caller sends nothing. Otherwise the plan says
which trunk, number and agent, the Request-URI and the identity sent in From and
P-Asserted-Identity (the number in E.164, or the trunk's `caller_id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from vio_sbc.callcontrol.capacity import capacity
from vio_sbc.callcontrol.routing import Route
from vio_sbc.config.model import Config, NumberConfig, TrunkConfig, TrunkOutbound
from vio_sbc.errors import SipRefusal

OUTCOMES = ("answered", "busy", "no_answer", "rejected", "failed")


class OutboundRefused(SipRefusal):
    """An outbound call refused up front: no INVITE was sent."""


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    from_number: str            # E.164, must be a configured number whose direction allows outbound
    to_number: str              # E.164
    agent: str | None = None    # None: the number's agent, else the workspace default
    variables: dict[str, str] = field(default_factory=dict)  # to the agent in CallStarted
    job_id: str | None = None   # dialer job id, stored in the call log row (dialer_job_id)
    ring_timeout_s: float = 45.0


@dataclass(frozen=True, slots=True)
class OutboundResult:
    call_id: str        # our call-log id
    outcome: str        # one of OUTCOMES
    sip_status: int     # final SIP status (200 when answered; 486, 408/480/487 no answer, ...)
    reason: str
    duration_s: float   # answered duration, 0 if not answered


class Bucket(Protocol):
    """A trunk's calls-per-second token bucket (vio_sbc.trunks.bucket.TokenBucket)."""

    def take(self, now: float) -> bool: ...
    def wait_s(self, now: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Admitted:
    number: NumberConfig
    trunk: TrunkConfig
    outbound: TrunkOutbound


def admit_outbound(cfg: Config, from_number: str, *, live_calls: int, bucket: Bucket | None,
                   trunk_down: bool, now: float) -> Admitted:
    """Admit an outbound call from `from_number`, or raise `OutboundRefused`.

    `live_calls` is the trunk's live outbound calls; `bucket` its cps bucket
    (a token is taken only when the call is admitted; None while the trunk's account
    is not up); `trunk_down` whether OPTIONS health marked the trunk down.
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
    if bucket is None:
        raise OutboundRefused(503, f"trunk {trunk.name!r} is not ready")
    if not bucket.take(now):
        raise OutboundRefused(503, f"trunk {trunk.name!r} is at its cps limit ({out.cps:g}/s; "
                              f"next slot in {bucket.wait_s(now):.2f}s)")
    return Admitted(number=number, trunk=trunk, outbound=out)


@dataclass(frozen=True, slots=True)
class OutboundPlan:
    route: Route
    target: str    # Request-URI on the trunk
    caller_id: str  # E.164 the callee sees
    identity: str  # From and P-Asserted-Identity: <sip:caller_id@from_domain>


def trunk_of(cfg: Config, from_number: str) -> str:
    """The trunk a calling number goes out on ("" if it is not configured)."""
    number = cfg.numbers.get(from_number)
    return number.trunk if number is not None else ""


def plan_outbound(cfg: Config, req: OutboundRequest, *, draining: bool, live_calls: int,
                  trunk_live: int, bucket: Bucket | None, trunk_down: bool,
                  now: float) -> OutboundPlan:
    """Admit `req` (see the module doc) or raise `OutboundRefused`. `live_calls`: all
    live calls; `trunk_live`, `bucket`, `trunk_down`: those of the number's trunk (the
    bucket None while its account is not up)."""
    busy = capacity(draining=draining, live_calls=live_calls, max_calls=cfg.sip.max_calls,
                    placing=True)
    if busy is not None:
        raise OutboundRefused(503, busy.detail, label=busy.label)
    if req.agent is not None and req.agent not in cfg.agents:
        raise OutboundRefused(404, f"unknown agent {req.agent!r}")
    adm = admit_outbound(cfg, req.from_number, live_calls=trunk_live, bucket=bucket,
                         trunk_down=trunk_down, now=now)
    if req.agent is not None:
        agent, default = cfg.agents[req.agent], False
    else:
        agent, default = cfg.agent_for(adm.number)
    out = adm.outbound
    caller_id = out.caller_id or adm.number.number
    return OutboundPlan(
        route=Route(trunk=adm.trunk, number=adm.number, agent=agent, default_agent=default),
        target=out.target(req.to_number), caller_id=caller_id,
        identity=f"<sip:{caller_id}@{out.from_domain or out.host}>")
