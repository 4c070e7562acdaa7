"""A number's own `max_calls`: at the cap the next SIPp INVITE is refused (486 by
default, 503 + Retry-After when configured); once a call ends the number takes calls
again. Other numbers are not affected."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.integration.conftest import (
    PBX_TRUNK,
    SippResult,
    config_head,
    run_sipp,
    sip_call_id,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CONFIG = config_head(max_calls=50) + """\
workspace: {{default_agent: echo}}
agents:
  echo: {{kind: echo}}
trunks:
""" + PBX_TRUNK + """\
numbers:
  "+14155550100": {{trunk: pbx, max_calls: 1}}
  "+14155550101": {{trunk: pbx, max_calls: 1, max_calls_status: 503}}
  "+14155550102": {{trunk: pbx}}
"""


def _hold(addr: str, number: str, out: list[SippResult]) -> threading.Thread:
    t = threading.Thread(target=lambda: out.append(run_sipp(
        addr, "uac_echo_audio.xml", number=number, extra=["-rtp_echo", "-d", "5000"])))
    t.start()
    return t


def test_number_at_its_cap_refuses_the_next_invite(tmp_path: Path) -> None:
    srv = start_server(tmp_path, CONFIG)
    try:
        held: list[SippResult] = []
        threads = [_hold(srv.addr, "+14155550100", held), _hold(srv.addr, "+14155550101", held)]
        srv.wait_event("media_active", number="+14155550100")
        srv.wait_event("media_active", number="+14155550101")
        busy = run_sipp(srv.addr, "uac_expect_486.xml", number="+14155550100")
        assert busy.rc == 0, busy.output + busy.errors
        unavailable = run_sipp(srv.addr, "uac_expect_503.xml", number="+14155550101")
        assert unavailable.rc == 0, unavailable.output + unavailable.errors
        other = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550102",
                         extra=["-rtp_echo", "-d", "500"])
        assert other.rc == 0, other.output + other.errors  # no cap on that number
        for t in threads:
            t.join(40)
        assert len(held) == 2 and all(r.rc == 0 for r in held), [r.output for r in held]
        again = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550100",
                         extra=["-rtp_echo", "-d", "500"])
        assert again.rc == 0, again.output + again.errors  # the held call ended: room again
        busy_row = srv.call_row(sip_call_id(srv, busy.call_id))
        unavailable_row = srv.call_row(sip_call_id(srv, unavailable.call_id))
        refused = [e for e in srv.lines if e.get("event") == "call_refused"]
    finally:
        rc = srv.stop()
    assert rc == 0
    assert (busy_row["status"], busy_row["final_status"]) == ("refused", 486)
    assert unavailable_row["final_status"] == 503
    assert sorted((e["status"], e["detail"]) for e in refused) == [
        (486, "number +14155550100 at max_calls (1)"),
        (503, "number +14155550101 at max_calls (1)"),
    ]
