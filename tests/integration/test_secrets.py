"""Configured secrets never reach the log stream or `check` output.

The server runs with SIP tracing on (every message logged) and a secret in a field
that goes on the wire (`sip.user_agent`), so the secret would be in the log if
redaction failed; another is a trunk's `outbound.password` (digest credentials)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    STRANGER_IP,
    run_sipp,
    sip_call_id,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_no_secret_in_any_log_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ua, password = f"ua-{secrets.token_hex(8)}", f"pw-{secrets.token_hex(8)}"
    monkeypatch.setenv("VIO_TEST_UA", ua)
    monkeypatch.setenv("VIO_TEST_PASSWORD", password)
    text = (BASE_CONFIG
            .replace("  max_calls: 50\n", '  max_calls: 50\n  user_agent: "${{VIO_TEST_UA}}"\n')
            .replace("    number_format: {{country_code: \"1\", national_length: 10}}\n",
                     "    number_format: {{country_code: \"1\", national_length: 10}}\n"
                     "    outbound: {{host: 127.0.0.5, username: pbx, "
                     "password: \"${{VIO_TEST_PASSWORD}}\"}}\n")
            + "log: {{level: debug, sip_trace: true, pjsip_level: 5}}\n")
    assert "VIO_TEST_PASSWORD" in text and "VIO_TEST_UA" in text
    srv = start_server(tmp_path, text)
    try:
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "500"])
        assert r.rc == 0, r.output + r.errors
        srv.call_row(sip_call_id(srv, r.call_id))
        r = run_sipp(srv.addr, "uac_expect_403.xml", source=STRANGER_IP)
        assert r.rc == 0, r.output + r.errors
        r = run_sipp(srv.addr, "uac_options.xml")  # the 200 carries User-Agent
        assert r.rc == 0, r.output + r.errors
    finally:
        assert srv.stop() == 0
    output = "".join(srv.raw)  # stdout and stderr of the whole run
    assert len(srv.raw) > 100  # SIP trace was on: the messages are in there
    assert ua not in output and password not in output
    # the traced responses carried the User-Agent: it was there to leak, and was redacted
    assert "User-Agent: ***" in output


def test_check_output_never_shows_a_secret(tmp_path: Path) -> None:
    secret = f"pw-{secrets.token_hex(8)}"
    cfg = tmp_path / "vio.yaml"
    cfg.write_text('trunks:\n  t:\n    kind: byoc\n    inbound: {allow: ["${VIO_PW}"]}\n'
                   '    outbound: {host: 127.0.0.5, username: u, password: "${VIO_PW}"}\n')
    out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "check", "-c", str(cfg)],
                         capture_output=True, text=True, timeout=30,
                         env={"VIO_PW": secret, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert secret not in out.stdout + out.stderr
    assert "invalid network '***'" in out.stderr
