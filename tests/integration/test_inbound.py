"""Inbound calls from a trunk, end to end: SIPp -> vio-sbc (pjsua2) -> agent."""

from __future__ import annotations

import sqlite3

import pytest

from tests.integration.conftest import (
    STRANGER_IP,
    Server,
    run_sipp,
    sip_call_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _row(server: Server, prefix: str) -> sqlite3.Row:
    return server.call_row(sip_call_id(server, prefix))


def test_speech_and_dtmf_reach_the_agent(server: Server) -> None:
    """PCMA speech and RFC 4733 digit 1 from the caller reach the agent engine;
    the answer keeps the offer's codec order (PCMA first -> PCMA)."""
    r = run_sipp(server.addr, "uac_speech_dtmf.xml", number="+14155550100")
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert row["status"] == "ended"
    assert row["final_status"] == 200
    assert row["hangup_side"] == "caller"
    assert row["agent"] == "echo" and row["default_agent"] == 0
    assert row["codec"] == "PCMA/8000"
    assert row["trunk"] == "pbx" and row["number"] == "+14155550100"
    assert row["answered_at"] >= row["received_at"]
    # ~8 s of call: the bridge delivered 20 ms frames, and the VAD heard speech
    assert row["rx_frames"] > 300
    assert row["rx_voiced_frames"] > 50
    digits = [e["data"] for e in server.events(row["id"]) if e["kind"] == "dtmf"]
    assert digits == ["1"]
    # the echo agent played the caller's speech back: audio went out too
    assert row["tx_audio_frames"] > 50


def test_default_agent_answers_and_audio_reaches_caller(server: Server) -> None:
    """+14155550101 has no agent: the workspace default (scripted receptionist)
    answers with its greeting. SIPp echoes RTP back (-rtp_echo), so the server
    hearing voiced audio proves its greeting reached the caller."""
    r = run_sipp(server.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "4000"])
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert row["agent"] == "receptionist" and row["default_agent"] == 1
    assert row["codec"] == "PCMU/8000"
    assert row["tx_audio_frames"] > 50          # greeting frames sent
    assert row["rx_voiced_frames"] > 20         # ...and heard back through the caller
    said = [e["data"] for e in server.events(row["id"]) if e["kind"] == "say:agent"]
    assert said[0] == "Thanks for calling. How can I help?"


@pytest.mark.parametrize("dialled", ["14155550101", "4155550101"])
def test_number_normalisation_reaches_the_same_number(server: Server, dialled: str) -> None:
    r = run_sipp(server.addr, "uac_echo_audio.xml", number=dialled, extra=["-d", "300"])
    assert r.rc == 0, r.output + r.errors
    assert _row(server, r.call_id)["number"] == "+14155550101"


def test_stranger_gets_403_and_no_call_row(server: Server) -> None:
    r = run_sipp(server.addr, "uac_expect_403.xml", source=STRANGER_IP)
    assert r.rc == 0, r.output + r.errors
    server.wait_event("stranger_refused", source=STRANGER_IP)
    with server.db() as c:
        assert c.execute("SELECT count(*) FROM calls WHERE sip_call_id LIKE ?",
                         (r.call_id + "%",)).fetchone()[0] == 0


def test_unknown_number_gets_404_and_is_logged(server: Server) -> None:
    r = run_sipp(server.addr, "uac_expect_404.xml", number="+14155559876")
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert (row["status"], row["final_status"], row["trunk"]) == ("refused", 404, "pbx")
    assert row["answered_at"] is None


@pytest.mark.parametrize("number", ["+14155550102", "+14155550103"])
def test_outbound_only_or_other_trunk_gets_403(server: Server, number: str) -> None:
    r = run_sipp(server.addr, "uac_expect_403.xml", number=number)
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert (row["status"], row["final_status"]) == ("refused", 403)


def test_hold_and_resume_keep_the_call(server: Server) -> None:
    r = run_sipp(server.addr, "uac_hold_resume.xml", number="+14155550100")
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert row["status"] == "ended" and row["hangup_side"] == "caller"
    server.wait_event("call_held", call_id=row["id"])
    server.wait_event("call_resumed", call_id=row["id"])


def test_cancel_before_answer(server: Server) -> None:
    r = run_sipp(server.addr, "uac_cancel.xml", number="+14155550104")
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert row["status"] == "cancelled" and row["final_status"] == 487
    assert row["ringing_at"] is not None and row["answered_at"] is None


def test_options_answered_200(server: Server) -> None:
    r = run_sipp(server.addr, "uac_options.xml")
    assert r.rc == 0, r.output + r.errors


def test_tcp_call(server: Server) -> None:
    r = run_sipp(server.addr, "uac_echo_audio.xml", number="+14155550101", transport="t1",
                 extra=["-d", "1000"])
    assert r.rc == 0, r.output + r.errors
    row = _row(server, r.call_id)
    assert row["transport"] == "tcp" and row["status"] == "ended"
