"""The outbound UAS scenarios and the registrar scenario, driven by a real pjsua2
endpoint in its own process (tests/integration/pj_client.py): each scenario must
pass for the behaviour it describes and fail for the wrong one."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SCENARIOS, free_port, free_rtp_range

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
CLIENT = Path(__file__).with_name("pj_client.py")
FAR = "127.0.0.3"


def sipp_uas(tmp: Path, scenario: str, host: str, *extra: str) -> tuple[subprocess.Popen[str], int]:
    if shutil.which("sipp") is None:
        pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
    (tmp / "pcap").symlink_to(SCENARIOS / "pcap")
    port = free_port(host)
    proc = subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / scenario), "-i", host, "-p", str(port), "-mi", host,
         "-mp", str(free_rtp_range(host, 4)[0]), "-m", "1", "-nostdin", "-timeout", "25s",
         "-timeout_error", "-trace_msg", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=tmp)
    return proc, port


def client(*args: str) -> list[dict[str, Any]]:
    rtp = str(free_rtp_range("127.0.0.1", 20)[0])
    r = subprocess.run([sys.executable, str(CLIENT), *args, "--rtp-port", rtp],
                       capture_output=True, text=True, timeout=40)
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]


def result(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["event"] == "result")


def finish(proc: subprocess.Popen[str]) -> int:
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_answer_with_audio(tmp_path: Path) -> None:
    proc, port = sipp_uas(tmp_path, "uas_answer_audio.xml", FAR)
    ev = client("call", f"sip:+14155550100@{FAR}:{port}", "--hangup-after", "1.5")
    assert result(ev) == {"event": "result", "status": 200, "confirmed": True}
    assert finish(proc) == 0


def test_busy(tmp_path: Path) -> None:
    proc, port = sipp_uas(tmp_path, "uas_busy_486.xml", FAR)
    ev = client("call", f"sip:+14155550100@{FAR}:{port}")
    assert result(ev) == {"event": "result", "status": 486, "confirmed": False}
    assert finish(proc) == 0


def test_no_answer_ends_with_cancel(tmp_path: Path) -> None:
    proc, port = sipp_uas(tmp_path, "uas_no_answer.xml", FAR)
    ev = client("call", f"sip:+14155550100@{FAR}:{port}", "--cancel-after", "1.0")
    assert [e["state"] for e in ev if e["event"] == "state"][:2] == ["CALLING", "EARLY"]
    assert result(ev)["status"] == 487
    assert finish(proc) == 0


def test_no_answer_fails_when_no_cancel_comes(tmp_path: Path) -> None:
    """SIPp gives up after 3 s (-timeout) while the client still waits: no CANCEL, failure."""
    proc, port = sipp_uas(tmp_path, "uas_no_answer.xml", FAR, "-timeout", "3s")
    ev = client("call", f"sip:+14155550100@{FAR}:{port}", "--timeout", "5")
    assert "EARLY" in [e["state"] for e in ev if e["event"] == "state"]
    assert finish(proc) == 255  # SIPp's exit code for -timeout with -timeout_error


def _digest_ok(log: str, user: str, password: str) -> bool:
    m = re.search(r"Proxy-Authorization: *Digest (.*)", log)
    assert m, "no Proxy-Authorization in SIPp's trace"
    f = dict(re.findall(r'(\w+)="?([^",]+)"?', m.group(1)))
    ha1 = hashlib.md5(f"{user}:{f['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"INVITE:{f['uri']}".encode()).hexdigest()
    return hashlib.md5(f"{ha1}:{f['nonce']}:{ha2}".encode()).hexdigest() == f["response"]


def test_407_challenge_answered_with_credentials(tmp_path: Path) -> None:
    proc, port = sipp_uas(tmp_path, "uas_auth_407.xml", FAR, "-set", "user", "vio")
    ev = client("call", f"sip:+14155550100@{FAR}:{port}", "--user", "vio",
                "--password", "s3cret", "--hangup-after", "1")
    assert result(ev) == {"event": "result", "status": 200, "confirmed": True}
    assert finish(proc) == 0
    log = next(tmp_path.glob("*_messages.log")).read_text()
    assert "SIP/2.0 407 Proxy Authentication Required" in log
    assert _digest_ok(log, "vio", "s3cret") and not _digest_ok(log, "vio", "other")


def test_407_wrong_user_is_refused_and_fails(tmp_path: Path) -> None:
    proc, port = sipp_uas(tmp_path, "uas_auth_407.xml", FAR, "-set", "user", "vio")
    ev = client("call", f"sip:+14155550100@{FAR}:{port}", "--user", "mallory",
                "--password", "x")
    assert result(ev)["status"] == 403
    assert finish(proc) == 1


@pytest.mark.parametrize(("password", "code", "rc"), [("s3cret", 200, 0), ("wrong", 403, 1)])
def test_registrar_401(tmp_path: Path, password: str, code: int, rc: int) -> None:
    host = "127.0.0.4"
    proc, port = sipp_uas(tmp_path, "registrar_401.xml", host, "-set", "user", "vio",
                          "-set", "pass", "s3cret")
    ev = client("register", f"sip:{host}:{port}", "--user", "vio", "--password", password,
                "--timeout", "5")
    assert [e["code"] for e in ev if e["event"] == "reg"][-1] == code
    assert finish(proc) == rc
