"""SIPVicious (svmap, svwar, svcrack from PyPI) against the server, on loopback only:
explicit 127.0.0.1 targets, bounded in time. Nothing may be enumerated or cracked, and
a legitimate call must work afterwards. bench/scan_proof.sh runs the same scans by hand.

SIPVicious is run with neither -R (report back: mails tracebacks to its author) nor
-A (auto-detect address: asks the network)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import STRANGER_IP, Server, run_sipp

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def sv(tool: str, *args: str, cwd: Path) -> str:
    exe = shutil.which(f"sipvicious_{tool}", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("sipvicious not installed (it is in the test extras of setup.cfg)")
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 30), out  # 30: SIPVicious found nothing
    return out


def test_sipvicious_finds_nothing_and_service_survives(server: Server, tmp_path: Path) -> None:
    port = str(server.port)
    common = ["-b", STRANGER_IP, "-p", port]
    # svmap sees a SIP device (OPTIONS is answered) with no version in its User-Agent
    out = sv("svmap", *common, "127.0.0.1", cwd=tmp_path)
    assert f"127.0.0.1:{port}" in out and "| vio-sbc" in out
    out = sv("svmap", *common, "-m", "INVITE", "127.0.0.1", cwd=tmp_path)
    assert f"127.0.0.1:{port}" in out
    # svwar: REGISTER (its default) and INVITE over a range holding real numbers
    out = sv("svwar", *common, "-e", "14155550095-14155550105", "--force",
             "--maximumtime", "8", "127.0.0.1", cwd=tmp_path)
    assert "found nothing" in out, out
    out = sv("svwar", *common, "-m", "INVITE", "-e", "14155550095-14155550105", "--force",
             "--maximumtime", "8", "127.0.0.1", cwd=tmp_path)
    assert "found nothing" in out, out
    assert "14155550100" not in out.split("found nothing")[-1]
    # svcrack: 200 passwords against a real number (REGISTER: nothing to crack, no
    # registrar answers it)
    out = sv("svcrack", *common, "-u", "14155550100", "-r", "1000-1199",
             "--maximumtime", "8", "127.0.0.1", cwd=tmp_path)
    assert "found nothing" in out, out
    assert "| 14155550100" not in out  # no credential table row
    # no call row for any of it, and the service still answers a real call
    with server.db() as c:
        assert c.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
    assert server.proc.poll() is None
    r = run_sipp(server.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    assert r.rc == 0, r.output + r.errors
