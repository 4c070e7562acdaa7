"""Outbound calls through a trunk: a Twilio-like SIPp termination (407 digest, From and
P-Asserted-Identity in E.164, audio both ways), `call-out` reporting failures, early
media reaching the agent before a busy, and OPTIONS health marking the trunk down and
up."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    Server,
    free_port,
    free_rtp_range,
    start_server,
)
from tests.integration.trunk_harness import (
    PASSWORD,
    TERM_IP,
    cli,
    config_text,
    digest_ok,
    final_row,
    start_uas,
    trunk_password,  # noqa: F401 (autouse fixture)
    wait_after,
)
from vio_sbc import control

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def trunk_server(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    term_port = free_port(TERM_IP)
    srv = start_server(tmp_path, config_text(term_port=term_port))
    try:
        yield srv, term_port, tmp_path
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


@pytest.mark.parametrize("caller_id", [None, "+14155550199"])
def test_outbound_through_407_termination_with_audio(tmp_path: Path,
                                                     caller_id: str | None) -> None:
    """caller_id unset: From/PAI carry the calling number; set: the trunk's fixed one."""
    term_port = free_port(TERM_IP)
    text = config_text(term_port=term_port)
    if caller_id:
        text = text.replace("      cps: 5\n", f'      cps: 5\n      caller_id: "{caller_id}"\n')
    srv = start_server(tmp_path, text)
    media = free_rtp_range(TERM_IP, 4)[0]
    term = start_uas(tmp_path, "uas_twilio_407.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-rtp_echo", "-m", "1", "-d", "4000",
                      "-set", "from", caller_id or "+14155550130"])
    try:
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 0, out.stdout + out.stderr + term.output()
        assert ": answered (200 " in out.stdout
        assert term.wait(20) == 0, term.output()
    finally:
        term.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
    call_id = out.stdout.split()[1].rstrip(":")
    row = final_row(srv.dir / "vio.db", call_id)
    assert row["direction"] == "outbound" and row["status"] == "ended"
    assert (row["trunk"], row["number"], row["callee"]) == ("tw", "+14155550130", "+14155559000")
    assert row["final_status"] == 200 and row["hangup_side"] == "callee"
    assert row["codec"] == "PCMU/8000" and row["duration_s"] > 3.0
    assert row["tx_audio_frames"] > 50      # the greeting went out...
    assert row["rx_voiced_frames"] > 20     # ...and came back through the far end
    messages = term.messages.read_text(errors="replace")
    assert f"P-Asserted-Identity: <sip:{caller_id or '+14155550130'}@" in messages
    assert digest_ok(messages, "vio-term", PASSWORD)
    assert PASSWORD not in "".join(srv.raw)  # never logged


def test_options_health_marks_the_trunk_down_and_up(tmp_path: Path) -> None:
    term_port = free_port(TERM_IP)
    text = config_text(term_port=term_port).replace(
        "cps: 5\n      options_interval_s: 0",
        "cps: 5\n      options_interval_s: 0.5\n      options_timeout_s: 0.5\n"
        "      options_down_after: 2")
    peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, term_port, [])
    srv = start_server(tmp_path, text)
    try:
        deadline = time.monotonic() + 15
        while '"last_status": 200' not in cli(srv, "status", "--json").stdout:
            assert time.monotonic() < deadline, "no answered OPTIONS ping"
            time.sleep(0.2)
        n = len(srv.lines)
        peer.stop()
        n, down = wait_after(srv, n, "trunk_down", trunk="tw", timeout=15)
        assert down["last_status"] == 408 and down["failures"] == 2
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 3 and "is down (OPTIONS unanswered)" in out.stderr, out.stderr
        assert "down (last 408)" in cli(srv, "status").stdout
        peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, term_port, [])
        _, up = wait_after(srv, n, "trunk_up", trunk="tw", timeout=15)
        assert up["last_status"] == 200
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


