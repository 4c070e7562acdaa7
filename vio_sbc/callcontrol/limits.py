"""Message limits: what one request may carry, and the answer when it carries more.

The SIP guard enforces them before the transaction layer (the 23-sip-limits pjproject
patch), for every request it lets on: a served request of one of our dialogs, or one
from a known source (a stranger gets what any stranger gets, never a hint about our
limits). This table is the contract the patch implements and the adapter
(`vio_sbc/sip/guard.py`) reads: the limit's key under `sip.limits`, the C global it
sets, the answer, and the counter that becomes `vio_rejected_requests_total{reason}`.
An ACK over a limit is dropped (never answered).
"""

from __future__ import annotations

from dataclasses import dataclass

from vio_sbc.config.model import MessageLimits


@dataclass(frozen=True, slots=True)
class Limit:
    key: str  # sip.limits.<key>
    symbol: str  # the patch's C global
    status: int
    reason_phrase: str
    counter: str  # the patch's counter of requests refused under this limit
    reason: str  # vio_rejected_requests_total{reason}


LIMITS: tuple[Limit, ...] = (
    Limit("max_message_bytes", "vio_sip_max_msg_bytes", 413, "Request Entity Too Large",
          "vio_sip_limit_size", "too_large"),
    Limit("max_headers", "vio_sip_max_headers", 400, "Too Many Headers",
          "vio_sip_limit_headers", "too_many_headers"),
    Limit("sdp_max_media", "vio_sdp_max_media", 488, "Not Acceptable Here",
          "vio_sip_limit_media", "sdp_too_many_media"),
    Limit("sdp_max_formats", "vio_sdp_max_formats", 488, "Not Acceptable Here",
          "vio_sip_limit_formats", "sdp_too_many_formats"),
)


def effective(limits: MessageLimits, max_packet: int) -> dict[str, int]:
    """Each limit's value as enforced: a message can never be longer than pjsip's
    receive buffer (`max_packet`, PJSIP_MAX_PKT_LEN), so a configured size above it
    is that size (over UDP a datagram filling the buffer was cut: too large)."""
    values = {lim.key: int(getattr(limits, lim.key)) for lim in LIMITS}
    values["max_message_bytes"] = min(values["max_message_bytes"], max_packet)
    return values
