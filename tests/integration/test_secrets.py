"""Configured secrets never reach the log stream or `check` output.

The server runs with SIP tracing on (every message logged) and a secret in a field
that goes on the wire (`sip.user_agent`), so the secret would be in the log if
redaction failed; another is a trunk's `outbound.password` (digest credentials: a
password itself never goes on the wire, so the test makes the server use it — a
`call-out` through that trunk to a SIPp termination that challenges with 407 — and
checks that the traced answer carries a masked digest and the password is in no line:
not in pjsip's credential handling, not in a config dump). Two
more come from owner-only files: a trunk's `password_file` and the summary provider's
`api_key_file`, whose provider rejects the key and quotes it back in its error (as
real providers do), so it would be in the `summary_failed` line if redaction failed."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    STRANGER_IP,
    free_port,
    free_rtp_range,
    run_sipp,
    sip_call_id,
    start_server,
)
from tests.integration.trunk_harness import cli, start_uas

PBX_OUT = "127.0.0.5"  # trunk pbx's outbound host: a SIPp termination asking for a digest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


class _RejectingProvider(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses the key and quotes it back."""

    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        key = str(self.headers.get("Authorization")).removeprefix("Bearer ")
        _RejectingProvider.seen.append(key)
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _owner_only(path: Path, value: str) -> str:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path.name


def test_no_secret_in_any_log_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ua, password = f"ua-{secrets.token_hex(8)}", f"pw-{secrets.token_hex(8)}"
    file_pw, file_key = f"fpw-{secrets.token_hex(8)}", f"sk-{secrets.token_hex(12)}"
    monkeypatch.setenv("VIO_TEST_UA", ua)
    monkeypatch.setenv("VIO_TEST_PASSWORD", password)
    http = ThreadingHTTPServer(("127.0.0.1", 0), _RejectingProvider)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    _RejectingProvider.seen = []
    term_port = free_port(PBX_OUT)
    term = start_uas(tmp_path, "uas_twilio_407.xml", PBX_OUT, term_port,
                     ["-mi", PBX_OUT, "-mp", str(free_rtp_range(PBX_OUT, 4)[0]), "-m", "1",
                      "-d", "1000", "-set", "from", "+14155550102"])
    text = (BASE_CONFIG
            .replace("  max_calls: 50\n", '  max_calls: 50\n  user_agent: "${{VIO_TEST_UA}}"\n')
            .replace("    number_format: {{country_code: \"1\", national_length: 10}}\n",
                     "    number_format: {{country_code: \"1\", national_length: 10}}\n"
                     f"    outbound: {{{{host: {PBX_OUT}, port: {term_port}, username: vio-term, "
                     "password: \"${{VIO_TEST_PASSWORD}}\", options_interval_s: 0}}\n")
            .replace("      allow: [127.0.0.3/32]\n",
                     "      allow: [127.0.0.3/32]\n"
                     "    outbound: {{host: 127.0.0.6, username: other, password_file: "
                     f"{_owner_only(tmp_path / 'other.pw', file_pw)}, options_interval_s: 0}}}}\n")
            + "log: {{level: debug, sip_trace: true, pjsip_level: 5}}\n"
            + f"summary: {{{{provider: openai, url: 'http://127.0.0.1:{http.server_port}/v1', "
            f"model: m, api_key_file: {_owner_only(tmp_path / 'openai.key', file_key)}}}}}\n")
    assert "VIO_TEST_PASSWORD" in text and "VIO_TEST_UA" in text
    assert "password_file: other.pw" in text and "api_key_file: openai.key" in text
    srv = start_server(tmp_path, text)
    try:
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "500"])
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        failed = srv.wait_event("summary_failed", call_id=row["id"])
        r = run_sipp(srv.addr, "uac_expect_403.xml", source=STRANGER_IP)
        assert r.rc == 0, r.output + r.errors
        r = run_sipp(srv.addr, "uac_options.xml")  # the 200 carries User-Agent
        assert r.rc == 0, r.output + r.errors
        # the pbx trunk's password in use: 407, then our INVITE with Proxy-Authorization
        out = cli(srv, "call-out", "--from", "+14155550102", "--to", "+14155559000",
                  "--agent", "echo", "--timeout", "30")  # the termination hangs up after 1 s
        assert ": answered (200 " in out.stdout, out.stdout + out.stderr + term.output()
        assert term.wait(20) == 0, term.output()
    finally:
        term.stop()
        rc = srv.stop()
        http.shutdown()
    assert rc == 0, srv.raw[-20:]
    output = "".join(srv.raw)  # stdout and stderr of the whole run
    assert len(srv.raw) > 100  # SIP trace was on: the messages are in there
    for secret in (ua, password, file_pw, file_key):
        assert secret not in output
    # the traced responses carried the User-Agent: it was there to leak, and was redacted
    assert "User-Agent: ***" in output
    # the password was used: the traced INVITE has a digest answer, its values masked
    assert "Proxy-Authorization: Digest username=\\\"vio-term\\\"" in output
    assert 'response=\\"***\\"' in output
    # the file's key was sent, quoted back by the provider, and redacted in the log line...
    assert _RejectingProvider.seen == [file_key] * 2  # the inbound and the outbound call
    assert "Incorrect API key provided: ***" in failed["error"]
    # ...and in the call log
    with srv.db() as c:
        error = c.execute("SELECT summary_error FROM calls WHERE id = ?",
                          (row["id"],)).fetchone()[0]
    assert "HTTP 401" in error and file_key not in error


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


def test_check_never_shows_a_secret_read_from_a_file(tmp_path: Path) -> None:
    """A file's secret that also lands where an error or a warning quotes a value."""
    secret = f"pw-{secrets.token_hex(8)}"
    _owner_only(tmp_path / "t.pw", secret)
    cfg = tmp_path / "vio.yaml"
    cfg.write_text("trunks:\n  t:\n    kind: byoc\n"
                   "    outbound: {host: 127.0.0.5, username: u, password_file: t.pw}\n"
                   f"  tw:\n    kind: twilio\n    outbound: {{host: {secret}}}\n")
    check = [sys.executable, "-m", "vio_sbc.cli", "check", "-c", str(cfg)]
    out = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr  # valid: the twilio host is only warned about
    assert secret not in out.stdout + out.stderr
    assert "trunks.tw.outbound.host: '***' is not a Twilio termination host" in out.stderr
    # a literal password is refused, and not quoted
    cfg.write_text("trunks:\n  t:\n    kind: byoc\n"
                   f"    outbound: {{host: 127.0.0.5, username: u, password: {secret}}}\n")
    out = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and secret not in out.stdout + out.stderr
    assert "trunks.t.outbound.password: a secret must not be written in the config" in out.stderr
