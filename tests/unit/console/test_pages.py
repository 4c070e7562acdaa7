"""The console's pages render what they are given (pure): the workspace default marked,
the other party of an outbound call, trunk health states, campaign progress, escaping."""

from __future__ import annotations

from vio_sbc.config import parse_config_text
from vio_sbc.console.pages import live_fragment, numbers_page

CFG = parse_config_text("""
agents:
  receptionist: {kind: echo}
  sales: {kind: echo}
trunks:
  pbx: {kind: byoc}
numbers:
  "+14155550100": {trunk: pbx, direction: both, agent: sales}
  "+14155550101": {trunk: pbx, direction: inbound}
""", "vio.yaml")


def test_numbers_page_marks_the_workspace_default() -> None:
    html = numbers_page(CFG, "saved <x>").decode()
    assert 'id="num-14155550101"' in html
    row = html[html.index('id="num-14155550101"'):html.index("</tr>",
                                                            html.index('id="num-14155550101"'))]
    assert "receptionist <span class=\"muted\">(workspace default)</span>" in row
    assert '<option value="" selected>workspace default (receptionist)</option>' in row
    assert '<option value="inbound" selected>inbound</option>' in row
    assert "saved &lt;x&gt;" in html and "saved <x>" not in html  # escaped


def test_live_fragment() -> None:
    status = {"live_calls": 1, "draining": False, "calls": [
        {"id": "0123456789", "direction": "outbound", "number": "+14155550100",
         "caller": "+14155550100", "callee": "+14155551234", "agent": "sales", "trunk": "pbx",
         "state": "active", "age_s": 4.2}],
        "trunks": [{"trunk": "pbx", "kind": "byoc", "outbound": "127.0.0.5:5060/udp",
                    "registration": None, "live_calls": 1,
                    "health": {"up": True, "checked": False, "last_status": 0}},
                   {"trunk": "tw", "kind": "twilio", "outbound": None, "registration": None,
                    "live_calls": 0, "health": {"up": False, "checked": True,
                                                "last_status": 408}}]}
    dialer = {"waiting": 3, "callbacks": 1, "campaigns": [
        {"name": "spring", "status": "active", "from_number": "+14155550100", "total": 4,
         "done": 1, "waiting": 3, "dialing": 0}]}
    html = live_fragment(status, dialer, 0.0)
    assert "<td>+14155551234</td>" in html  # whom the outbound call is to
    assert '<span class="warn">unknown (no OPTIONS answer yet)</span>' in html
    assert '<span class="bad">down (last 408)</span>' in html
    assert '<i style="width:25%"></i></span> 1/4 (25%)' in html
    assert "queue: 3 waiting, 1 single call(s)" in html
    assert "the dialer is off" in live_fragment(status, None, 0.0)
    assert "does not answer" in live_fragment(None, None, 0.0)
