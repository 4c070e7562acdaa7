"""What the trunk tests share (tests/integration/test_trunk_*.py, and test_calllog,
test_ops, test_status, test_rough_edges): the config with a registering trunk `reg`
(SIPp registrar on 127.0.0.3) and a Twilio-like trunk `tw` (SIPp termination on
127.0.0.4), SIPp UAS peers stopped by PID, bounded waits on the call log and the server
log. A test module that uses `config_text` imports the autouse fixture `trunk_password`
(or calls `use_trunk_password`)."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    PBX_TRUNK,
    SCENARIOS,
    STOCK_AGENTS,
    Server,
    config_head,
)

REGISTRAR_IP = "127.0.0.3"
TERM_IP = "127.0.0.4"
PASSWORD = "s3cret-pw"

CONFIG = config_head(max_calls=20) + STOCK_AGENTS + "trunks:\n" + PBX_TRUNK + """\
  reg:
    kind: byoc
    outbound: {{host: 127.0.0.3, port: @REG_PORT@, transport: tcp, username: vio-trunk,
               @REG_SECRET@, options_interval_s: 0}}
    register: {{enabled: @REGISTER@, expires: 6, retry_min_s: 0.5, retry_max_s: 1}}
  tw:
    kind: twilio
    inbound: {{allow: twilio}}
    outbound:
      host: 127.0.0.4
      port: @TERM_PORT@
      username: vio-term
      password: "${{VIO_TEST_TRUNK_PASSWORD}}"
      max_calls: 2
      cps: 5
      options_interval_s: 0
numbers:
  "+14155550100": {{trunk: pbx, direction: both, agent: echo}}
  "+14155550101": {{trunk: pbx, direction: inbound}}
  "+14155550120": {{trunk: reg, direction: inbound, agent: echo}}
  "+14155550130": {{trunk: tw, direction: @DIRECTION@}}
"""


def config_text(reg_port: int | None = None, term_port: int = 9,
                direction: str = "both", reg_secret: str | None = None) -> str:
    """The registering trunk `reg` registers only when `reg_port` is given. Passwords
    come from ${VIO_TEST_TRUNK_PASSWORD} (literals are refused), or `reg_secret` for
    the `reg` trunk (e.g. "password_file: reg.pw")."""
    return (CONFIG.replace("@REG_PORT@", str(reg_port or 9))
            .replace("@REGISTER@", "true" if reg_port else "false")
            .replace("@TERM_PORT@", str(term_port))
            .replace("@REG_SECRET@", reg_secret or 'password: "${{VIO_TEST_TRUNK_PASSWORD}}"')
            .replace("@DIRECTION@", direction))


def use_trunk_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the variable `config_text` refers to: the servers and CLI processes a test
    starts inherit it (tests of other modules using `config_text` call this too)."""
    monkeypatch.setenv("VIO_TEST_TRUNK_PASSWORD", PASSWORD)


@pytest.fixture(autouse=True)
def trunk_password(monkeypatch: pytest.MonkeyPatch) -> None:
    use_trunk_password(monkeypatch)


def sipp_bin() -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
    return path


@dataclass
class Peer:
    """A SIPp UAS started in the background, stopped by PID."""

    proc: subprocess.Popen[str]
    messages: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        return int(self.proc.wait(timeout))

    def output(self) -> str:
        out = self.proc.stdout.read() if self.proc.stdout and self.proc.poll() is not None else ""
        return out + (self.messages.read_text(errors="replace") if self.messages.exists() else "")


def start_uas(tmp: Path, scenario: str, ip: str, port: int, args: list[str]) -> Peer:
    tag = f"{scenario.split('.')[0]}-{time.monotonic_ns()}"
    messages = tmp / f"{tag}.msg"
    cmd = [sipp_bin(), "-sf", str(SCENARIOS / scenario), "-i", ip, "-p", str(port),
           "-nostdin", "-trace_msg", "-message_file", str(messages), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp)
    return Peer(proc, messages)


def final_row(db: Path, call_id: str, timeout: float = 10.0) -> sqlite3.Row:
    """The call-log row once its outcome is written (the log is written by a thread:
    bounded poll)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(str(db), timeout=10)
        conn.row_factory = sqlite3.Row
        with conn:
            row = conn.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        conn.close()
        if row is not None and row["status"] not in ("dialing", "ringing", "answered"):
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"call {call_id} has no final row: {dict(row or {})}")
        time.sleep(0.05)


def cli(srv: Server, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c", str(srv.config)],
                          capture_output=True, text=True, timeout=timeout, cwd=srv.config.parent)


def wait_after(srv: Server, start: int, event: str, timeout: float = 20.0,
               **match: Any) -> tuple[int, dict[str, Any]]:
    """The first `event` logged after log line `start` (bounded wait on the log)."""
    deadline = time.monotonic() + timeout
    i = start
    while True:
        while i < len(srv.lines):
            ev = srv.lines[i]
            i += 1
            if ev.get("event") == event and all(ev.get(k) == v for k, v in match.items()):
                return i, ev
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {event} {match} after line {start}: {srv.raw[-15:]}")
        if srv.proc.poll() is not None:
            raise RuntimeError(f"server exited: {srv.raw[-20:]}")
        time.sleep(0.05)


def digest_ok(messages: str, username: str, password: str) -> bool:
    """Recompute the RFC 2617 response of the Proxy-Authorization in SIPp's message log."""
    m = re.search(r"^Proxy-Authorization: Digest (.*)$", messages, re.M)
    assert m is not None, "no Proxy-Authorization in the INVITE"
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', m.group(1)))
    assert p["username"] == username and p["realm"] == "sip.twilio.com"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{username}:{p['realm']}:{password}")
    ha2 = md5(f"INVITE:{p['uri']}")
    return md5(f"{ha1}:{p['nonce']}:{ha2}") == p["response"]
