"""What the call log keeps besides the call row: transcript rows, the recording,
the summary and the cost. Called from the SIP thread; no pjsua2 here.

- `transcript()` / `dtmf()`: rows in the `transcript` table (speaker caller,
  agent or dtmf), kept in memory for the summary until the call ends.
- `start_recording()`: one stereo WAV per answered call unless disabled by the
  number, its trunk or `storage.recordings`; the session's clock-thread
  callbacks hand frames to the recording writer thread. A write error (disk
  full) stops the recording only: a `recording_stopped` call event says why and
  how much was kept.
- `finish()`: closes the recording, computes the cost and the extractive
  summary, and queues the provider summary if one is configured; returns the
  fields for the call row.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from vio_sbc.calllog.cost import call_cost
from vio_sbc.calllog.store import CallLog
from vio_sbc.calllog.summary.extractive import (
    CallFacts,
    Line,
    extractive_summary,
    is_agent_dtmf_echo,
)
from vio_sbc.calllog.summary.openai import Job, OpenAiSummariser, SummaryWorker
from vio_sbc.config.model import Config, NumberConfig, TrunkConfig
from vio_sbc.rtp.recorder import NativeRecorder, NativeRecording, Recording, RecordingWriter

log = structlog.get_logger("vio_sbc.calllog.records")

class Recorded(Protocol):
    """What recording needs of a call's media session (vio_sbc.agent.engine.Session):
    its rate, and the hand-off the clock thread appends frames to (None: stop), or its
    native tap, which records natively (vio_sbc/rtp/tap.py)."""

    sample_rate: int
    rec: deque[tuple[int, bytes | None]] | None
    recording: bool

    @property
    def tap(self) -> object | None: ...


MAX_LINES = 5000  # transcript lines kept in memory per call for the summary


@dataclass(frozen=True, slots=True)
class EndFacts:
    call_id: str
    direction: str
    trunk: TrunkConfig | None
    number: str  # dialled number (E.164 when routed)
    answered: bool
    duration_s: float
    facts: CallFacts


def recording_enabled(cfg: Config, trunk: TrunkConfig, number: NumberConfig | None) -> bool:
    """`storage.recordings` off disables all; else the number's setting, else the trunk's."""
    if not cfg.storage.recordings:
        return False
    if number is not None and number.recording is not None:
        return number.recording
    return trunk.recording


def recordings_dir(cfg: Config) -> Path:
    return Path(cfg.storage.dir).resolve() / "recordings"


def cost_fields(cfg: Config, trunk: TrunkConfig | None, *, direction: str, number: str,
                answered: bool, duration_s: float,
                note: dict[str, Any] | None = None) -> dict[str, Any]:
    """The call row's cost fields (`note`, if any, joins the breakdown); without any
    rate only `billable_s` of an answered call (whole seconds, rounded up)."""
    rates = trunk.rates if trunk is not None else None
    cost = call_cost(rates, cfg.workspace.platform_rate, direction=direction, number=number,
                     answered=answered, duration_s=duration_s)
    if cost is not None:
        breakdown = {**cost.breakdown, **(note or {})}
        return {"cost": str(cost.total), "cost_currency": cost.currency,
                "billable_s": cost.billable_s,
                "cost_breakdown": json.dumps(breakdown, sort_keys=True)}
    if answered:
        return {"billable_s": int(-(-duration_s // 1))}
    return {}


class CallRecords:
    def __init__(self, cfg: Config, calllog: CallLog) -> None:
        self.cfg = cfg
        self.calllog = calllog
        self.writer = RecordingWriter()
        self._lines: dict[str, list[Line]] = {}
        self._recs: dict[str, Recording] = {}
        self.summariser: OpenAiSummariser | None = None
        self.worker: SummaryWorker | None = None
        if cfg.summary.provider == "openai":
            self.summariser = OpenAiSummariser(cfg.summary)
            self.worker = SummaryWorker(self.summariser, self._summary_result)

    def start(self) -> None:
        self.writer.start()
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        """Finalise every recording and finish queued summaries (shutdown)."""
        self.writer.stop()
        if self.worker is not None:
            self.worker.stop()

    # -- transcript ------------------------------------------------------------
    def transcript(self, call_id: str, speaker: str, start_ms: int, end_ms: int,
                   text: str) -> None:
        if is_agent_dtmf_echo(speaker, text):
            return
        self.calllog.add_transcript(call_id, speaker, start_ms, end_ms, text)
        lines = self._lines.get(call_id)
        if lines is not None and len(lines) < MAX_LINES:
            lines.append(Line(speaker, text, start_ms, end_ms))

    def dtmf(self, call_id: str, t_ms: int, digit: str) -> None:
        self.transcript(call_id, "dtmf", t_ms, t_ms, digit)

    def opened(self, call_id: str) -> None:
        self._lines[call_id] = []

    # -- recording -------------------------------------------------------------
    def start_recording(self, call_id: str, session: Recorded, trunk: TrunkConfig,
                        number: NumberConfig | None) -> Path | None:
        if not recording_enabled(self.cfg, trunk, number):
            return None
        day = time.strftime("%Y/%m/%d", time.gmtime())
        path = recordings_dir(self.cfg) / day / f"{call_id}.wav"
        t0 = time.time()

        def stopped(rec: Recording, reason: str) -> None:  # writer thread, once
            session.rec = None  # the clock thread stops handing frames over
            kept = f"{rec.seconds:.2f} s kept" if rec.kept else "nothing kept, file removed"
            self.calllog.add_event(call_id, int((time.time() - t0) * 1000),
                                   "recording_stopped", f"{rec.error}; {kept}")
            if not rec.kept:
                self.calllog.update_call(call_id, recording_path=None)

        tap = session.tap
        if isinstance(tap, NativeRecorder):
            nrec = NativeRecording(call_id, path, session.sample_rate, tap, on_error=stopped)
            nrec.start()
            rec: Recording = nrec
            session.recording = True
        else:
            rec = Recording(call_id, path, session.sample_rate, on_error=stopped)
            session.rec = rec.handoff
        self._recs[call_id] = rec
        self.writer.add(rec)
        self.calllog.update_call(call_id, recording_path=str(path))
        return path

    # -- end of call -------------------------------------------------------------
    def finish(self, end: EndFacts) -> dict[str, Any]:
        rec = self._recs.pop(end.call_id, None)
        if rec is not None:
            self.writer.close(rec)
        lines = self._lines.pop(end.call_id, [])
        fields: dict[str, Any] = {}
        fields.update(cost_fields(self.cfg, end.trunk, direction=end.direction,
                                  number=end.number, answered=end.answered,
                                  duration_s=end.duration_s))
        fields.update(summary=extractive_summary(lines, end.facts),
                      summary_provider="extractive")
        if self.worker is not None and self.summariser is not None and end.answered:
            self.worker.submit(Job(end.call_id, tuple(lines), end.facts))
        return fields

    def _summary_result(self, call_id: str, text: str | None, error: str | None) -> None:
        assert self.summariser is not None
        if text is not None:
            self.calllog.update_call(call_id, summary=text,
                                     summary_provider=self.summariser.name, summary_error=None)
        else:
            self.calllog.update_call(call_id, summary_error=f"{self.summariser.name}: {error}")
