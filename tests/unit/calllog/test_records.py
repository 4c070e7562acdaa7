"""CallRecords: transcript routing and ordering, cost and summary at call end, provider
failure keeps the extractive summary (real HTTP server on 127.0.0.1), recording switches."""

from __future__ import annotations

import dataclasses
import json
import queue
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from vio_sbc.agent.engine import Session
from vio_sbc.calllog.records import CallRecords, EndFacts, recording_enabled
from vio_sbc.calllog.store import CallLog
from vio_sbc.calllog.summary.extractive import CallFacts
from vio_sbc.config import Config, parse_config_text

pytestmark = pytest.mark.timeout(30)


def _config(tmp: Path, extra: str = "") -> Config:
    text = textwrap.dedent(f"""\
        storage: {{dir: {tmp}}}
        workspace: {{platform_rate: {{per_minute: 0.05}}}}
        trunks:
          pbx:
            kind: byoc
            rates: {{inbound: {{per_minute: 0.0085, increment: "6/6"}}}}
          quiet:
            kind: byoc
            recording: false
        numbers:
          "+14155550100": {{trunk: pbx}}
          "+14155550101": {{trunk: pbx, recording: false}}
          "+14155550102": {{trunk: quiet, recording: true}}
        """) + extra
    return parse_config_text(text, "vio.yaml", env={})


class Fail(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(503)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"busy")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Fail)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_transcript_rows_are_read_in_call_time_order(tmp_path: Path, backend: Backend) -> None:
    """Caller lines come from STT after the utterance ends, so they are logged after
    agent lines that started later: reading orders by start_ms, then logging order."""
    log = CallLog(backend())
    rec = CallRecords(_config(tmp_path), log)
    log.open_call({"id": "c", "direction": "inbound", "status": "answered"})
    rec.opened("c")
    rec.transcript("c", "agent", 0, 2000, "Hello.")
    rec.transcript("c", "agent", 5000, 6000, "Anything else?")
    rec.transcript("c", "caller", 2500, 4800, "I need help.")  # logged late
    rec.transcript("c", "caller", 7000, 7000, "[DTMF 5]")  # the agent's echo: skipped
    rec.dtmf("c", 7000, "5")
    rec.transcript("c", "agent", 7000, 8000, "Pressed five.")  # same start: log order
    assert log.flush()
    rows = log.transcript("c")
    assert [(r["speaker"], r["start_ms"], r["text"], r["seq"]) for r in rows] == [
        ("agent", 0, "Hello.", 1),
        ("caller", 2500, "I need help.", 3),
        ("agent", 5000, "Anything else?", 2),
        ("dtmf", 7000, "5", 4),
        ("agent", 7000, "Pressed five.", 5),
    ]
    log.close()


def test_finish_stores_cost_and_extractive_summary(tmp_path: Path, backend: Backend) -> None:
    cfg = _config(tmp_path)
    log = CallLog(backend())
    rec = CallRecords(cfg, log)
    rec.opened("c")
    rec.transcript("c", "caller", 100, 900, "Book a table.")
    fields = rec.finish(EndFacts("c", "inbound", cfg.trunks["pbx"], "+14155550100", True, 7.2,
                                 CallFacts("ended", "caller", duration_s=7.2)))
    # 7.2 s in 6/6 -> 12 s: 0.0085 * 12/60 = 0.0017; platform 8 s: 0.05 * 8/60 = 0.006667
    assert (fields["cost"], fields["cost_currency"], fields["billable_s"]) == (
        "0.008367", "USD", 12)
    assert json.loads(fields["cost_breakdown"])["carrier"] == "0.001700"
    assert fields["summary_provider"] == "extractive"
    assert 'Caller intent: "Book a table."' in fields["summary"]
    log.close()


def test_provider_failure_keeps_extractive_summary_and_notes_it(
        tmp_path: Path, failing_url: str, backend: Backend) -> None:
    cfg = _config(tmp_path, f"summary: {{provider: openai, url: '{failing_url}', model: m}}\n")
    log = CallLog(backend())
    rec = CallRecords(cfg, log)
    rec.start()
    log.open_call({"id": "c", "direction": "inbound", "status": "answered"})
    rec.opened("c")
    fields = rec.finish(EndFacts("c", "inbound", cfg.trunks["pbx"], "+14155550100", True, 3.0,
                                 CallFacts("ended", "caller", duration_s=3.0)))
    log.update_call("c", **fields)
    rec.stop()  # waits for the queued provider call
    assert log.flush()
    row = log.get("c")
    assert row is not None
    assert row["summary"].startswith("Extractive summary")
    assert row["summary_provider"] == "extractive"
    assert row["summary_error"] == "openai:m: HTTP 503 Service Unavailable: busy"
    log.close()


def test_recording_switches(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    pbx, quiet = cfg.trunks["pbx"], cfg.trunks["quiet"]
    n = cfg.numbers
    assert recording_enabled(cfg, pbx, n["+14155550100"])  # trunk default: on
    assert not recording_enabled(cfg, pbx, n["+14155550101"])  # the number says no
    assert recording_enabled(cfg, quiet, n["+14155550102"])  # the number overrides the trunk
    assert not recording_enabled(cfg, quiet, None)
    off = dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, recordings=False))
    assert not recording_enabled(off, pbx, n["+14155550100"])  # storage.recordings: false


def test_start_recording_hands_the_session_to_the_writer(tmp_path: Path, backend: Backend) -> None:
    cfg = _config(tmp_path)
    log = CallLog(backend())
    rec = CallRecords(cfg, log)
    rec.start()
    log.open_call({"id": "c", "direction": "inbound", "status": "answered"})
    sess = Session("c", 8000, [], queue.SimpleQueue())
    path = rec.start_recording("c", sess, cfg.trunks["pbx"], cfg.numbers["+14155550100"])
    assert path is not None and sess.rec is not None
    for _ in range(50):
        sess.next_playout()
    rec.finish(EndFacts("c", "inbound", cfg.trunks["pbx"], "+14155550100", True, 1.0,
                        CallFacts("ended", "caller")))
    rec.stop()
    assert path.stat().st_size == 44 + 50 * 160 * 4
    assert log.flush() and log.get("c")["recording_path"] == str(path)  # type: ignore[index]
    log.close()
