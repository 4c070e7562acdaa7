"""Call data is private whatever the umask (vio_sbc/fileperm.py): the real server,
started under umask 000 and 022, makes a recorded SIPp call; then the storage
directory is 0700 and the call log (with its -wal and -shm), the control socket's
directory and the recording are 0600. Existing looser files are not changed but
`vio-sbc check`, `vio-sbc status` and the server's start warn about them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, run_sipp, sip_call_id, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def umask_prefix(mask: str) -> list[str]:
    return ["sh", "-c", f'umask {mask}; exec "$@"', "sh"]


@pytest.mark.parametrize("mask", ["000", "022"])
def test_call_data_is_private_whatever_the_umask(tmp_path: Path, mask: str) -> None:
    srv = start_server(tmp_path, prefix=umask_prefix(mask))
    try:
        r = run_sipp(srv.addr, "uac_echo_audio.xml", extra=["-d", "1500"])
        assert r.rc == 0, r.output + r.errors
        cid = sip_call_id(srv, r.call_id)
        row = srv.call_row(cid)
        assert row["recording_path"], "the call was recorded"
        wal = srv.dir / "vio.db-wal"
        assert wal.exists()  # the writer still has the database open
        assert mode(wal) == 0o600 and mode(srv.dir / "vio.db-shm") == 0o600
    finally:
        assert srv.stop() == 0, srv.raw[-20:]
    recording = Path(row["recording_path"])
    if not recording.is_absolute():
        recording = tmp_path / recording
    assert mode(srv.dir) == 0o700
    assert mode(srv.dir / "vio.db") == 0o600
    assert mode(recording) == 0o600
    for d in recording.relative_to(srv.dir).parents:  # recordings/ and below
        assert mode(srv.dir / d) == 0o700, d
    assert not [e for e in srv.lines if e.get("event") == "storage_permissions_loose"]


def test_looser_existing_files_are_reported_not_changed(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    old = var / "vio.db"
    old.write_bytes(b"")
    old.chmod(0o644)
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(BASE_CONFIG.format(port=5999, rtp_min=30000, rtp_max=30039, dir=var,
                                      trunk_ip="127.0.0.2"))
    out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "check", "-c", str(cfg)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"warning: storage: {var} is 0755, expected 0700" in out.stderr
    assert f"warning: storage: {old} is 0644, expected 0600" in out.stderr
    assert "chmod 700" in out.stderr and "chmod 600" in out.stderr
    assert (mode(var), mode(old)) == (0o755, 0o644)  # check changes nothing
    srv = start_server(tmp_path)  # a fresh config in the same tmp dir: var/ again
    try:
        ev = srv.wait_event("storage_permissions_loose")
        assert ev["entries"] >= 2
        st = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "status", "-c",
                             str(srv.config)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
        assert f"warning: storage: {old} is 0644, expected 0600" in st.stderr, st.stderr
    finally:
        assert srv.stop() == 0, srv.raw[-20:]
    os.chmod(var, 0o700)
