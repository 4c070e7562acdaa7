"""No call exists that the softswitch did not create (vio_sbc/sip/trust.py:ForeignCalls).

The server gives pjsua no way to place a leg of its own (the dialog trust patch and
the pjsua2 second lines refuse REFER and Replaces: tests/integration/test_dialog_trust.py),
so the sweep that would end such a leg is driven here on a real pjsua2 endpoint
(tests/integration/foreign_leg.py, its own process) against a real SIPp callee: one
call placed through a pjsua2 Call (the application's), one through pjsua's C API with
no Call object — the shape of the leg pjsua places for a far-end REFER. The sweep
hangs up that one only, logs it, and the callee gets a BYE for it while the
application's call stays up until its own BYE.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SCENARIOS, free_port, free_rtp_range

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
HELPER = Path(__file__).with_name("foreign_leg.py")
FAR = "127.0.0.3"


def test_a_leg_without_our_call_object_is_hung_up_ours_is_not(tmp_path: Path) -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
    (tmp_path / "pcap").symlink_to(SCENARIOS / "pcap")
    port = free_port(FAR)
    messages = tmp_path / "uas.msg"
    uas = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / "uas_answer_audio.xml"), "-i", FAR, "-p", str(port),
         "-mi", FAR, "-mp", str(free_rtp_range(FAR, 8)[0]), "-m", "2", "-nostdin",
         "-timeout", "40s", "-timeout_error", "-trace_msg", "-message_file", str(messages)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        rtp = str(free_rtp_range("127.0.0.1", 20)[0])
        r = subprocess.run([sys.executable, str(HELPER), f"sip:+14155550100@{FAR}:{port}",
                            "--rtp-port", rtp], capture_output=True, text=True, timeout=60)
        lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
        ev: dict[str, dict[str, Any]] = {e["event"]: e for e in lines}
        assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
        placed = ev["placed"]
        assert placed["status"] == 0 and placed["foreign"] >= 0
        assert ev["answered"] == {"event": "answered", "both": True, "count": 2}
        # the sweep ends the leg with no Call object, and only that one
        assert ev["swept"]["ids"] == [placed["foreign"]] and ev["swept"]["again"] == []
        logged = ev["foreign_call_hung_up"]
        assert logged["pj_call"] == placed["foreign"] and logged["level"] == "error"
        assert ev["after_sweep"]["count"] == 1 and ev["after_sweep"]["ours_up"] is True
        assert ev["done"]["ours_ended"] is True
        # the callee answered two calls and got a BYE for each (its scenario ends on BYE)
        assert uas.wait(30) == 0
        text = messages.read_text(errors="replace")
        assert text.count("BYE sip:") == 2, text[-3000:]
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait(5)
