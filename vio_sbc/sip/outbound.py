"""Outbound calls: the request/result contract used by the dialer and the agent engine.

`Softswitch.place_call(OutboundRequest, on_result)` (main thread only) admits
the call (`vio_sbc.trunks.admission`: an `OutboundRefused` is raised up front
and no INVITE is sent), sends the INVITE through the number's trunk account
(digest 401/407 answered from the trunk's credentials, From and
P-Asserted-Identity carry the number in E.164) and reports an
`OutboundResult` when the call ends. This module is free of pjsua2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vio_sbc.trunks.admission import OutboundRefused

__all__ = ["OutboundRefused", "OutboundRequest", "OutboundResult", "classify_outcome"]

OUTCOMES = ("answered", "busy", "no_answer", "rejected", "failed")


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
    outcome: str        # "answered" | "busy" | "no_answer" | "rejected" | "failed"
    sip_status: int     # final SIP status (200 when answered; 486, 408/480/487 no answer, ...)
    reason: str
    duration_s: float   # answered duration, 0 if not answered


def classify_outcome(answered: bool, status: int, timed_out: bool = False) -> str:
    """The outcome of an outbound call from its final status.

    Answered calls are `answered` whatever ended them. Before answer: our ring
    timeout or 408/480/487 -> `no_answer`; 486/600 -> `busy`; other 4xx/6xx ->
    `rejected`; 5xx, no response (0) and anything else -> `failed`.
    """
    if answered:
        return "answered"
    if timed_out or status in (408, 480, 487):
        return "no_answer"
    if status in (486, 600):
        return "busy"
    if 400 <= status <= 499 or 600 <= status <= 699:
        return "rejected"
    return "failed"
