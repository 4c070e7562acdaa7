"""SIGTERM drains: new calls get 503 + Retry-After, live calls finish, exit 0."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from tests.integration.conftest import SippResult, run_sipp, sip_call_id, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_sigterm_drains_live_call_and_refuses_new_ones(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--grace", "20"])
    try:
        result: list[SippResult] = []
        live = threading.Thread(target=lambda: result.append(run_sipp(
            srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "3000"])))
        live.start()
        srv.wait_event("media_active")
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_event("draining")
        refused = run_sipp(srv.addr, "uac_expect_503.xml", number="+14155550101")
        assert refused.rc == 0, refused.output + refused.errors
        live.join(30)
        assert result and result[0].rc == 0, result[0].output if result else "no result"
        assert srv.proc.wait(30) == 0
        row = srv.call_row(sip_call_id(srv, result[0].call_id))
        assert row["status"] == "ended" and row["hangup_side"] == "caller"
        assert row["duration_s"] >= 2.9
        refused_row = srv.call_row(sip_call_id(srv, refused.call_id))
        assert refused_row["final_status"] == 503
    finally:
        srv.stop()


def test_grace_expiry_hangs_up_live_calls(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--grace", "1"])
    try:
        result: list[SippResult] = []
        live = threading.Thread(target=lambda: result.append(run_sipp(
            srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "20000"])))
        live.start()
        srv.wait_event("media_active")
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_event("grace_expired")
        assert srv.proc.wait(30) == 0
        live.join(40)
        row = srv.call_row(sip_call_id(srv, result[0].call_id))
        assert row["status"] == "ended" and row["hangup_side"] == "system"
    finally:
        srv.stop()
