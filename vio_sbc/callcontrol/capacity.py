"""Whether the switch takes another call at all, inbound or outbound. Pure.

One rule for both directions: no new call while draining (SIGTERM), none beyond
`sip.max_calls` live calls. The answer is a 503 either way; `Busy` says why, with
the `reason` label of `vio_rejected_requests_total` it counts under.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Busy:
    label: str  # "draining" | "max_calls"
    detail: str


def capacity(*, draining: bool, live_calls: int, max_calls: int, placing: bool = False
             ) -> Busy | None:
    """Why no new call can start now (None: one can). `placing`: an outbound call."""
    if draining:
        return Busy("draining", "draining: not placing new calls" if placing
                    else "draining: not accepting new calls")
    if live_calls >= max_calls:
        return Busy("max_calls", f"sip.max_calls ({max_calls}) reached")
    return None