@pytest.mark.parametrize(("scenario", "outcome", "status"), [
    ("uas_busy.xml", "busy", 486), ("uas_ring_no_answer.xml", "no_answer", 487),
])
def test_standalone_call_out_reports_failures(tmp_path: Path, scenario: str, outcome: str,
                                              status: int) -> None:
    """No server runs on this config: `call-out` runs its own endpoint for the call."""
    term_port = free_port(TERM_IP)
    rtp_min, rtp_max = free_rtp_range()
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(config_text(term_port=term_port).format(
        port=free_port(), rtp_min=rtp_min, rtp_max=rtp_max, dir=tmp_path / "var",
        trunk_ip="127.0.0.2"))
    peer = start_uas(tmp_path, scenario, TERM_IP, term_port, ["-m", "1"])
    try:
        out = subprocess.run(
            [sys.executable, "-m", "vio_sbc.cli", "call-out", "-c", str(cfg), "--from",
             "+14155550130", "--to", "+14155559000", "--ring-timeout", "1.5"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f": {outcome} ({status} " in out.stdout, out.stdout
        assert peer.wait(20) == 0, peer.output()
    finally:
        peer.stop()
    call_id = out.stdout.split()[1].rstrip(":")
    row = final_row(tmp_path / "var" / "vio.db", call_id)
    assert (row["direction"], row["status"], row["final_status"]) == ("outbound", outcome, status)
    assert row["answered_at"] is None and row["ended_at"] is not None


def test_early_media_reaches_the_agent_before_a_busy(
        trunk_server: tuple[Server, int, Path]) -> None:
    srv, term_port, tmp = trunk_server
    media = free_rtp_range(TERM_IP, 4)[0]
    peer = start_uas(tmp, "uas_early_media_busy.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-m", "1"])
    try:  # straight over the control socket, as a dialer would, with a job id
        replies = list(control.call(
            control.socket_path(srv.dir),
            {"op": "call_out", "from": "+14155550130", "to": "+14155559000",
             "job_id": "job-42", "variables": {"name": "Ada"}}, timeout=30))
        assert peer.wait(20) == 0, peer.output()
    finally:
        peer.stop()
    assert [r["final"] for r in replies] == [False, True], replies
    result = replies[-1]["result"]
    assert (result["outcome"], result["sip_status"], result["duration_s"]) == ("busy", 486, 0.0)
    call_id = replies[0]["call_id"]
    assert result["call_id"] == call_id
    row = final_row(srv.dir / "vio.db", call_id)
    assert (row["status"], row["final_status"], row["answered_at"]) == ("busy", 486, None)
    assert row["dialer_job_id"] == "job-42"
    assert row["ringing_at"] is not None and row["codec"] == "PCMA/8000"
    assert row["rx_voiced_frames"] > 50   # the announcement reached the agent's input
    assert row["tx_audio_frames"] == 0    # the agent did not talk into early media


def test_outbound_invite_carries_the_calls_x_variables_as_headers(
        trunk_server: tuple[Server, int, Path]) -> None:
    """A call placed with variables x-customer-id and x-campaign (as a dialer job's):
    the SIPp termination fails the call unless its INVITE has X-Customer-Id: cust-4711
    and X-Campaign: spring; the `name` variable is not a header."""
    srv, term_port, tmp = trunk_server
    peer = start_uas(tmp, "uas_x_headers.xml", TERM_IP, term_port, ["-m", "1"])
    try:
        replies = list(control.call(
            control.socket_path(srv.dir),
            {"op": "call_out", "from": "+14155550130", "to": "+14155559000",
             "variables": {"name": "Ada", "x-customer-id": "cust-4711",
                           "x-campaign": "spring"}}, timeout=30))
        rc = peer.wait(20)
    finally:
        peer.stop()
    assert rc == 0, peer.output()
    assert replies[-1]["result"]["sip_status"] == 486
    dialing = srv.wait_event("call_dialing", call_id=replies[0]["call_id"])
    assert dialing["x_headers"] == ["X-Customer-Id", "X-Campaign"]
    assert "\nName:" not in peer.output()
