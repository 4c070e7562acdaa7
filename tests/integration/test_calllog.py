"""Call log end to end: a real SIPp call through the server leaves a complete record
(transcript, stereo recording, summary, cost); a crash leaves an interrupted row and a
playable recording; the summary provider is called over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    SCENARIOS,
    TRUNK_IP,
    Server,
    free_port,
    free_rtp_range,
    run_sipp,
    sip_call_id,
    start_server,
)
from vio_sbc.agent.audio import tone
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.calllog.cost import call_cost
from vio_sbc.config.model import DirectionRate, Increment, PlatformRate, PrefixRate, Rates
from vio_sbc.rtp.pcap import write_rtp_pcap

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

GREETING = "Thanks for calling. How can I help?"
RATES = """\
    rates:
      currency: USD
      inbound: {{per_minute: 0.0085, increment: "6/6", connection_fee: 0.001}}
      outbound: {{per_minute: 0.013, increment: "60/60"}}
"""
_FORMAT = '    number_format: {{country_code: "1", national_length: 10}}\n'
CONFIG = BASE_CONFIG.replace(_FORMAT, _FORMAT + RATES, 1).replace(
    "  default_agent: receptionist\n",
    "  default_agent: receptionist\n  platform_rate: {{per_minute: 0.05}}\n", 1)


def _tone_pcap(workdir: Path, seconds: float = 3.0) -> Path:
    pcm = np.frombuffer(tone(1000, int(seconds * 1000), 8000, amplitude=0.5), dtype="<i2")
    path = workdir / "tone.pcap"
    write_rtp_pcap(pcm, 8000, "PCMU", path)
    return path


def _wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
        return w.getnchannels(), w.getframerate(), data


def _band(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spec[(freqs >= lo) & (freqs <= hi)].sum())


@pytest.fixture
def rated_server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path, CONFIG)
    try:
        yield srv
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


def test_sipp_call_leaves_a_complete_record(rated_server: Server, tmp_path: Path) -> None:
    srv = rated_server
    work = tmp_path / "sipp"
    work.mkdir()
    _tone_pcap(work)
    r = run_sipp(srv.addr, "uac_tone_dtmf.xml", number="+14155550101", workdir=work)
    assert r.rc == 0, r.output + r.errors
    row = srv.call_row(sip_call_id(srv, r.call_id))
    assert row["status"] == "ended" and row["codec"] == "PCMU/8000"
    srv.wait_event("recording_saved", call_id=row["id"])

    # transcript: the greeting (agent), then digit 1 (dtmf), in call-time order
    with srv.db() as c:
        lines = [dict(x) for x in c.execute(
            "SELECT speaker, text, start_ms FROM transcript WHERE call_id = ? "
            "ORDER BY start_ms, seq", (row["id"],))]
    assert lines[0]["speaker"] == "agent" and lines[0]["text"] == GREETING
    assert [ln["text"] for ln in lines if ln["speaker"] == "dtmf"] == ["1"]
    assert [ln["start_ms"] for ln in lines] == sorted(ln["start_ms"] for ln in lines)

    # recording: stereo at the call's rate, as long as the call
    path = Path(row["recording_path"])
    assert path.is_file() and path.parent.parent.parent.parent.name == "recordings"
    channels, rate, data = _wav(path)
    assert (channels, rate) == (2, 8000)
    assert abs(len(data) / rate - row["duration_s"]) < 0.5, (len(data) / rate, row["duration_s"])
    left, right = data[:, 0], data[:, 1]
    # LEFT = caller: the 1 kHz tone dominates the first 3 s it played
    first = left[: 3 * rate]
    spec = np.abs(np.fft.rfft(first.astype(np.float64)))
    peak = np.fft.rfftfreq(len(first), 1 / rate)[int(np.argmax(spec))]
    assert abs(peak - 1000) < 10, peak
    assert _band(first, rate, 950, 1050) > 0.8 * _band(first, rate, 50, 4000)
    # RIGHT = agent: the greeting's exact PCM is there, and no 1 kHz tone
    greeting = EspeakTts().render(GREETING, 8000)
    assert right.tobytes().find(greeting[: 8000]) >= 0
    assert _band(right[: 3 * rate], rate, 950, 1050) < 0.1 * _band(first, rate, 950, 1050)

    # summary: extractive, says so, with the outcome
    assert row["summary_provider"] == "extractive"
    assert row["summary"].startswith("Extractive summary (no AI")
    last_agent = [ln["text"] for ln in lines if ln["speaker"] == "agent"][-1]
    assert f'"{last_agent}"' in row["summary"]  # quoted from the transcript
    assert "Digits entered: 1" in row["summary"]
    assert "Outcome: caller hung up" in row["summary"]

    # cost: the pure rule applied to this call's duration
    want = call_cost(
        Rates("USD", DirectionRate(Decimal("0.0085"), Increment(6, 6), Decimal("0.001")),
              DirectionRate(Decimal("0.013"), Increment(60, 60))),
        PlatformRate(Decimal("0.05")), direction="inbound", number="+14155550101",
        answered=True, duration_s=row["duration_s"])
    assert want is not None
    assert (row["cost"], row["cost_currency"], row["billable_s"]) == (
        str(want.total), "USD", want.billable_s)
    assert json.loads(row["cost_breakdown"]) == want.breakdown
    assert want.billable_s in (6, 12)  # a ~5.5 s call in 6 s blocks

    # and `vio-sbc call` shows it all
    out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "call", "-c", str(srv.config),
                          row["id"][:10]], capture_output=True, text=True, timeout=30,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"agent: {GREETING}" in out.stdout and "dtmf: pressed 1" in out.stdout
    assert str(path) in out.stdout and f"total     {want.total} USD" in out.stdout


def test_recording_off_for_the_trunk(tmp_path: Path) -> None:
    cfg = BASE_CONFIG.replace(_FORMAT, _FORMAT + "    recording: false\n", 1)
    srv = start_server(tmp_path, cfg)
    try:
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "500"])
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        assert row["status"] == "ended" and row["recording_path"] is None
        assert row["cost"] is None and row["summary"]
        assert not (srv.dir / "recordings").exists()
    finally:
        assert srv.stop() == 0


def _sipp_background(srv: Server, workdir: Path, hold_ms: int) -> subprocess.Popen[str]:
    sipp = shutil.which("sipp")
    assert sipp is not None
    cmd = [sipp, srv.addr, "-sf", str(SCENARIOS / "uac_echo_audio.xml"), "-s", "+14155550101",
           "-i", TRUNK_IP, "-p", str(free_port(TRUNK_IP)), "-mi", TRUNK_IP,
           "-mp", str(free_rtp_range(TRUNK_IP, 4)[0]), "-m", "1", "-l", "1", "-nostdin",
           "-rtp_echo", "-d", str(hold_ms), "-timeout", "60s"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True, cwd=workdir)


def test_crash_leaves_interrupted_row_and_playable_recording(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    sipp = _sipp_background(srv, tmp_path, 30000)
    try:
        ev = srv.wait_event("media_active", timeout=20)
        call_id = ev["call_id"]
        deadline = time.monotonic() + 20
        wavs: list[Path] = []
        while time.monotonic() < deadline:  # bounded: until ~1 s of audio is on disk
            wavs = list((srv.dir / "recordings").rglob(f"{call_id}.wav"))
            if wavs and wavs[0].stat().st_size > 44 + 8000 * 4:
                break
            time.sleep(0.1)
        assert wavs, "recording never reached 1 s"
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
    finally:
        if sipp.poll() is None:
            sipp.send_signal(signal.SIGTERM)
            sipp.wait(10)
    with srv.db() as c:
        assert c.execute("SELECT status FROM calls WHERE id = ?", (call_id,)).fetchone()[0] \
            == "answered"
    # the file is playable as it is: header sizes match the data written
    channels, rate, data = _wav(wavs[0])
    assert (channels, rate) == (2, 8000) and len(data) >= 8000
    assert wavs[0].stat().st_size == 44 + len(data) * 4
    # restart on the same storage: the live call is closed as interrupted
    (tmp_path / "again").mkdir()
    text = (tmp_path / "vio.yaml").read_text()
    srv2 = start_server(tmp_path / "again", text.replace("{", "{{").replace("}", "}}"))
    try:
        srv2.wait_event("calls_interrupted", count=1)
        with srv.db() as c:  # the same storage dir
            row = c.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        assert row["status"] == "interrupted" and row["hangup_side"] == "system"
        assert row["recording_path"] == str(wavs[0])
    finally:
        rc = srv2.stop()
        assert rc == 0, f"server exit {rc}: {srv2.raw[-30:]}"


class _Chat(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Chat.seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                           "body": body})
        reply = json.dumps({"choices": [{"message": {"role": "assistant",
                                                      "content": "Caller rang; agent greeted."}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: Any) -> None:
        pass


def test_summary_provider_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    monkeypatch.setenv("VIO_TEST_API_KEY", "sk-test-123")
    cfg = BASE_CONFIG + (
        "summary: {{provider: openai, url: 'http://127.0.0.1:PORT/v1', model: tiny, "
        "api_key: '${{VIO_TEST_API_KEY}}'}}\n").replace("PORT", str(http.server_port))
    srv = start_server(tmp_path, cfg)
    try:
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "500"])
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        srv.wait_event("summary_done", call_id=row["id"])
    finally:
        assert srv.stop() == 0
        http.shutdown()
    with srv.db() as c:
        row = c.execute("SELECT * FROM calls WHERE id = ?", (row["id"],)).fetchone()
    assert row["summary"] == "Caller rang; agent greeted."
    assert row["summary_provider"] == "openai:tiny" and row["summary_error"] is None
    req = _Chat.seen[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test-123"
    assert GREETING in req["body"]["messages"][1]["content"]
    assert not any("sk-test-123" in line for line in srv.raw)  # the key is never logged


def test_shutdown_finalises_live_recordings(tmp_path: Path) -> None:
    """SIGTERM with no grace hangs up a live call: its WAV is finalised, its row closed
    with cost and summary."""
    srv = start_server(tmp_path, CONFIG, extra_args=["--grace", "0"])
    sipp = _sipp_background(srv, tmp_path, 30000)
    try:
        call_id = srv.wait_event("media_active", timeout=20)["call_id"]
        deadline = time.monotonic() + 20
        wavs: list[Path] = []
        while time.monotonic() < deadline:  # bounded: until ~1 s of audio is on disk
            wavs = list((srv.dir / "recordings").rglob(f"{call_id}.wav"))
            if wavs and wavs[0].stat().st_size > 44 + 8000 * 4:
                break
            time.sleep(0.1)
        assert wavs
        assert srv.stop() == 0
    finally:
        if sipp.poll() is None:
            sipp.send_signal(signal.SIGTERM)
        sipp.wait(10)
    assert any(ev.get("event") == "recording_saved" and ev.get("call_id") == call_id
               for ev in srv.lines)
    channels, rate, data = _wav(wavs[0])
    assert (channels, rate) == (2, 8000) and wavs[0].stat().st_size == 44 + len(data) * 4
    with srv.db() as c:
        row = c.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
    assert row["status"] == "ended" and row["hangup_side"] == "system"
    assert abs(len(data) / rate - row["duration_s"]) < 0.5
    assert row["cost"] is not None and "Outcome: ended by the system" in row["summary"]


def test_refused_call_has_zero_cost_and_a_summary(rated_server: Server) -> None:
    r = run_sipp(rated_server.addr, "uac_expect_404.xml", number="+14155559876")
    assert r.rc == 0, r.output + r.errors
    row = rated_server.call_row(sip_call_id(rated_server, r.call_id))
    assert (row["status"], row["final_status"]) == ("refused", 404)
    assert (row["cost"], row["cost_currency"], row["billable_s"]) == ("0.000000", "USD", 0)
    assert row["summary"].endswith("Outcome: refused (SIP 404 Not Found).")
    assert row["recording_path"] is None


def test_transferred_call_summary_says_transferred(tmp_path: Path) -> None:
    """The REFER scenario from test_transfer: the summary's outcome is the transfer."""
    from tests.integration.test_transfer import CONFIG as TRANSFER_CONFIG

    srv = start_server(tmp_path, TRANSFER_CONFIG)
    try:
        r = run_sipp(srv.addr, "uac_refer_accept.xml", number="+14155550105")
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
    finally:
        assert srv.stop() == 0
    assert row["transfer_outcome"] == "completed 200 OK"
    assert "Outcome: transferred (completed 200 OK)" in row["summary"]
    with srv.db() as c:
        speakers = [x[0] for x in c.execute(
            "SELECT speaker FROM transcript WHERE call_id = ? ORDER BY start_ms, seq",
            (row["id"],))]
    assert "dtmf" in speakers and "agent" in speakers


