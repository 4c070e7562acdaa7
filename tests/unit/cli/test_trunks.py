"""CLI: `check` warnings, and the trunk commands when no server runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vio_sbc.cli import main
from vio_sbc.cli.trunks import control_socket

TWILIO_AT_LOCALHOST = """\
    storage: {dir: STORAGE}
    trunks:
      tw:
        kind: twilio
        inbound: {allow: twilio}
        outbound: {host: 127.0.0.4, username: u, password_file: tw.pw}
    numbers:
      "+14155550130": {trunk: tw, direction: inbound}
"""


def write(tmp: Path, text: str) -> Path:
    pw = tmp / "tw.pw"
    pw.write_text("p\n")
    pw.chmod(0o600)
    cfg = tmp / "vio.yaml"
    cfg.write_text(textwrap.dedent(text).replace("STORAGE", str(tmp / "var")))
    return cfg


def test_check_prints_the_twilio_host_warning_and_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write(tmp_path, TWILIO_AT_LOCALHOST)
    assert main(["check", "-c", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert err == (f"warning: {cfg}:6: trunks.tw.outbound.host: '127.0.0.4' is not a Twilio "
                   "termination host (<name>.pstn.twilio.com); fine for a test peer\n")


@pytest.mark.parametrize("command", [["status"], ["reload"]])
def test_trunk_commands_without_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         command: list[str]) -> None:
    cfg = write(tmp_path, TWILIO_AT_LOCALHOST)
    assert main([*command, "-c", str(cfg)]) == 4
    err = capsys.readouterr().err
    assert f"no server on {tmp_path / 'var' / 'control.sock'}" in err
    assert f"is `vio-sbc run -c {cfg}` running?" in err


def test_control_socket_is_found_even_in_an_invalid_config(tmp_path: Path) -> None:
    cfg = write(tmp_path, TWILIO_AT_LOCALHOST.replace("kind: twilio", "kind: nope"))
    assert control_socket(str(cfg)) == tmp_path / "var" / "control.sock"
    (tmp_path / "vio.yaml").write_text("storage: [\n")
    assert control_socket(str(cfg)) == Path("var") / "control.sock"


def test_call_out_refused_up_front_by_its_own_endpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Inbound-only number, no server: refused (exit 3) before any endpoint starts."""
    cfg = write(tmp_path, TWILIO_AT_LOCALHOST)
    rc = main(["call-out", "-c", str(cfg), "--from", "+14155550130", "--to", "+14155559000"])
    assert rc == 3
    assert "refused: 403 number +14155550130 is inbound-only" in capsys.readouterr().err
