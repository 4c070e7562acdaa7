"""Trunks end to end: registration against a SIPp registrar (401 digest, refresh,
recovery), outbound calls through a Twilio-like SIPp termination (407 digest, From
and P-Asserted-Identity in E.164, audio both ways), refusal without an INVITE,
and a reload that switches a number's direction while an inbound call stays up."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
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
    free_port,
    free_rtp_range,
    run_sipp,
    sip_call_id,
    start_server,
)
from vio_sbc import control

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

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


@pytest.fixture
def trunk_server(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    term_port = free_port(TERM_IP)
    srv = start_server(tmp_path, config_text(term_port=term_port))
    try:
        yield srv, term_port, tmp_path
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


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


@pytest.mark.parametrize("caller_id", [None, "+14155550199"])
def test_outbound_through_407_termination_with_audio(tmp_path: Path,
                                                     caller_id: str | None) -> None:
    """caller_id unset: From/PAI carry the calling number; set: the trunk's fixed one."""
    term_port = free_port(TERM_IP)
    text = config_text(term_port=term_port)
    if caller_id:
        text = text.replace("      cps: 5\n", f'      cps: 5\n      caller_id: "{caller_id}"\n')
    srv = start_server(tmp_path, text)
    media = free_rtp_range(TERM_IP, 4)[0]
    term = start_uas(tmp_path, "uas_twilio_407.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-rtp_echo", "-m", "1", "-d", "4000",
                      "-set", "from", caller_id or "+14155550130"])
    try:
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 0, out.stdout + out.stderr + term.output()
        assert ": answered (200 " in out.stdout
        assert term.wait(20) == 0, term.output()
    finally:
        term.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
    call_id = out.stdout.split()[1].rstrip(":")
    row = final_row(srv.dir / "vio.db", call_id)
    assert row["direction"] == "outbound" and row["status"] == "ended"
    assert (row["trunk"], row["number"], row["callee"]) == ("tw", "+14155550130", "+14155559000")
    assert row["final_status"] == 200 and row["hangup_side"] == "callee"
    assert row["codec"] == "PCMU/8000" and row["duration_s"] > 3.0
    assert row["tx_audio_frames"] > 50      # the greeting went out...
    assert row["rx_voiced_frames"] > 20     # ...and came back through the far end
    messages = term.messages.read_text(errors="replace")
    assert f"P-Asserted-Identity: <sip:{caller_id or '+14155550130'}@" in messages
    assert digest_ok(messages, "vio-term", PASSWORD)
    assert PASSWORD not in "".join(srv.raw)  # never logged


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


def test_options_health_marks_the_trunk_down_and_up(tmp_path: Path) -> None:
    term_port = free_port(TERM_IP)
    text = config_text(term_port=term_port).replace(
        "cps: 5\n      options_interval_s: 0",
        "cps: 5\n      options_interval_s: 0.5\n      options_timeout_s: 0.5\n"
        "      options_down_after: 2")
    peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, term_port, [])
    srv = start_server(tmp_path, text)
    try:
        deadline = time.monotonic() + 15
        while '"last_status": 200' not in cli(srv, "status", "--json").stdout:
            assert time.monotonic() < deadline, "no answered OPTIONS ping"
            time.sleep(0.2)
        n = len(srv.lines)
        peer.stop()
        n, down = wait_after(srv, n, "trunk_down", trunk="tw", timeout=15)
        assert down["last_status"] == 408 and down["failures"] == 2
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
        assert out.returncode == 3 and "is down (OPTIONS unanswered)" in out.stderr, out.stderr
        assert "down (last 408)" in cli(srv, "status").stdout
        peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, term_port, [])
        _, up = wait_after(srv, n, "trunk_up", trunk="tw", timeout=15)
        assert up["last_status"] == 200
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


@pytest.mark.parametrize(("scenario", "outcome", "status"), [
    ("uas_busy.xml", "busy", 486), ("uas_ring_no_answer.xml", "no_answer", 487),
])
def test_standalone_call_out_reports_failures(tmp_path: Path, scenario: str, outcome: str,
                                              status: int) -> None:
    """No server runs on this config: `call-out` runs its own endpoint for the call."""
    term_port = free_port(TERM_IP)
    rtp_min, rtp_max = free_rtp_range()
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(config_text(term_port=term_port).format(
        port=free_port(), rtp_min=rtp_min, rtp_max=rtp_max, dir=tmp_path / "var",
        trunk_ip="127.0.0.2"))
    peer = start_uas(tmp_path, scenario, TERM_IP, term_port, ["-m", "1"])
    try:
        out = subprocess.run(
            [sys.executable, "-m", "vio_sbc.cli", "call-out", "-c", str(cfg), "--from",
             "+14155550130", "--to", "+14155559000", "--ring-timeout", "1.5"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f": {outcome} ({status} " in out.stdout, out.stdout
        assert peer.wait(20) == 0, peer.output()
    finally:
        peer.stop()
    call_id = out.stdout.split()[1].rstrip(":")
    row = final_row(tmp_path / "var" / "vio.db", call_id)
    assert (row["direction"], row["status"], row["final_status"]) == ("outbound", outcome, status)
    assert row["answered_at"] is None and row["ended_at"] is not None


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


def test_early_media_reaches_the_agent_before_a_busy(
        trunk_server: tuple[Server, int, Path]) -> None:
    srv, term_port, tmp = trunk_server
    media = free_rtp_range(TERM_IP, 4)[0]
    peer = start_uas(tmp, "uas_early_media_busy.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(media), "-m", "1"])
    try:  # straight over the control socket, as a dialer would, with a job id
        replies = list(control.call(
            control.socket_path(srv.dir),
            {"op": "call_out", "from": "+14155550130", "to": "+14155559000",
             "job_id": "job-42", "variables": {"name": "Ada"}}, timeout=30))
        assert peer.wait(20) == 0, peer.output()
    finally:
        peer.stop()
    assert [r["final"] for r in replies] == [False, True], replies
    result = replies[-1]["result"]
    assert (result["outcome"], result["sip_status"], result["duration_s"]) == ("busy", 486, 0.0)
    call_id = replies[0]["call_id"]
    assert result["call_id"] == call_id
    row = final_row(srv.dir / "vio.db", call_id)
    assert (row["status"], row["final_status"], row["answered_at"]) == ("busy", 486, None)
    assert row["dialer_job_id"] == "job-42"
    assert row["ringing_at"] is not None and row["codec"] == "PCMA/8000"
    assert row["rx_voiced_frames"] > 50   # the announcement reached the agent's input
    assert row["tx_audio_frames"] == 0    # the agent did not talk into early media


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
