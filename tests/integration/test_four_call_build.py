"""A 4-call pjsua2 build must never pass for a server.

Installs PyPI's pjsua2-python wheel (compiled with PJSUA_MAX_CALLS=4) into a
cached directory, puts it first on PYTHONPATH and checks that `vio-sbc run`
refuses to start, naming that library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import free_port

CACHE = Path.home() / ".cache" / "vio_sbc" / "pypi-pjsua2-python"


@pytest.mark.timeout(300)
def test_server_refuses_a_four_call_build(tmp_path: Path) -> None:
    if not (CACHE / "pjsua2").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(CACHE),
             "pjsua2-python==2.15.1.post1"],
            check=True, timeout=240,
        )
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(f"sip: {{listen: '127.0.0.1:{free_port()}', max_calls: 10}}\n"
                   f"storage: {{dir: '{tmp_path / 'var'}'}}\n")
    env = {**os.environ, "PYTHONPATH": str(CACHE)}
    proc = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    lib = str(CACHE / "pjsua2")
    want = "allows 4 concurrent calls, sip.max_calls is 10: this is not a server build"
    assert want in proc.stderr
    assert lib in proc.stderr
    assert '"event": "listening"' not in proc.stdout
