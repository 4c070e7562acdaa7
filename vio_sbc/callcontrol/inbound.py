"""Who answers an INVITE, or what it is refused with: one function over plain facts. Pure.

`decide_inbound` takes what the adapter read from the INVITE (`Invite`) and the
switch's state (config, admission state, registrar addresses, draining, live calls,
the time) and returns `Accept(route, ring_s)` or `Refuse(status, reason, headers,
metric_label, kind, ...)`. The checks, in order (docs/security.md, docs/config.md):

1. unparseable: 400, nothing else looked at;
2. a UDP datagram whose length contradicts Content-Length: 400 (`malformed`);
3. the source over its rate or blocked (`vio_sbc.callcontrol.admission`): a trunk's
   address gets 503 + Retry-After, anyone else 403, as strangers do (`shed`);
4. draining: 503; `sip.max_calls` live calls: 503 (`vio_sbc.callcontrol.capacity`);
5. routing (`vio_sbc.callcontrol.routing`): a stranger 403 (its failure counts
   towards a block); 400/404/416 for the Request-URI, 404 unknown number, 403 a
   number of another trunk or outbound-only;
6. the number's `max_calls` live inbound calls: its `max_calls_status` (486 or 503);
7. SRTP (`vio_sbc.callcontrol.srtp`): an offer the trunk's `media.srtp` refuses: 488;
8. `sip.max_cps`: 503 + Retry-After (taken only for a call that routed);

otherwise the route, and `ring_s`: the number's `ring_seconds`, else its trunk's.
Every 503 carries Retry-After. `Refuse.kind` tells the adapter what to keep: only
`REFUSED` (a trunk's call refused by routing or limits) gets a call-log row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from vio_sbc.callcontrol.admission import Admission
from vio_sbc.callcontrol.capacity import capacity, number_capacity
from vio_sbc.callcontrol.routing import Route, StrangerRefusal, route_inbound, trunks_for_source
from vio_sbc.callcontrol.srtp import MediaOffer, SrtpRefusal, decide_srtp
from vio_sbc.config.model import Config, TrunkConfig
from vio_sbc.errors import REASONS, SipRefusal

DEFAULT_RETRY_AFTER_S = 30


class Refused(str, Enum):
    """Who was refused; the value is the `stats` key the adapter counts it under."""

    UNPARSEABLE = "unparseable"  # no row, no metric, one log line
    MALFORMED = "malformed"  # no row; rate-limited log line
    SHED = "shed"  # no row, no log line per request (a flood)
    STRANGER = "strangers"  # no row; rate-limited log line
    REFUSED = "refused"  # a call-log row with the final status


@dataclass(frozen=True, slots=True)
class Invite:
    """What the adapter read from an INVITE."""

    source: str  # IP address
    transport: str = "udp"
    request_uri: str = ""
    unparseable: str | None = None  # why the message could not be parsed
    malformed: str | None = None  # a UDP datagram's length problem
    media: MediaOffer | None = None  # the SDP offer's audio (None: no offer, we make it)


@dataclass(frozen=True, slots=True)
class Refuse:
    status: int
    reason: str
    headers: Mapping[str, str]
    metric_label: str | None  # vio_rejected_requests_total{reason} (None: not counted)
    kind: Refused
    detail: str = ""  # for the log line; never sent
    trunk: TrunkConfig | None = None  # REFUSED: the source's (first) trunk, for the row


@dataclass(frozen=True, slots=True)
class Accept:
    route: Route
    ring_s: float  # send 180 and wait this long before answering (0: answer at once)
    srtp: str | None = None  # the SRTP suite of our answer (None: plain; "sdes": we offer)


@dataclass(slots=True)
class InboundState:
    """The switch's state `decide_inbound` reads (and whose admission it updates)."""

    cfg: Config
    admission: Admission
    registrars: Mapping[str, str] = field(default_factory=dict)  # registrar IP -> trunk
    draining: bool = False
    live_calls: int = 0
    # live inbound calls on a number (asked only for a number with max_calls)
    number_calls: Callable[[str], int] = field(default=lambda _number: 0)


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {"Retry-After": str(seconds or DEFAULT_RETRY_AFTER_S)}


def _refused(ref: SipRefusal, trunk: TrunkConfig | None) -> Refuse:
    headers = _retry_after(ref.retry_after) if ref.status == 503 else {}
    return Refuse(ref.status, ref.reason, headers, ref.label, Refused.REFUSED, ref.detail, trunk)


def decide_inbound(invite: Invite, state: InboundState, now: float) -> Accept | Refuse:
    """The answer to one INVITE (see the module doc). `now`: monotonic seconds."""
    if invite.unparseable is not None:
        return Refuse(400, REASONS[400], {}, None, Refused.UNPARSEABLE, invite.unparseable)
    if invite.malformed is not None:
        return Refuse(400, REASONS[400], {}, "malformed", Refused.MALFORMED, invite.malformed)
    cfg, src = state.cfg, invite.source
    trunks = trunks_for_source(cfg, src, state.registrars)
    decision = state.admission.check_source(src, now, trusted=bool(trunks))
    if not decision.admitted:
        label = decision.verdict.value
        if trunks:
            return Refuse(503, REASONS[503], _retry_after(decision.retry_after), label,
                          Refused.SHED, label)
        return Refuse(403, REASONS[403], {}, label, Refused.SHED, label)
    first = trunks[0] if trunks else None
    busy = capacity(draining=state.draining, live_calls=state.live_calls,
                    max_calls=cfg.sip.max_calls)
    if busy is not None:
        return _refused(SipRefusal(503, busy.detail, label=busy.label), first)
    try:
        route = route_inbound(cfg, src, invite.request_uri, state.registrars)
    except StrangerRefusal as ref:
        state.admission.failed(src, now)
        return Refuse(ref.status, ref.reason, {}, ref.label, Refused.STRANGER, ref.detail)
    except SipRefusal as ref:
        return _refused(ref, first)
    num = route.number
    if num.max_calls is not None:
        full = number_capacity(num.number, state.number_calls(num.number), num.max_calls,
                               num.max_calls_status)
        if full is not None:
            return _refused(full, route.trunk)
    srtp = decide_srtp(route.trunk.media.srtp, invite.media, route.trunk.name)
    if isinstance(srtp, SrtpRefusal):
        return _refused(SipRefusal(srtp.status, srtp.reason, label=srtp.label), route.trunk)
    over = state.admission.take_call(now)
    if not over.admitted:
        return _refused(SipRefusal(503, f"sip.max_cps ({cfg.sip.max_cps:g}) exceeded",
                                   retry_after=over.retry_after, label="over_cps"), first)
    ring = route.number.ring_seconds
    suite = (None if not srtp.srtp else invite.media.usable[0] if invite.media else "sdes")
    return Accept(route, route.trunk.ring_seconds if ring is None else ring, suite)
