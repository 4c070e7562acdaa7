"""Trunk registration against a SIPp registrar: 401 digest, refresh, attributes,
recovery after the registrar restarts; a password from an owner-only file re-read on
reload; a wrong password gets 403 and the slow retry; with `log.sip_trace` the digest
values are masked in every line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.conftest import (
    free_port,
    run_sipp,
    sip_call_id,
    start_server,
)
from tests.integration.trunk_harness import (
    PASSWORD,
    REGISTRAR_IP,
    cli,
    config_text,
    start_uas,
    trunk_password,  # noqa: F401 (autouse fixture)
    wait_after,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_registers_refreshes_attributes_and_recovers(tmp_path: Path) -> None:
    reg_port = free_port(REGISTRAR_IP)
    registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                          ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "6"])
    srv = start_server(tmp_path, config_text(reg_port=reg_port))
    try:
        n, first = wait_after(srv, 0, "trunk_registered", trunk="reg")
        assert first["expires_s"] == 6 and first["registrar_source"] == REGISTRAR_IP
        n, second = wait_after(srv, n, "trunk_registered", trunk="reg", timeout=10)
        assert 1.0 < second["t"] - first["t"] < 6.0  # refreshed before the 6 s expiry
        st = cli(srv, "status")
        assert st.returncode == 0, st.stderr
        assert "registered (6s" in st.stdout and "reg " in st.stdout
        # an INVITE from the registrar's address (in no inbound.allow) is the trunk's
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550120",
                     source=REGISTRAR_IP, extra=["-d", "500"])
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        assert (row["trunk"], row["status"], row["agent"]) == ("reg", "ended", "echo")
        # the registrar goes away: the next refresh fails and retries back off
        registrar.stop()
        n, failed = wait_after(srv, n, "trunk_registration_failed", trunk="reg", timeout=15)
        assert failed["code"] >= 400 and 0.25 <= failed["retry_in_s"] <= 0.5
        st = cli(srv, "status", "--json")
        assert '"status": "failing"' in st.stdout, st.stdout
        # a new registrar on the same port: the trunk registers again
        registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                              ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "6"])
        wait_after(srv, n, "trunk_registered", trunk="reg", timeout=20)
        assert "registered (6s" in cli(srv, "status").stdout
    finally:
        registrar.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_password_file_registers_and_a_reload_rereads_it(tmp_path: Path) -> None:
    """The trunk's digest password comes from an owner-only file; the SIPp registrar
    checks the digest. A wrong password in the file gets 403; the right one written
    to the file and a reload register the trunk. Neither value is ever logged."""
    pw = tmp_path / "reg.pw"
    pw.write_text("not-the-password\n")
    pw.chmod(0o600)
    reg_port = free_port(REGISTRAR_IP)
    registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                          ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "60"])
    srv = start_server(tmp_path, config_text(reg_port=reg_port,
                                             reg_secret="password_file: reg.pw"))
    try:
        n, failed = wait_after(srv, 0, "trunk_registration_failed", trunk="reg")
        assert failed["code"] == 403  # the registrar checked the digest of the file's value
        pw.write_text(PASSWORD + "\n")
        out = cli(srv, "reload")
        assert out.returncode == 0, out.stdout + out.stderr
        n, ok = wait_after(srv, n, "trunk_registered", trunk="reg")
        assert ok["expires_s"] == 60
        # a file that loosened its permissions: the reload is refused, the old config kept
        pw.chmod(0o644)
        out = cli(srv, "reload")
        assert out.returncode == 2
        assert (f"trunks.reg.outbound.password_file: secret file {pw} has mode 0644: "
                f"group/others may access it (chmod 600 {pw})") in out.stderr
        assert "registered" in cli(srv, "status").stdout
    finally:
        registrar.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
    log = "".join(srv.raw)
    assert PASSWORD not in log and "not-the-password" not in log
    assert "trunk_account_modified" in log  # the reload applied the new password


def test_wrong_password_gets_403_and_the_slow_retry(tmp_path: Path) -> None:
    reg_port = free_port(REGISTRAR_IP)
    registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                          ["-t", "t1", "-set", "pw", "not-the-password", "-set", "exp", "6"])
    srv = start_server(tmp_path, config_text(reg_port=reg_port))
    try:
        _, failed = wait_after(srv, 0, "trunk_registration_failed", trunk="reg")
        assert failed["code"] == 403
        assert failed["retry_in_s"] >= 450  # forbidden_retry_s 900 with jitter, not 0.5-1 s
        assert not any(e.get("event") == "trunk_registered" for e in srv.lines)
    finally:
        registrar.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_sip_trace_masks_digest_values(tmp_path: Path) -> None:
    """With `log.sip_trace` every message is logged, the registrar's challenge and our
    REGISTER with its Authorization included; their nonce and response values (enough
    for an offline dictionary attack on the password) are masked in every line. The
    challenge asks for qop=auth, so our answer carries a cnonce too."""
    reg_port = free_port(REGISTRAR_IP)
    registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                          ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "60",
                           "-set", "qop", ', qop="auth"'])  # qop: our answer has a cnonce
    srv = start_server(tmp_path, config_text(reg_port=reg_port)
                       + "log: {{level: debug, sip_trace: true, pjsip_level: 5}}\n")
    try:
        wait_after(srv, 0, "trunk_registered", trunk="reg")
    finally:
        registrar.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
    log = "".join(srv.raw)
    assert "Authorization: Digest" in log and "WWW-Authenticate: Digest" in log  # traced
    assert 'response=\\"***\\"' in log and 'nonce=\\"***\\"' in log
    assert 'cnonce=\\"***\\"' in log and 'qop=\\"auth\\"' in log
    leaked = re.findall(r'(?i)\b(c?nonce|response)=\\"(?!\*\*\*)', log)
    assert leaked == [], leaked
