"""`vio-sbc connect` against the real server: the trunk file is written under the
config's include, checked, the running server reloaded, the trunk's OPTIONS health
read back from it (a SIPp peer answering OPTIONS plays the PBX), and the test call goes
out through the new trunk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, Server, free_port, start_server
from tests.integration.trunk_harness import TERM_IP, start_uas

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def connect(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", "connect", *args, "-c",
                           str(srv.config), "--yes"], capture_output=True, text=True,
                          timeout=90, cwd=srv.config.parent, stdin=subprocess.DEVNULL)


def test_connect_pbx_writes_reloads_and_sees_options_answered(tmp_path: Path) -> None:
    port = free_port(TERM_IP)
    peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, port, [])
    srv = start_server(tmp_path, BASE_CONFIG + "include: [trunks/*.yaml]\n")
    try:
        out = connect(srv, "pbx", "--name", "office", "--host", TERM_IP, "--port", str(port),
                      "--number", "+1 (415) 555-0160", "--agent", "echo", "--wait", "20")
        assert out.returncode == 0, out.stdout + out.stderr
        written = srv.config.parent / "trunks" / "office.yaml"
        assert f"wrote {written.relative_to(srv.config.parent)} (trunk office)" in out.stdout \
            or f"wrote {written} (trunk office)" in out.stdout, out.stdout
        assert '"+14155550160": {trunk: "office", direction: both, agent: "echo"}' in \
            written.read_text()
        assert "FreePBX > Connectivity > Trunks" in out.stdout
        assert "reloaded the running server" in out.stdout
        assert "  OPTIONS: up" in out.stdout, out.stdout
        numbers = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "numbers", "-c",
                                  str(srv.config)], capture_output=True, text=True, timeout=30)
        assert "+14155550160  office" in numbers.stdout
        again = connect(srv, "pbx", "--name", "office", "--host", TERM_IP,
                        "--number", "+14155550161")
        assert again.returncode == 2 and "exists already" in again.stderr
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_connect_twilio_says_when_the_trunk_does_not_answer(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.delenv("TWILIO_SIP_PASSWORD", raising=False)
    srv = start_server(tmp_path, BASE_CONFIG + "include: [trunks/*.yaml]\n")
    try:
        # nothing listens there (IP ACL only: no password): OPTIONS gets no answer
        out = connect(srv, "twilio", "--termination", f"{TERM_IP}", "--number",
                      "+14155550170", "--wait", "3")
        assert out.returncode == 1, out.stdout + out.stderr
        assert "  OPTIONS: unknown (no OPTIONS answer yet)" in out.stdout, out.stdout
        assert "an IP Access Control List with 127.0.0.1" in out.stdout
        assert "Origination: add the Origination SIP URI sip:127.0.0.1:" in out.stdout
        assert "is not reachable from the carrier" in out.stdout
    finally:
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_connect_pbx_offers_a_test_call_through_the_new_trunk(tmp_path: Path) -> None:
    port = free_port(TERM_IP)
    peer = start_uas(tmp_path, "uas_options_busy.xml", TERM_IP, port, [])
    srv = start_server(tmp_path, BASE_CONFIG + "include: [trunks/*.yaml]\n")
    try:
        out = connect(srv, "pbx", "--name", "office", "--host", TERM_IP, "--port", str(port),
                      "--number", "+14155550190", "--test-call", "+14155559000",
                      "--wait", "20")
        assert "  OPTIONS: up" in out.stdout, out.stdout + out.stderr
        assert "test call: +14155550190 -> +14155559000" in out.stdout
        assert ": busy (486 " in out.stdout, out.stdout + out.stderr
        assert out.returncode == 1  # written and answering, but the call was not answered
        call_id = out.stdout.split("test call: ", 1)[1].split("call ", 1)[1].split(":")[0]
        with srv.db() as c:
            row = c.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        assert (row["direction"], row["trunk"], row["status"]) == ("outbound", "office",
                                                                   "busy")
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
