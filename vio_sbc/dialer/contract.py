"""What the dialer needs from the switch: the trunk outbound path.

`Originator` is the two Softswitch methods the dialer calls (main thread only);
the Softswitch satisfies it, and the unit tests drive the dialer with a small
in-memory one. Request and result types are those of vio_sbc.callcontrol.outbound
(pure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from vio_sbc.callcontrol.outbound import OutboundRefused, OutboundRequest, OutboundResult

__all__ = ["Originator", "OutboundRefused", "OutboundRequest", "OutboundResult"]


class Originator(Protocol):
    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str:
        """Start a call; returns its call-log id. Raises OutboundRefused (a SipRefusal)
        up front when it cannot: 503 for capacity/cps/trunk down, 403/404 otherwise."""

    def outbound_capacity(self, trunk: str) -> tuple[int, int]:
        """(live outbound calls on `trunk`, the trunk's max_calls)."""
