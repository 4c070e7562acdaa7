"""Blind transfer by REFER end to end: the caller (SIPp) presses 1, the scripted agent
asks for a transfer, vio-sbc sends REFER to the caller's side and reports the
outcome from the NOTIFY sipfrag (or the REFER's rejection) to the call log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    PBX_TRUNK,
    Server,
    config_head,
    run_sipp,
    sip_call_id,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

CONFIG = config_head() + """\
agents:
  receptionist:
    kind: scripted
    greeting: "Hello."
    transfer_digit: "1"
    transfer_to: "+14155550999"
    transfer_say: "Transferring."
    transfer_failed: "The transfer failed. I am still here."
trunks:
""" + PBX_TRUNK + """\
numbers:
  "+14155550105": {{trunk: pbx}}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path, CONFIG)
    try:
        yield srv
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


def _events(server: Server, call_id: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["data"]) for e in server.events(call_id)]


def test_refer_accepted_and_completed_ends_our_leg(server: Server) -> None:
    """SIPp checks the REFER's Refer-To (the number at the trunk's address), answers
    202 and NOTIFY 'SIP/2.0 200 OK', and requires our BYE afterwards."""
    r = run_sipp(server.addr, "uac_refer_accept.xml", number="+14155550105")
    assert r.rc == 0, r.output + r.errors
    row = server.call_row(sip_call_id(server, r.call_id))
    assert row["transfer_outcome"] == "completed 200 OK"
    assert row["hangup_side"] == "transfer" and row["status"] == "ended"
    ev = _events(server, row["id"])
    assert ("transfer", "sip:+14155550999@127.0.0.2") in ev
    statuses = [d for k, d in ev if k == "transfer_status"]
    assert statuses[-1] == "200 OK"
    # the REFER went out after the agent's "Transferring." had played, not when it was
    # said: `say:agent` marks when a line was emitted (here "Hello." and "Transferring."
    # both at once: the caller pressed 1 during the greeting, no barge-in); the lines
    # play one after another, each for its transcript row's length (end_ms - start_ms)
    t = {(e["kind"], e["data"]): e["t_ms"] for e in server.events(row["id"])}
    assert ("barge_in", "") not in t
    with server.db() as c:
        lines = c.execute("SELECT text, start_ms, end_ms FROM transcript WHERE call_id = ? "
                          "AND speaker = 'agent' ORDER BY seq", (row["id"],)).fetchall()
    assert [x["text"] for x in lines] == ["Hello.", "Transferring."]
    played = 0
    for x in lines:
        assert x["end_ms"] - x["start_ms"] >= 300  # espeak-ng audio, not an empty line
        played = max(played, x["start_ms"]) + (x["end_ms"] - x["start_ms"])
    assert t[("transfer", "sip:+14155550999@127.0.0.2")] >= played, (t, played)
    out = server.wait_event("transfer_outcome", outcome="completed 200 OK")
    assert out["refer_to"] == "sip:+14155550999@127.0.0.2" and out["call_id"] == row["id"]


def test_refer_rejected_keeps_the_call_and_tells_the_agent(server: Server) -> None:
    """SIPp answers the REFER 501 and fails if we hang up; the agent says its
    transfer_failed line and the caller hangs up 4 s later."""
    r = run_sipp(server.addr, "uac_refer_reject.xml", number="+14155550105")
    assert r.rc == 0, r.output + r.errors
    row = server.call_row(sip_call_id(server, r.call_id))
    assert row["transfer_outcome"] == "failed 501 Not Implemented"
    assert row["hangup_side"] == "caller"
    ev = _events(server, row["id"])
    said = [d for k, d in ev if k == "say:agent"]
    assert said == ["Hello.", "Transferring.", "The transfer failed. I am still here."]
    kinds = [k for k, _ in ev]
    assert kinds.index("transfer") < len(kinds) - 1 - kinds[::-1].index("say:agent")


def test_refer_without_a_final_notify_times_out_and_the_agent_keeps_the_call(
        tmp_path: Path) -> None:
    """SIPp accepts the REFER (202) and sends NOTIFY 100 only: after
    sip.transfer_timeout_s (2 s) the transfer has failed 408, the agent says its
    transfer_failed line, and the call goes on until the caller hangs up."""
    srv = start_server(tmp_path, CONFIG.replace("rtp:\n", "  transfer_timeout_s: 2\nrtp:\n", 1))
    try:
        r = run_sipp(srv.addr, "uac_refer_no_final_notify.xml", number="+14155550105")
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        timeout = srv.wait_event("transfer_timeout", call_id=row["id"])
        ev = _events(srv, row["id"])
    finally:
        rc = srv.stop()
    assert rc == 0
    assert timeout["timeout_s"] == 2
    assert row["transfer_outcome"] == "failed 408 no final NOTIFY"
    assert row["hangup_side"] == "caller"
    assert [d for k, d in ev if k == "transfer_status"][-1] == "408 no final NOTIFY"
    assert ("say:agent", "The transfer failed. I am still here.") in ev
