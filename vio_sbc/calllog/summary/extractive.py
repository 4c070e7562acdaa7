"""The offline summariser: extractive, and it says so. Pure functions.

It picks sentences from the transcript rather than writing new ones: the caller's
intent is their first utterance, the key utterances are the caller's longest other
utterances (then the agent's last words), plus the digits entered, and the outcome
comes from how the call ended (not from the words).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = "Extractive summary (no AI: sentences quoted from the transcript)."
MAX_KEY = 3
MAX_QUOTE = 200
_DTMF_LINE = re.compile(r"\[DTMF [0-9A-D*#]\]")
TRANSFER_OK = ("transferred", "completed", "ok", "success")


@dataclass(frozen=True, slots=True)
class Line:
    speaker: str  # caller | agent | dtmf
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class CallFacts:
    """How the call ended, as the call log knows it."""

    status: str  # ended | refused | cancelled | interrupted | unanswered (outbound)
    hangup_side: str | None = None  # caller | agent | system
    hangup_reason: str | None = None  # the agent's HangupRequest reason
    transfer_outcome: str | None = None
    final_status: int | None = None
    final_reason: str | None = None
    duration_s: float | None = None


def is_agent_dtmf_echo(speaker: str, text: str) -> bool:
    """Agents may log a caller line "[DTMF 5]"; the SIP layer logs digits itself."""
    return speaker == "caller" and bool(_DTMF_LINE.fullmatch(text))


def outcome(f: CallFacts) -> str:
    """One of: refused, caller hung up before answer, interrupted, transferred,
    caller hung up, completed, agent hung up, ended by the system — with detail."""
    secs = f" after {round(f.duration_s)} s" if f.duration_s is not None else ""
    if f.status == "refused":
        return f"refused (SIP {f.final_status} {f.final_reason or ''})".replace(" )", ")")
    if f.status == "cancelled":
        return "caller hung up before answer"
    if f.status == "unanswered":  # outbound
        return f"not answered (SIP {f.final_status} {f.final_reason or ''})".replace(" )", ")")
    if f.status == "interrupted":
        return "interrupted (the server stopped during the call)"
    if f.transfer_outcome:
        if f.transfer_outcome.lower().startswith(TRANSFER_OK):
            return f"transferred ({f.transfer_outcome}){secs}"
        return f"transfer failed ({f.transfer_outcome}); {_end(f, secs)}"
    return _end(f, secs)


def _end(f: CallFacts, secs: str) -> str:
    if f.hangup_side in ("caller", "callee"):  # callee: the far end of an outbound call
        return f"{f.hangup_side} hung up{secs}"
    if f.hangup_side == "agent":
        if f.hangup_reason in (None, "", "completed", "agent"):
            return f"completed: the agent ended the call{secs}"
        return f"agent hung up ({f.hangup_reason}){secs}"
    return f"ended by the system{secs}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return '"' + (text if len(text) <= MAX_QUOTE else text[:MAX_QUOTE - 1] + "…") + '"'


def _at(ms: int) -> str:
    s = max(ms, 0) // 1000
    return f"{s // 60:02d}:{s % 60:02d}"


def extractive_summary(lines: Sequence[Line], facts: CallFacts) -> str:
    ordered = sorted(lines, key=lambda ln: ln.start_ms)
    caller = [ln for ln in ordered if ln.speaker == "caller" and ln.text.strip()
              and not is_agent_dtmf_echo(ln.speaker, ln.text)]
    agent = [ln for ln in ordered if ln.speaker == "agent" and ln.text.strip()]
    digits = [ln.text for ln in ordered if ln.speaker == "dtmf"]
    out = [HEADER]
    if caller:
        out.append(f"Caller intent: {_quote(caller[0].text)}")
    else:
        out.append("Caller intent: unknown (no caller speech in the transcript)")
    rest = sorted(caller[1:], key=lambda ln: len(ln.text.split()), reverse=True)[:MAX_KEY]
    key = sorted(rest, key=lambda ln: ln.start_ms)
    if len(key) < MAX_KEY and agent:
        key.append(agent[-1])
    if key:
        out.append("Key utterances:")
        out.extend(f"- {ln.speaker} {_at(ln.start_ms)}: {_quote(ln.text)}" for ln in key)
    if digits:
        out.append(f"Digits entered: {' '.join(digits)}")
    out.append(f"Outcome: {outcome(facts)}.")
    return "\n".join(out)


def dialogue(lines: Sequence[Line]) -> str:
    """The transcript as a dialogue, one line per turn: `[mm:ss] speaker: text`."""
    out = []
    for ln in sorted(lines, key=lambda ln: ln.start_ms):
        text = f"pressed {ln.text}" if ln.speaker == "dtmf" else ln.text
        out.append(f"[{_at(ln.start_ms)}] {ln.speaker}: {text}")
    return "\n".join(out)
