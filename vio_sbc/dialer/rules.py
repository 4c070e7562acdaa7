"""Scheduling rules of the dialer: pacing, concurrency, retries, do-not-call.

Each rule is a pure function over plain values with the time passed in, so the
tables in tests/unit/dialer/test_rules.py pin them without a clock or a peer.
Times are epoch seconds (float).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass

from vio_sbc.config.values import is_e164
from vio_sbc.dialer.windows import DialerError

_PUNCT = re.compile(r"[\s().-]")

# Job statuses. Terminal: answered, completed, failed, cancelled.
QUEUED, DIALING, ANSWERED, COMPLETED = "queued", "dialing", "answered", "completed"
RETRY_WAIT, FAILED, CANCELLED = "retry_wait", "failed", "cancelled"
STATUSES = (QUEUED, DIALING, ANSWERED, COMPLETED, RETRY_WAIT, FAILED, CANCELLED)
TERMINAL = (ANSWERED, COMPLETED, FAILED, CANCELLED)
CLAIMABLE = (QUEUED, RETRY_WAIT)

# Outcomes the retry policy knows (from OutboundResult.outcome, plus "machine" when an
# answering-machine detector reports one, and "unknown" for an attempt a crash cut off).
OUTCOMES = ("answered", "busy", "no_answer", "rejected", "failed", "machine", "unknown")


def normalise_number(text: str) -> str:
    """E.164 from a human-typed number: spaces, dots, dashes and brackets are dropped,
    a leading 00 becomes +. Raises DialerError otherwise."""
    raw = _PUNCT.sub("", text.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not is_e164(raw):
        raise DialerError(f"{text.strip()!r} is not an E.164 number "
                          "(+ then 8-15 digits, no leading 0)")
    return raw


# --- pacing and concurrency --------------------------------------------------------------


def pace_due(last_dial: float | None, cps: float, now: float) -> bool:
    """A new call may start at `now` if the previous one on this pacer started at least
    1/cps seconds ago (a strict interval: no bursts, so any 1 s holds at most ceil(cps))."""
    return last_dial is None or cps <= 0 or now - last_dial >= 1.0 / cps


def next_pace(last_dial: float | None, cps: float, now: float) -> float:
    """The earliest time a call may start on this pacer."""
    if pace_due(last_dial, cps, now) or last_dial is None:
        return now
    return last_dial + 1.0 / cps


def trunk_hold(*, live: int, max_calls: int, last_dial: float | None, cps: float,
               now: float) -> str | None:
    """Why no call may start on this trunk now (None: one may). `live`/`max_calls` come
    from the switch and count every outbound call on the trunk, not only the dialer's."""
    if live >= max_calls:
        return "trunk_max_calls"
    if not pace_due(last_dial, cps, now):
        return "trunk_cps"
    return None


def campaign_hold(*, status: str, live: int, max_concurrent: int, last_dial: float | None,
                  cps: float, now: float) -> str | None:
    """Why no call may start for this campaign now (None: one may). `live` counts its
    jobs in `dialing` (an attempt from claim to the end of the call), in every process."""
    if status != "active":
        return f"campaign_{status}"
    if live >= max_concurrent:
        return "campaign_max_concurrent"
    if not pace_due(last_dial, cps, now):
        return "campaign_cps"
    return None


def on_dnc(number: str, dnc: Collection[str]) -> bool:
    return number in dnc


# --- retries ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delay before the next attempt per outcome (None: never retry it) and the cap."""

    max_attempts: int = 3
    busy_s: float | None = 300.0
    no_answer_s: float | None = 600.0
    failed_s: float | None = 900.0
    machine_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise DialerError(f"max attempts must be at least 1, got {self.max_attempts}")
        for name in ("busy_s", "no_answer_s", "failed_s", "machine_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise DialerError(f"retry delay {name[:-2]} must be >= 0, got {value:g}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RetryPolicy:
        return cls(**json.loads(text)) if text else cls()


@dataclass(frozen=True, slots=True)
class Decision:
    status: str  # the job's next status
    not_before: float | None = None  # for retry_wait


def retry_class(outcome: str, sip_status: int) -> str:
    """The policy bucket of an attempt's outcome: answered, busy, no_answer, failed,
    machine or final (a refusal that retrying cannot fix, e.g. 403/404/603)."""
    if outcome in ("answered", "busy", "no_answer", "machine"):
        return outcome
    if outcome == "rejected":
        if sip_status in (486, 600):
            return "busy"
        if sip_status in (408, 480, 487):
            return "no_answer"
        return "final" if 400 <= sip_status < 700 and sip_status not in (500, 503) else "failed"
    return "failed"  # failed, unknown (cut off by a crash), anything new


def after_attempt(policy: RetryPolicy, outcome: str, sip_status: int, attempts: int,
                  now: float) -> Decision:
    """What happens to a job after attempt number `attempts` ended with `outcome`."""
    bucket = retry_class(outcome, sip_status)
    if bucket == "answered":
        return Decision(COMPLETED)
    delay = {"busy": policy.busy_s, "no_answer": policy.no_answer_s,
             "failed": policy.failed_s, "machine": policy.machine_s}.get(bucket)
    if delay is None or attempts >= policy.max_attempts:
        return Decision(FAILED)
    return Decision(RETRY_WAIT, now + delay)


def outcome_from_call_row(row: dict[str, object] | None) -> tuple[str, int, str, bool]:
    """Outcome of an attempt cut off by a crash, from its call-log row (or None):
    (outcome, sip_status, reason, call_end_seen). Used to resolve, never to re-dial."""
    if row is None:
        return "unknown", 0, "interrupted: no call-log record", False
    answered = row.get("answered_at") is not None or row.get("status") == "ended"
    ended = row.get("status") in ("ended", "refused", "cancelled", "failed", "busy",
                                  "no_answer", "rejected")
    status = row.get("final_status")
    sip_status = int(status) if isinstance(status, (int, float)) else 0
    reason = str(row.get("final_reason") or row.get("status") or "")
    if answered:
        return "answered", 200, reason or "OK", ended
    if row.get("status") in ("busy", "no_answer", "rejected", "failed"):
        return str(row["status"]), sip_status, reason, True
    if sip_status:
        bucket = {486: "busy", 600: "busy", 408: "no_answer", 480: "no_answer",
                  487: "no_answer"}.get(sip_status, "rejected")
        return bucket, sip_status, reason, True
    return "unknown", 0, f"interrupted: call {row.get('status')}", False
