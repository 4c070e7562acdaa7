"""`vio-sbc qa`: the whole SIPp suite against a running server, a server it starts
itself, and a failing scenario turning into exit 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_CONFIG, start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

QA_CONFIG = BASE_CONFIG.replace(
    "  echo: {{kind: echo}}\n",
    "  echo: {{kind: echo}}\n"
    "  brief: {{kind: scripted, greeting: \"Hi.\", goodbye: \"Bye.\", max_turns: 1}}\n",
) + '  "+14155550105": {{trunk: pbx, direction: inbound, agent: brief}}\n'


def qa(config: Path, *names: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", "qa", "-c", str(config), *names],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def table(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) >= 8 and cells[1] in ("PASS", "FAIL", "skip"):
            rows[cells[0]] = cells[1:8]
    return rows


def test_whole_suite_passes_against_a_running_server(tmp_path: Path) -> None:
    srv = start_server(tmp_path, QA_CONFIG)
    try:
        r = qa(srv.config, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"server: answering OPTIONS at {srv.addr}" in r.stdout
        rows = table(r.stdout)
        assert set(rows) == {"options", "speech_pcmu", "speech_pcma", "speech_dtmf",
                             "echo_audio", "hold_resume", "cancel", "agent_hangup",
                             "long_call", "stranger_403", "unknown_404", "tcp"}
        assert all(cells[0] == "PASS" and cells[1] == "1" and cells[2] == "0"
                   for cells in rows.values()), r.stdout
        assert "12/12 passed, 0 skipped" in r.stdout
        # the calls reached this server: answered calls and the agent's own hangup
        with srv.db() as c:
            sides = dict(c.execute("SELECT number, hangup_side FROM calls WHERE number = "
                                   "'+14155550105'").fetchall())
            n = c.execute("SELECT count(*) FROM calls WHERE status = 'ended'").fetchone()[0]
            codecs = {row[0] for row in c.execute("SELECT codec FROM calls WHERE codec IS "
                                                  "NOT NULL")}
        assert sides == {"+14155550105": "agent"}
        assert n >= 8 and {"PCMU/8000", "PCMA/8000"} <= codecs
    finally:
        assert srv.stop() == 0


def test_starts_its_own_server_when_none_answers(tmp_path: Path) -> None:
    srv = start_server(tmp_path, QA_CONFIG, wait=True)
    cfg = srv.config
    assert srv.stop() == 0  # config with free ports, nothing listening any more
    r = qa(cfg, "options", "unknown_404", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"started vio-sbc run \(pid (\d+)\)", r.stdout)
    assert m, r.stdout
    assert f"server: stopped (pid {m.group(1)}, exit 0)" in r.stdout
    assert "2/2 passed" in r.stdout


def test_a_failing_scenario_fails_the_run(tmp_path: Path) -> None:
    srv = start_server(tmp_path, QA_CONFIG)
    try:
        # QA's copy of the config has a ringing number the server does not know:
        # the server answers 404 where the cancel scenario expects 180.
        qa_cfg = tmp_path / "qa.yaml"
        qa_cfg.write_text(srv.config.read_text().replace(
            '  "+14155550104": {trunk: pbx, direction: both, ring_seconds: 10}\n',
            '  "+14155550199": {trunk: pbx, direction: both, ring_seconds: 10}\n'))
        r = qa(qa_cfg, "cancel", "options", cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        rows = table(r.stdout)
        assert rows["cancel"][:3] == ["FAIL", "0", "1"], r.stdout
        assert rows["options"][0] == "PASS"
        assert "1/2 passed" in r.stdout
    finally:
        assert srv.stop() == 0
