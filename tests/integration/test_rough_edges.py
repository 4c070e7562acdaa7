"""Rough edges a new user hit (issue 15), against the real server and SIPp peers:
`call-out --timeout` hangs the call up instead of leaving it ringing, a reload that
turns the dialer on starts it, a reload that needs a variable the server's environment
lacks says so, and `call-out --to 555` is refused before anything is dialled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.conftest import free_port, start_server
from tests.integration.trunk_harness import (
    TERM_IP,
    cli,
    config_text,
    final_row,
    start_uas,
    use_trunk_password,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def trunk_password(monkeypatch: pytest.MonkeyPatch) -> None:
    use_trunk_password(monkeypatch)


def test_call_out_timeout_hangs_up_the_ringing_call(tmp_path: Path) -> None:
    term_port = free_port(TERM_IP)
    peer = start_uas(tmp_path, "uas_ring_no_answer.xml", TERM_IP, term_port, ["-m", "1"])
    srv = start_server(tmp_path, config_text(term_port=term_port))
    try:
        bad = cli(srv, "call-out", "--from", "+14155550130", "--to", "555")
        assert bad.returncode == 2
        assert "--to '555' is not an E.164 number" in bad.stderr
        out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000",
                  "--timeout", "6")
        assert out.returncode == 1, out.stdout + out.stderr
        assert "no result within --timeout 6s: hung up" in out.stderr, out.stderr
        assert peer.wait(20) == 0, peer.output()  # the termination got our CANCEL
        call_id = out.stderr.split()[1].rstrip(":")
        row = final_row(srv.dir / "vio.db", call_id)
        assert (row["status"], row["final_status"], row["hangup_side"]) == (
            "no_answer", 487, "system")
        assert "INVITE" not in out.stdout
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_reload_turns_the_dialer_on_and_names_missing_server_variables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    term_port = free_port(TERM_IP)
    srv = start_server(tmp_path, config_text(term_port=term_port))
    peer = start_uas(tmp_path, "uas_busy.xml", TERM_IP, term_port, ["-m", "1"])
    try:
        queued = cli(srv, "dial", "--from", "+14155550130", "--to", "+14155559000",
                     "--max-attempts", "1")
        assert queued.returncode == 0 and "warning: the dialer is off" in queued.stderr
        assert peer.proc.poll() is None  # nothing dials it yet
        srv.config.write_text(srv.config.read_text() + "dialer:\n  enabled: true\n")
        ok = cli(srv, "reload")
        assert ok.returncode == 0, ok.stderr
        assert "dialer: started" in ok.stdout, ok.stdout
        assert peer.wait(30) == 0, peer.output()  # the queued job was placed
        deadline = time.monotonic() + 15
        while "1/1" not in (jobs := cli(srv, "jobs", "list", "--all")).stdout:
            assert time.monotonic() < deadline, jobs.stdout + jobs.stderr
            time.sleep(0.2)
        # a variable set in this shell only: the server cannot see it
        monkeypatch.setenv("VIO_TEST_NEW_VAR", "x")
        srv.config.write_text(srv.config.read_text().replace(
            "workspace:\n", 'workspace:\n  name: "${VIO_TEST_NEW_VAR}"\n', 1))
        bad = cli(srv, "reload")
        assert bad.returncode == 2
        assert ("environment variable 'VIO_TEST_NEW_VAR' is not set in the server's "
                "environment") in bad.stderr, bad.stderr
    finally:
        peer.stop()
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]


def test_terminal_gets_human_lines_only(tmp_path: Path) -> None:
    """Rough edge 6: on a terminal (`log.format: auto`), every line the server prints is a
    human-readable log line (pjsip's start banner included, no JSON, no raw pjsip text),
    and the ready line says where it listens and how to place a test call."""
    import os
    import pty
    import re
    import select
    import signal
    import subprocess
    import sys

    from tests.integration.conftest import BASE_CONFIG, free_rtp_range

    rtp_min, rtp_max = free_rtp_range()
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(BASE_CONFIG.format(port=free_port(), rtp_min=rtp_min, rtp_max=rtp_max,
                                      dir=tmp_path / "var", trunk_ip="127.0.0.2")
                   + "log: {level: debug}\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg)],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=tmp_path)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        while "] ready" not in re.sub(r"\x1b\[[0-9;]*m", "", out.decode("utf-8", "replace")):
            assert time.monotonic() < deadline and proc.poll() is None, out.decode()[-2000:]
            if select.select([master], [], [], 0.5)[0]:
                out += os.read(master, 65536)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            while True:  # drain until the server closes the terminal
                if select.select([master], [], [], 5)[0]:
                    chunk = os.read(master, 65536)
                    if not chunk:
                        break
                    out += chunk
                else:
                    break
        except OSError:
            pass
        os.close(master)
        assert proc.wait(20) == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode("utf-8", "replace"))
    lines = [ln for ln in text.replace("\r", "").splitlines() if ln.strip()]
    shape = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2} \[(debug|info|warning|error) *\] \S")
    odd = [ln for ln in lines if not shape.match(ln) and not ln.startswith(" ")]
    assert odd == [], odd[:5]
    assert any("pjsip" in ln and "pjlib 2.17" in ln for ln in lines), lines[:10]
    ready = next(ln for ln in lines if "] ready" in ln)
    assert "sip='127.0.0.1:" in ready and "-sf uac_speech_pcmu.xml" in ready
