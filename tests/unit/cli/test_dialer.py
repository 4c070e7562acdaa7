"""`vio-sbc campaign|dial|dnc`: output and exit codes pinned."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from vio_sbc.cli import main
from vio_sbc.config import load_config
from vio_sbc.dialer.api import open_store

CONFIG = """
storage: {{dir: {dir}}}
dialer: {{enabled: true}}
agents:
  receptionist: {{kind: scripted, greeting: hi}}
trunks:
  pbx: {{kind: byoc, outbound: {{host: 127.0.0.5}}}}
numbers:
  "+14155550100": {{trunk: pbx, direction: both}}
  "+14155550101": {{trunk: pbx, direction: inbound}}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> str:
    path = tmp_path / "vio.yaml"
    path.write_text(CONFIG.format(dir=tmp_path / "var"))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def create(cfg: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run(capsys, "campaign", "create", "-c", cfg, "--name", "spring", "--from",
               "+14155550100", "--window", "Mon-Fri 09:00-12:00; Mon-Fri 13:00-18:00",
               "--tz", "America/New_York", "--cps", "2", "--max-concurrent", "3", *extra)


def test_campaign_life(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert create(cfg, capsys, "--retry-busy", "60", "--retry-machine", "-1") == (0, (
        "campaign spring: created (from +14155550100, window Mon-Fri 09:00-12:00; "
        "Mon-Fri 13:00-18:00 America/New_York, cps 2, max-concurrent 3, max-attempts 3)\n"), "")
    csv = tmp_path / "c.csv"
    csv.write_text("number,name,tz\n+14155551000,Ada,\n12,Bob,\n+14155551001,Cy,Asia/Tokyo\n")
    rc, out, err = run(capsys, "campaign", "load", "-c", cfg, "spring", str(csv))
    assert (rc, out) == (1, "campaign spring: loaded 2 contact(s), skipped 1\n")
    assert err == f"{csv}:3: '12' is not an E.164 number (+ then 8-15 digits, no leading 0)\n"
    rc, out, err = run(capsys, "campaign", "load", "-c", cfg, "spring", str(csv))
    assert out == "campaign spring: loaded 0 contact(s), skipped 3\n"
    assert f"{csv}:2: +14155551000 is already in campaign spring\n" in err
    rc, out, _ = run(capsys, "campaign", "status", "-c", cfg, "spring")
    assert rc == 0
    assert out.splitlines(keepends=True)[:3] == [
        "campaign spring (active) from +14155550100, window Mon-Fri 09:00-12:00; "
        "Mon-Fri 13:00-18:00 America/New_York, cps 2, max-concurrent 3\n",
        "queued 2  dialing 0  answered 0  completed 0  retry_wait 0  failed 0  cancelled 0\n",
        f"[{'-' * 30}] 0/2 done (0%)\n"]
    # nothing moves: status says why (no server here; the window depends on the clock)
    assert f"held: no server is running on {cfg} (start it: vio-sbc run -c {cfg})" in out
    assert run(capsys, "campaign", "pause", "-c", cfg, "spring")[1] == "campaign spring: paused\n"
    assert run(capsys, "campaign", "resume", "-c", cfg, "spring")[1] == (
        "campaign spring: active\n")
    assert run(capsys, "campaign", "cancel", "-c", cfg, "spring")[1] == (
        "campaign spring: cancelled, 2 job(s) cancelled\n")
    # --watch returns at once when every job is done
    rc, out, _ = run(capsys, "campaign", "status", "-c", cfg, "spring", "--watch")
    assert rc == 0 and out.endswith(f"[{'#' * 30}] 2/2 done (100%)\n")
    assert run(capsys, "campaign", "list", "-c", cfg)[1] == (
        "CAMPAIGN  STATUS     FROM          DONE\n"
        "spring    cancelled  +14155550100  2/2\n")
    store = open_store(load_config(cfg))
    [job] = [j for j in store.jobs("spring") if j["to_number"] == "+14155551001"]
    assert (job["tz"], job["name"], job["source_line"]) == ("Asia/Tokyo", "Cy", 4)
    assert store.campaign("spring").policy.busy_s == 60
    assert store.campaign("spring").policy.machine_s is None


@pytest.mark.parametrize(("extra", "err"), [
    (("--window", "Mon-Fri 9-5"), "vio-sbc: window 'Mon-Fri 9-5': expected DAYS HH:MM-HH:MM, "
                                  "e.g. 'Mon-Fri 09:00-18:00'\n"),
    (("--tz", "Nowhere/Land"), "vio-sbc: unknown time zone 'Nowhere/Land' (expected an IANA "
                               "name such as America/New_York)\n"),
    (("--agent", "bob"), "vio-sbc: unknown agent 'bob' (defined: receptionist)\n"),
    (("--max-attempts", "0"), "vio-sbc: max attempts must be at least 1, got 0\n"),
])
def test_create_errors(cfg: str, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...],
                       err: str) -> None:
    assert create(cfg, capsys, *extra) == (2, "", err)


def test_from_number_checked(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("campaign", "create", "-c", cfg, "--name", "x", "--tz", "UTC", "--from")
    assert run(capsys, *base, "+14155550101") == (
        2, "", "vio-sbc: calling number +14155550101 is inbound-only\n")
    assert run(capsys, *base, "+14155550199") == (
        2, "", "vio-sbc: calling number +14155550199 is not configured (outbound numbers: "
               "+14155550100)\n")
    assert create(cfg, capsys)[0] == 0
    assert create(cfg, capsys) == (2, "", "vio-sbc: campaign 'spring' already exists\n")
    assert run(capsys, "campaign", "status", "-c", cfg, "nope") == (
        2, "", "vio-sbc: no campaign 'nope' (campaigns: spring)\n")


def test_dial_schedules_a_callback(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "dial", "-c", cfg, "--from", "+14155550100", "--to",
                     "+1 415 555 1000", "--at", "2099-11-25T10:00-05:00", "--var", "topic=bill")
    assert (rc, out) == (0, "job 1: +1 415 555 1000 at 2099-11-25T10:00:00-05:00\n")
    job = open_store(load_config(cfg)).job(1)
    assert job["to_number"] == "+14155551000" and job["campaign"] is None
    assert job["not_before"] == datetime.fromisoformat("2099-11-25T15:00:00+00:00").timestamp()
    assert job["variables"] == '{"topic": "bill"}' and job["priority"] == 10
    assert run(capsys, "dial", "-c", cfg, "--from", "+14155550100", "--to", "+14155551000",
               "--at", "2026-11-25T10:00") == (
        2, "", "vio-sbc: callback time 2026-11-25T10:00:00 has no UTC offset (write e.g. "
               "2026-11-25T10:00-05:00)\n")
    assert run(capsys, "dial", "-c", cfg, "--from", "+14155550100", "--to", "+14155551000",
               "--at", "tomorrow")[2] == (
        "vio-sbc: --at 'tomorrow' is not an ISO 8601 time (e.g. 2026-11-25T10:00-05:00)\n")


def test_dnc(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "dnc", "add", "-c", cfg, "+1 415 555 1000", "--reason", "asked") == (
        0, "+14155551000: on the do-not-call list\n", "")
    assert run(capsys, "dnc", "list", "-c", cfg)[1] == "+14155551000  asked\n"
    assert run(capsys, "dnc", "remove", "-c", cfg, "+14155551000")[1] == (
        "+14155551000: removed from the do-not-call list\n")
    assert run(capsys, "dnc", "list", "-c", cfg)[1] == ""


IDLE = """
storage: {{dir: {dir}}}
agents:
  receptionist: {{kind: scripted, greeting: hi}}
trunks:
  pbx: {{kind: byoc}}
numbers:
  "+14155550100": {{trunk: pbx, direction: both}}
"""


def test_jobs_that_will_never_be_placed_are_named(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Rough edge 1: dialer off and a trunk without `outbound`: queued with a warning."""
    path = tmp_path / "vio.yaml"
    path.write_text(IDLE.format(dir=tmp_path / "var"))
    rc, out, err = run(capsys, "dial", "-c", str(path), "--from", "+14155550100", "--to",
                       "+14155551000")
    assert rc == 0 and out.startswith("job 1: +14155551000 at ")
    assert err == (f"warning: the dialer is off (dialer.enabled: false in {path}): nothing is "
                   "placed until it is set to true and the server reloaded\n"
                   "warning: trunk pbx of +14155550100 has no outbound section: the dialer "
                   "has nowhere to send the call\n")
    run(capsys, "campaign", "create", "-c", str(path), "--name", "c", "--from", "+14155550100",
        "--tz", "UTC")
    csv = tmp_path / "c.csv"
    csv.write_text("number\n+14155551001\n")
    rc, out, err = run(capsys, "campaign", "load", "-c", str(path), "c", str(csv))
    assert rc == 0 and "warning: the dialer is off" in err
    rc, out, _ = run(capsys, "campaign", "status", "-c", str(path), "c")
    assert "held: the dialer is off" in out and "held: trunk pbx of +14155550100" in out


def test_dial_in_the_past_and_option_help(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "dial", "-c", cfg, "--from", "+14155550100", "--to",
                       "+14155551000", "--at", "2020-01-01T10:00+00:00")
    assert rc == 2 and "is in the past" not in out
    assert err.startswith("vio-sbc: --at 2020-01-01T10:00+00:00 is ")
    assert err.endswith(" minute(s) in the past (omit --at to dial now)\n")
    from vio_sbc.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    dial = sub.choices["dial"]  # type: ignore[index]
    undocumented = [a.option_strings for a in dial._actions if not a.help]
    assert undocumented == []
    with pytest.raises(SystemExit):
        main(["dnc", "--help"])
    text = capsys.readouterr().out
    assert "put numbers on the list" in text and "take numbers off" in text


def test_jobs_list_and_cancel(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    for to in ("+14155551000", "+14155551001"):
        run(capsys, "dial", "-c", cfg, "--from", "+14155550100", "--to", to,
            "--at", "2099-01-01T10:00+00:00")
    _rc, out, _ = run(capsys, "jobs", "list", "-c", cfg)
    assert out == ("JOB  STATUS  FROM          TO            AT (UTC)          ATTEMPTS\n"
                   "1    queued  +14155550100  +14155551000  2099-01-01 10:00  0/2\n"
                   "2    queued  +14155550100  +14155551001  2099-01-01 10:00  0/2\n")
    assert run(capsys, "jobs", "cancel", "-c", cfg, "1") == (0, "job 1: cancelled\n", "")
    assert run(capsys, "jobs", "cancel", "-c", cfg, "1") == (
        2, "", "vio-sbc: job 1 is cancelled: only a queued or retry_wait job can be "
               "cancelled\n")
    assert run(capsys, "jobs", "cancel", "-c", cfg, "9") == (2, "", "vio-sbc: no job 9\n")
    assert run(capsys, "jobs", "list", "-c", cfg)[1].count("\n") == 2
    assert "1    cancelled" in run(capsys, "jobs", "list", "-c", cfg, "--all")[1]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_spreadsheet_unicode_csv_loads(cfg: str, tmp_path: Path, encoding: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Rough edge 4: a UTF-16 file (BOM; tab-separated as spreadsheets save "Unicode
    text") loads instead of crashing."""
    create(cfg, capsys)
    csv = tmp_path / "c.csv"
    text = "number\tname\n+14155551000\tAda\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    csv.write_bytes(data)
    rc, out, err = run(capsys, "campaign", "load", "-c", cfg, "spring", str(csv))
    assert (rc, out, err) == (0, "campaign spring: loaded 1 contact(s), skipped 0\n", "")
    [job] = open_store(load_config(cfg)).jobs("spring")
    assert job["name"] == "Ada"


def test_latin1_csv_is_refused_with_a_reason(cfg: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    create(cfg, capsys)
    csv = tmp_path / "c.csv"
    csv.write_bytes("number,name\n+14155551000,Jos\u00e9\n".encode("latin-1"))
    assert run(capsys, "campaign", "load", "-c", cfg, "spring", str(csv)) == (
        2, "", f"{csv}: line 2: not UTF-8 text (byte 0xe9 at offset 28); save the file as "
               '"CSV UTF-8"\n')


def test_read_only_dialer_commands_need_no_secret(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIO_TEST_UNSET_PW", raising=False)
    path = tmp_path / "vio.yaml"
    path.write_text(CONFIG.format(dir=tmp_path / "var").replace(
        "{host: 127.0.0.5}", '{host: 127.0.0.5, username: u, password: "${VIO_TEST_UNSET_PW}"}'))
    assert run(capsys, "campaign", "list", "-c", str(path)) == (
        0, "CAMPAIGN  STATUS  FROM  DONE\n", "")
    assert run(capsys, "dnc", "list", "-c", str(path)) == (0, "", "")
    rc, _, err = run(capsys, "dnc", "add", "-c", str(path), "+14155551000")
    assert rc == 2 and "'VIO_TEST_UNSET_PW' is not set" in err
