"""Reloading trunks while the server runs: a number's direction switched while an
inbound call stays up, an invalid file on SIGHUP keeps the old config, a changed trunk
re-registers and a removed one goes after its call."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import (
    SCENARIOS,
    free_port,
    free_rtp_range,
    sip_call_id,
    start_server,
)
from tests.integration.trunk_harness import (
    PASSWORD,
    REGISTRAR_IP,
    TERM_IP,
    cli,
    config_text,
    sipp_bin,
    start_uas,
    trunk_password,  # noqa: F401 (autouse fixture)
    wait_after,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_direction_switch_by_reload_while_an_inbound_call_lives(tmp_path: Path) -> None:
    term_port = free_port(TERM_IP)
    srv = start_server(tmp_path, config_text(term_port=term_port, direction="inbound"))
    media = free_rtp_range(TERM_IP, 4)[0]
    term = start_uas(tmp_path, "uas_twilio_407.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-rtp_echo", "-m", "1", "-d", "1000",
                      "-set", "from", "+14155550130"])
    inbound: subprocess.Popen[str] | None = None
    try:
        # inbound-only number: refused up front, nothing reaches the termination
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 3, out.stdout + out.stderr
        assert "403" in out.stderr and "inbound-only" in out.stderr
        assert term.proc.poll() is None
        assert "INVITE" not in (term.messages.read_text() if term.messages.exists() else "")
        # a live inbound call across the reload (SIPp holds it 8 s, echoing our audio)
        tag = f"reload-{time.monotonic_ns()}"
        inbound = subprocess.Popen(
            [sipp_bin(), srv.addr, "-sf", str(SCENARIOS / "uac_echo_audio.xml"),
             "-s", "+14155550101", "-i", "127.0.0.2", "-p", str(free_port("127.0.0.2")),
             "-mi", "127.0.0.2", "-mp", str(free_rtp_range("127.0.0.2", 4)[0]), "-m", "1",
             "-nostdin", "-d", "8000", "-rtp_echo", "-cid_str", f"{tag}-%u-%p@%s"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        srv.wait_event("call_answered", timeout=15)
        # a broken edit is refused with every error, the old config stays
        srv.config.write_text(srv.config.read_text().replace(
            'direction: inbound}', 'direction: sideways}').replace("max_calls: 20", "max_calls: 0"))
        bad = cli(srv, "reload")
        assert bad.returncode == 2
        errs = bad.stderr.splitlines()
        assert any("sip.max_calls: must be at least 1, got 0" in e for e in errs), bad.stderr
        assert any("direction: invalid value 'sideways'" in e for e in errs), bad.stderr
        # the fixed edit switches the number to both
        srv.config.write_text(srv.config.read_text().replace("sideways", "both")
                              .replace("max_calls: 0", "max_calls: 20"))
        ok = cli(srv, "reload")
        assert ok.returncode == 0, ok.stderr
        assert "+14155550130" in ok.stdout
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 0, out.stdout + out.stderr + term.output()
        assert term.wait(20) == 0, term.output()
        rc = inbound.wait(40)
        assert rc == 0, inbound.stdout.read() if inbound.stdout else ""
        row = srv.call_row(sip_call_id(srv, tag))
        assert (row["status"], row["hangup_side"], row["final_status"]) == ("ended", "caller", 200)
        assert row["duration_s"] > 7.5
        assert row["rx_frames"] > 350 and row["tx_audio_frames"] > 100
        assert row["rx_voiced_frames"] > 50  # the echo agent's audio came back throughout
        srv.wait_event("config_reloaded")
    finally:
        term.stop()
        if inbound is not None and inbound.poll() is None:
            inbound.kill()
            inbound.wait(10)
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_sighup_reload_with_an_invalid_file_keeps_running(tmp_path: Path) -> None:
    srv = start_server(tmp_path, config_text())
    try:
        srv.config.write_text(srv.config.read_text().replace("kind: twilio", "kind: carrier"))
        srv.proc.send_signal(1)  # SIGHUP
        ev = srv.wait_event("reload_failed", trigger="SIGHUP")
        assert any("trunks.tw.kind: invalid value 'carrier'" in e for e in ev["errors"])
        st = cli(srv, "status")
        assert st.returncode == 0 and "tw " in st.stdout
    finally:
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_reload_reregisters_a_changed_trunk_and_removes_one_after_its_call(
        tmp_path: Path) -> None:
    reg_port = free_port(REGISTRAR_IP)
    registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                          ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "30"])
    srv = start_server(tmp_path, config_text(reg_port=reg_port).replace("expires: 6",
                                                                          "expires: 30"))
    call: subprocess.Popen[str] | None = None
    try:
        n, _ = wait_after(srv, 0, "trunk_registered", trunk="reg")
        # a changed registration re-registers (the registrar grants what it grants: 30)
        srv.config.write_text(srv.config.read_text().replace("expires: 30", "expires: 20"))
        ok = cli(srv, "reload")
        assert ok.returncode == 0 and "trunks.reg.register.expires: 30 -> 20" in ok.stdout
        assert "trunk accounts: changed reg" in ok.stdout, ok.stdout + ok.stderr
        n, _ = wait_after(srv, n, "trunk_registered", trunk="reg")
        # a call over the registered trunk is live while the trunk is removed
        tag = f"rm-{time.monotonic_ns()}"
        call = subprocess.Popen(
            [sipp_bin(), srv.addr, "-sf", str(SCENARIOS / "uac_echo_audio.xml"),
             "-s", "+14155550120", "-i", REGISTRAR_IP, "-p", str(free_port(REGISTRAR_IP)),
             "-mi", REGISTRAR_IP, "-mp", str(free_rtp_range(REGISTRAR_IP, 4)[0]), "-m", "1",
             "-nostdin", "-d", "4000", "-cid_str", f"{tag}-%u-%p@%s"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        n, _ = wait_after(srv, n, "call_answered", trunk="reg")
        text = srv.config.read_text()
        start, end = text.index("  reg:\n"), text.index("  tw:\n")
        srv.config.write_text((text[:start] + text[end:]).replace(
            '  "+14155550120": {trunk: reg, direction: inbound, agent: echo}\n', ""))
        ok = cli(srv, "reload")
        assert ok.returncode == 0 and "trunks.reg (removed)" in ok.stdout, ok.stdout + ok.stderr
        assert "trunk accounts: removed reg" in ok.stdout
        assert "numbers.+14155550120 (removed)" in ok.stdout
        n, retiring = wait_after(srv, n, "trunk_retiring", trunk="reg")
        assert retiring["live_calls"] == 1
        assert call.poll() is None  # the call is still up: the account stays for it
        assert not any(e.get("event") == "trunk_removed" for e in srv.lines)
        assert call.wait(30) == 0, call.stdout.read() if call.stdout else ""
        row = srv.call_row(sip_call_id(srv, tag))
        assert (row["trunk"], row["status"], row["hangup_side"]) == ("reg", "ended", "caller")
        assert row["duration_s"] > 3.5
        wait_after(srv, n, "trunk_removed", trunk="reg")
        # removing the account unregistered it (a REGISTER with expiry 0)
        deadline = time.monotonic() + 10
        while not re.search(r"^Expires: 0\s*$", registrar.messages.read_text(), re.M):
            assert time.monotonic() < deadline, "no un-REGISTER reached the registrar"
            time.sleep(0.1)
    finally:
        registrar.stop()
        if call is not None and call.poll() is None:
            call.kill()
            call.wait(10)
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
