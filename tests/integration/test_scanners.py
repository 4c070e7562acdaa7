"""SIPVicious (svmap, svwar, svcrack from PyPI) against the server, on loopback only:
explicit 127.0.0.1 targets, bounded in time. Nothing may be enumerated or cracked, and
a legitimate call must work afterwards. bench/security_proof.py runs the same scans and
prints what each tool sent and got.

SIPVicious is run with neither -R (report back: mails tracebacks to its author) nor
-A (auto-detect address: asks the network)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, STRANGER_IP, Server, run_sipp, start_server
from tests.integration.rawsip import UdpPeer, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def sv(tool: str, *args: str, cwd: Path, limit_s: float | None = None) -> str:
    """Run a SIPVicious tool to its end, or for `limit_s` seconds when given (then
    killed, and its output so far returned: svcrack never stops on its own against a
    server that answers every REGISTER 403)."""
    exe = shutil.which(f"sipvicious_{tool}", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("sipvicious not installed (it is in the test extras of setup.cfg)")
    try:
        proc = subprocess.run([exe, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=limit_s or 120, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        if limit_s is None:
            raise
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        return out
    assert limit_s is None, f"{tool} stopped by itself: {proc.stdout}"
    assert proc.returncode in (0, 30), proc.stdout  # 30: SIPVicious found nothing
    return proc.stdout


def test_sipvicious_finds_nothing_and_service_survives(server: Server, tmp_path: Path) -> None:
    """`sip.stranger_response: reject` (the default): every request gets the same 403."""
    port = str(server.port)
    common = ["-b", STRANGER_IP, "-p", port]
    # svmap sees a SIP device (its OPTIONS gets the SIP guard's bare 403) and learns
    # nothing about it: no User-Agent, no Server header
    out = sv("svmap", *common, "127.0.0.1", cwd=tmp_path)
    assert f"| 127.0.0.1:{port} | unknown" in out and "vio-sbc" not in out, out
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
    # svcrack against a real number: its REGISTER gets 403, never a challenge, so it
    # has nothing to crack; it keeps re-sending the unauthenticated REGISTER as long as
    # answers come (~180/s here), so it is stopped after 8 s
    out = sv("svcrack", *common, "-u", "14155550100", "-r", "1000-1199",
             "--maximumtime", "8", "127.0.0.1", cwd=tmp_path, limit_s=8)
    assert "The password for" not in out and "| 14155550100" not in out, out
    peer = UdpPeer(STRANGER_IP)
    try:  # still no challenge for anyone: the same bare 403
        reg = request("REGISTER", server.port, src=STRANGER_IP, src_port=peer.port,
                      number="14155550100")
        assert [(r.status, "www-authenticate" in r.headers)
                for r in peer.exchange(reg, server.port)] == [(403, False)]
    finally:
        peer.close()
    _no_rows_and_still_serving(server)


def _no_rows_and_still_serving(server: Server) -> None:
    with server.db() as c:
        assert c.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
    assert server.proc.poll() is None
    r = run_sipp(server.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    assert r.rc == 0, r.output + r.errors


def test_sipvicious_sees_no_sip_device_in_drop_mode(tmp_path: Path) -> None:
    """`sip.stranger_response: drop`: not one datagram back, so not even svmap finds a
    SIP device; svwar and svcrack time out."""
    srv = start_server(tmp_path, BASE_CONFIG.replace(
        "  max_calls: 50\n", "  max_calls: 50\n  stranger_response: drop\n"))
    try:
        common = ["-b", STRANGER_IP, "-p", str(srv.port)]
        for method in ("OPTIONS", "INVITE"):
            out = sv("svmap", *common, "-m", method, "127.0.0.1", cwd=tmp_path)
            assert "found nothing" in out and "127.0.0.1:" not in out, out
        out = sv("svwar", *common, "-e", "14155550095-14155550105", "--force",
                 "--maximumtime", "8", "127.0.0.1", cwd=tmp_path)
        assert "timed out" in out and "found nothing" in out, out
        out = sv("svcrack", *common, "-u", "14155550100", "-r", "1000-1019",
                 "--maximumtime", "8", "127.0.0.1", cwd=tmp_path)
        assert "no server response" in out and "found nothing" in out, out
        assert not [ev for ev in srv.lines if ev.get("event") == "stranger_refused"]
        _no_rows_and_still_serving(srv)
    finally:
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
