"""Cost and summary for the calls closed as `interrupted` at start-up (after a crash or
SIGKILL).

The process that knew how they ended is gone. What the call log and the disk still
know: whether and when the call was answered, its transcript rows, its call events
(ms since the answer) and its recording (the WAV header is rewritten on every write,
so its length is the audio written up to the writer's last pass before the crash).
The call's length is estimated as the longest of those (`estimate_duration`, pure);
cost and extractive summary then follow the rules of a normal call end, and the row
says they were computed at recovery: `summary_provider` is `extractive:recovery`,
the summary ends with a line saying what the length was taken from, the cost
breakdown has `"recovery": {"duration_s": …, "from": …}` and a `recovered` call
event keeps the same. `duration_s` holds the estimate; `ended_at` stays the time
of the restart. Audio is timed from its start (the answer; for an outbound call
with early media, the first early media), and the last ~100 ms before a crash may
be missing from every source.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from typing import Any

import structlog

from vio_sbc.calllog.records import cost_fields
from vio_sbc.calllog.store import CallLog
from vio_sbc.calllog.summary.extractive import CallFacts, Line, extractive_summary
from vio_sbc.config.model import Config

log = structlog.get_logger("vio_sbc.calllog.recovery")

PROVIDER = "extractive:recovery"


@dataclass(frozen=True, slots=True)
class Known:
    """What survives a crash about one call (seconds since the audio started)."""

    answered: bool
    recording_s: float | None = None
    last_event_s: float | None = None
    last_transcript_s: float | None = None


def estimate_duration(known: Known) -> tuple[float, str]:
    """(seconds, what they come from): the longest of the recording, the last call
    event and the last transcript line; (0, "unanswered") or (0, "nothing") else."""
    if not known.answered:
        return 0.0, "unanswered"
    sources = [("recording", known.recording_s), ("last event", known.last_event_s),
               ("last transcript line", known.last_transcript_s)]
    best = max(((v, name) for name, v in sources if v is not None), default=None)
    if best is None:
        return 0.0, "nothing"
    return round(max(best[0], 0.0), 3), best[1]


def recording_seconds(path: str | None) -> float | None:
    if not path:
        return None
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error):
        return None


def recovered_fields(cfg: Config, row: dict[str, Any], lines: list[Line],
                     known: Known) -> tuple[dict[str, Any], float, str]:
    """The call-row fields for an interrupted call, its length and what it is from.
    Pure."""
    duration, basis = estimate_duration(known)
    direction = str(row.get("direction") or "inbound")
    number = str((row.get("callee") if direction == "outbound" else row.get("number")) or "")
    fields: dict[str, Any] = {}
    if known.answered:
        fields["duration_s"] = duration
    fields.update(cost_fields(cfg, cfg.trunks.get(str(row.get("trunk") or "")),
                              direction=direction, number=number, answered=known.answered,
                              duration_s=duration,
                              note={"recovery": {"duration_s": duration, "from": basis}}))
    facts = CallFacts("interrupted", "system", duration_s=duration if known.answered else None)
    if known.answered and basis != "nothing":
        note = f"about {round(duration)} s answered, from the {basis}"
    elif known.answered:
        note = "answered, length unknown"
    else:
        note = "not answered"
    fields.update(summary=extractive_summary(lines, facts)
                  + f"\nComputed at restart from the call log: {note}.",
                  summary_provider=PROVIDER)
    return fields, duration, basis


def recover_interrupted(cfg: Config, calllog: CallLog) -> int:
    """Cost and summary for the rows this start closed as interrupted; how many."""
    ids = calllog.interrupted_ids
    if not ids:
        return 0
    with calllog.reader() as db:
        for call_id in ids:
            row = db.get(call_id)
            if row is None:
                continue
            tr = [Line(str(r["speaker"]), str(r["text"]), int(r["start_ms"]), int(r["end_ms"]))
                  for r in db.transcript(call_id, as_logged=True)]
            last_event = db.last_event_ms(call_id)
            # an agent line's end is when its audio was due to end, not what was played
            ends = [ln.start_ms if ln.speaker == "agent" else ln.end_ms for ln in tr]
            known = Known(
                answered=row.get("answered_at") is not None,
                recording_s=recording_seconds(row.get("recording_path")),
                last_event_s=last_event / 1000 if last_event is not None else None,
                last_transcript_s=max(ends) / 1000 if ends else None,
            )
            fields, duration, basis = recovered_fields(cfg, row, tr, known)
            calllog.update_call(call_id, **fields)
            calllog.add_event(call_id, int(duration * 1000), "recovered",
                              f"duration {duration:.3f} s from the {basis}")
    log.info("calls_recovered", count=len(ids))
    return len(ids)
