"""Whether the switch takes another call at all, inbound or outbound. Pure.

One rule for both directions: no new call while draining (SIGTERM), none beyond
`sip.max_calls` live calls. The answer is a 503 either way; `Busy` says why, with
the `reason` label of `vio_rejected_requests_total` it counts under.

`number_capacity`: a number's own cap (`numbers.<n>.max_calls`), checked once an
inbound call is routed: at the cap, the number's `max_calls_status` (486, or 503
with Retry-After), counted as `number_max_calls`.
"""

from __future__ import annotations

from dataclasses import dataclass

from vio_sbc.errors import SipRefusal

NUMBER_RETRY_AFTER_S = 5  # a number's calls are short-lived: retry soon


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


def number_capacity(number: str, live_calls: int, max_calls: int | None,
                    status: int) -> SipRefusal | None:
    """The refusal of one more call on `number` with `live_calls` live (None: take it)."""
    if max_calls is None or live_calls < max_calls:
        return None
    return SipRefusal(status, f"number {number} at max_calls ({max_calls})",
                      retry_after=NUMBER_RETRY_AFTER_S if status == 503 else None,
                      label="number_max_calls")
