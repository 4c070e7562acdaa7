"""What the dialer needs from the switch: the trunk outbound path.

`Originator` is the two Softswitch methods the dialer calls (main thread only).
The request/result types mirror vio_sbc.sip.outbound field for field, so the
switch satisfies the protocol and the dialer is testable without SIP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    from_number: str
    to_number: str
    agent: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    job_id: str | None = None
    ring_timeout_s: float = 45.0


@dataclass(frozen=True, slots=True)
class OutboundResult:
    call_id: str
    outcome: str  # "answered" | "busy" | "no_answer" | "rejected" | "failed"
    sip_status: int
    reason: str
    duration_s: float


class Originator(Protocol):
    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str:
        """Start a call; returns its call-log id. Raises a SipRefusal up front
        (OutboundRefused) when it cannot: 503 for capacity/trunk down, 4xx otherwise."""

    def outbound_capacity(self, trunk: str) -> tuple[int, int]:
        """(live outbound calls on `trunk`, the trunk's max_calls)."""