def test_outbound_call_cost_uses_the_callee_prefix(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An outbound call through the Twilio-like SIPp termination of test_trunk_outbound: the
    rate is the longest outbound prefix of the callee, 6/6 blocks plus the fee."""
    from tests.integration.trunk_harness import (
        TERM_IP,
        cli,
        config_text,
        start_uas,
        use_trunk_password,
    )

    use_trunk_password(monkeypatch)

    term_port = free_port(TERM_IP)
    text = config_text(term_port=term_port).replace(
        "      options_interval_s: 0\nnumbers:",
        "      options_interval_s: 0\n"
        "    rates:\n"
        "      currency: EUR\n"
        "      outbound: {{per_minute: 0.013, increment: \"6/6\", connection_fee: 0.001}}\n"
        "      prefixes: {{\"+1\": {{outbound: {{per_minute: 0.5}}}}, "
        "\"+1415555\": {{outbound: {{per_minute: 0.02}}}}}}\n"
        "numbers:", 1)
    assert "rates:" in text
    srv = start_server(tmp_path, text)
    media = free_rtp_range(TERM_IP, 4)[0]
    term = start_uas(tmp_path, "uas_twilio_407.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-rtp_echo", "-m", "1", "-d", "3000",
                      "-set", "from", "+14155550130"])
    try:
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 0, out.stdout + out.stderr + term.output()
        assert term.wait(20) == 0, term.output()
        call_id = out.stdout.split()[1].rstrip(":")
        row = None
        deadline = time.monotonic() + 10
        while row is None or row["cost"] is None:  # bounded poll of the async writer
            with srv.db() as c:
                row = c.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
            assert time.monotonic() < deadline, "no cost on the outbound row"
            time.sleep(0.05)
    finally:
        term.stop()
        assert srv.stop() == 0
    assert row["direction"] == "outbound" and row["status"] == "ended"
    want = call_cost(
        Rates("EUR", outbound=DirectionRate(Decimal("0.013"), Increment(6, 6), Decimal("0.001")),
              prefixes=(PrefixRate("1", outbound=DirectionRate(Decimal("0.5"))),
                        PrefixRate("1415555", outbound=DirectionRate(Decimal("0.02"))))),
        None, direction="outbound", number="+14155559000", answered=True,
        duration_s=row["duration_s"])
    assert want is not None and want.breakdown["rate_prefix"] == "+1415555"
    assert (row["cost"], row["cost_currency"], row["billable_s"]) == (
        str(want.total), "EUR", want.billable_s)
    assert "Outcome: callee hung up" in row["summary"]
