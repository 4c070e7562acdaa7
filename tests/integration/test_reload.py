"""`vio-sbc reload` against the running server: the summary lists every change it
applied (a trunk's inbound.allow too, which no trunk account reflects), and the
change is live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import Server, run_sipp, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
NEW_SOURCE = "127.0.0.5"


def reload(srv: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", "reload", "-c", str(srv.config)],
                          capture_output=True, text=True, timeout=60, cwd=srv.config.parent)


def test_reload_summary_lists_the_inbound_allow_change(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        before = run_sipp(srv.addr, "uac_options.xml", source=NEW_SOURCE, timeout=15)
        assert before.rc != 0  # a stranger: refused
        assert reload(srv).stdout.splitlines() == ["reloaded (no changes)"]
        text = srv.config.read_text()
        srv.config.write_text(text.replace(
            "      allow: [127.0.0.2/32]\n",
            f"      allow: [127.0.0.2/32, {NEW_SOURCE}/32]\n", 1)
            .replace("max_calls: 50", "max_calls: 60"))
        assert srv.config.read_text() != text
        out = reload(srv)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            "reloaded: 1 change applied",
            f"  trunks.pbx.inbound.allow: +{NEW_SOURCE}/32",
            "not applied, restart required (running values kept): 1",
            "  sip.max_calls: 50 -> 60",
        ]
        ev = srv.wait_event("config_reloaded", applied=[f"trunks.pbx.inbound.allow: "
                                                       f"+{NEW_SOURCE}/32"])
        assert ev["restart_required"] == ["sip.max_calls: 50 -> 60"]
        srv.wait_event("sip_guard_allow_changed", added=[f"{NEW_SOURCE}/32"])
        after = run_sipp(srv.addr, "uac_options.xml", source=NEW_SOURCE, timeout=15)
        assert after.rc == 0, after.output + after.errors
    finally:
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
