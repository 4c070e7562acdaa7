"""Error types that know their answer.

`SipRefusal` carries the SIP status and reason a refusal maps to (model:
sippy's SipHandlingError); the adapter answers the INVITE with exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

REASONS: dict[int, str] = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    503: "Service Unavailable",
    603: "Decline",
}


# the `reason` label of vio_rejected_requests_total for a refusal that names none
LABELS: dict[int, str] = {
    400: "bad_request",
    403: "forbidden",
    404: "unknown_number",
    416: "bad_uri",
    503: "unavailable",
}


class VioError(Exception):
    """Base class of vio_sbc errors."""


class SipRefusal(VioError):
    """A routing or admission refusal, with the SIP response it implies and the label
    it is counted under (`vio_rejected_requests_total{reason}`; by status unless given)."""

    def __init__(self, status: int, detail: str, reason: str | None = None,
                 retry_after: int | None = None, label: str | None = None) -> None:
        if not 400 <= status <= 699:
            raise ValueError(f"SipRefusal status must be 4xx-6xx, got {status}")
        self.status = status
        self.retry_after = retry_after  # seconds, sent as Retry-After (503)
        self.reason = reason or REASONS.get(status, "Refused")
        self.detail = detail
        self.label = label or LABELS.get(status, f"status_{status}")
        super().__init__(f"{status} {self.reason}: {detail}")


class IllegalTransition(VioError):
    """A call state machine was asked for a transition its table forbids."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One configuration error, located as FILE:LINE: key.path: message."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(VioError):
    """The configuration is invalid; `issues` lists every error found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
