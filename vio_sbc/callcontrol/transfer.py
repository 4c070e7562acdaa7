"""Blind transfer (REFER) in plain terms: target checking, the Refer-To URI, and the
outcome of an attempt from the statuses pjsua reports. Pure: no pjsua2 here.

A target is a SIP/SIPS URI (used as is) or a number (`+`, digits, `*`, `#`),
which becomes `sip:<number>@<host>` where host is the address the call came
from (the trunk that will carry the new call).

pjsua reports a transfer as a series of (status, reason, final): 202 when the
REFER is accepted, then each NOTIFY's sipfrag status (100, 180, 200...); a
REFER answered 4xx-6xx (or timed out, 408) is reported once, final. No final
NOTIFY within `sip.transfer_timeout_s` of the REFER: `on_timeout`, failed 408.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from vio_sbc.config.values import check_transfer_target, is_target_number
from vio_sbc.errors import VioError


class TransferTargetError(VioError):
    pass


def check_target(target: str) -> str:
    """The target as given if it is a SIP URI or a number; else TransferTargetError."""
    why = check_transfer_target(target)
    if why is not None:
        raise TransferTargetError(why)
    return target


def refer_uri(target: str, host: str) -> str:
    """The Refer-To URI for `target`: a URI as is, a number at `host`."""
    check_target(target)
    if is_target_number(target):
        if not host:
            raise TransferTargetError(f"no host to send number {target!r} to")
        h = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"sip:{target}@{h}"
    return target


NO_FINAL_NOTIFY = "no final NOTIFY"


class Outcome(str, Enum):
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(slots=True)
class TransferAttempt:
    target: str
    uri: str
    status: int = 0
    reason: str = ""
    outcome: Outcome | None = None

    def on_status(self, status: int, reason: str, final: bool) -> Outcome | None:
        """Feed one report; returns the outcome the first time there is one."""
        if self.outcome is not None:
            return None
        self.status, self.reason = status, reason
        if status >= 300 or (final and status < 200):
            self.outcome = Outcome.FAILED
        elif 200 <= status < 300 and (final or status != 202):
            self.outcome = Outcome.COMPLETED
        return self.outcome

    def on_timeout(self) -> Outcome | None:
        """The final NOTIFY did not come in time: failed (once; None if decided)."""
        if self.outcome is not None:
            return None
        self.status, self.reason, self.outcome = 408, NO_FINAL_NOTIFY, Outcome.FAILED
        return self.outcome

    @property
    def summary(self) -> str:
        """What the call log keeps: e.g. 'completed 200 OK', 'failed 501 Not Implemented'."""
        state = self.outcome.value if self.outcome else "pending"
        return f"{state} {self.status} {self.reason}".strip()
