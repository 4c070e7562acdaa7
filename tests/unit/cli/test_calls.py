"""`vio-sbc calls | call | export | cleanup`: output pinned on a call log built here."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import pytest

from vio_sbc.calllog.store import CallLog
from vio_sbc.cli import main
from vio_sbc.cli.calls import UsageError, parse_since

T0 = 1764070000.0  # 2025-11-25 11:26:40 UTC
BREAKDOWN = {"currency": "USD", "direction": "inbound", "number": "+14155550100",
             "answered": True, "duration_s": "65.400", "rate_prefix": None,
             "per_minute": "0.0085", "increment": "6/6", "connection_fee": "0",
             "billable_s": 66, "carrier": "0.009350", "platform_per_minute": "0.05",
             "platform_billable_s": 66, "platform": "0.055000", "total": "0.064350"}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    var = tmp_path / "var"
    rec = var / "recordings" / "a.wav"
    rec.parent.mkdir(parents=True)
    rec.write_bytes(b"RIFF")
    log = CallLog(var / "vio.db")
    log.open_call({"id": "a1b2c3d4e5f6", "sip_call_id": "abc@127.0.0.2", "direction": "inbound",
                   "trunk": "pbx", "number": "+14155550100", "agent": "receptionist",
                   "caller": "sip:+14155559999@127.0.0.2", "callee": "sip:+14155550100@h",
                   "status": "ended", "received_at": T0, "answered_at": T0 + 1,
                   "ended_at": T0 + 66.4, "duration_s": 65.4, "final_status": 200,
                   "final_reason": "OK", "hangup_side": "caller", "codec": "PCMU/8000",
                   "billable_s": 66, "recording_path": str(rec),
                   "summary": "Extractive summary (no AI: sentences quoted from the "
                   "transcript).\nOutcome: caller hung up after 65 s.",
                   "summary_provider": "extractive",
                   "summary_error": "openai:m: HTTP 503 Service Unavailable: busy",
                   "cost": "0.064350", "cost_currency": "USD",
                   "cost_breakdown": json.dumps(BREAKDOWN)})
    log.open_call({"id": "a1ffff000000", "sip_call_id": "zzz@127.0.0.2", "direction": "inbound",
                   "trunk": "pbx", "number": "+14155559876", "caller": "sip:x@127.0.0.2",
                   "status": "refused", "received_at": T0 + 100, "final_status": 404,
                   "final_reason": "Not Found", "cost": "0.000000", "cost_currency": "USD"})
    log.add_transcript("a1b2c3d4e5f6", "agent", 0, 2000, "Thanks for calling.")
    log.add_transcript("a1b2c3d4e5f6", "dtmf", 4200, 4200, "1")
    log.add_transcript("a1b2c3d4e5f6", "caller", 2500, 4000, "I need a plumber.")
    assert log.flush()
    log.close()
    path = tmp_path / "vio.yaml"
    path.write_text(f"storage: {{dir: {var}, retention_days: 30}}\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_calls_table(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "calls", "-c", str(cfg))
    assert rc == 0
    assert out == (
        "STARTED (UTC)        ID        DIR  NUMBER        TRUNK  AGENT         OTHER PARTY"
        "                 STATUS   DUR   COST\n"
        "2025-11-25 11:28:20  a1ffff00  in   +14155559876  pbx    -             "
        "sip:x@127.0.0.2             refused  -     0.000000 USD\n"
        "2025-11-25 11:26:40  a1b2c3d4  in   +14155550100  pbx    receptionist  "
        "sip:+14155559999@127.0.0.2  ended    1:05  0.064350 USD\n")


def test_outbound_call_shows_the_called_party(cfg: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Rough edge 9: an outbound row's caller is our own number; the table shows whom
    we called, and `call` says Placed, not Received."""
    log = CallLog(cfg.parent / "var" / "vio.db")
    log.open_call({"id": "b0b0b0b0b0b0", "sip_call_id": "out@x", "direction": "outbound",
                   "trunk": "pbx", "number": "+14155550100", "agent": "receptionist",
                   "caller": "+14155550100", "callee": "+14155551234", "status": "no_answer",
                   "received_at": T0 + 200})
    assert log.flush()
    log.close()
    rc, out, _ = run(capsys, "calls", "-c", str(cfg), "--direction", "outbound")
    assert rc == 0
    assert out.splitlines()[1].split()[3:8] == ["out", "+14155550100", "pbx", "receptionist",
                                                "+14155551234"]
    rc, out, _ = run(capsys, "call", "-c", str(cfg), "b0b0")
    assert "  Placed       2025-11-25 11:30:00\n" in out and "Received" not in out


def test_calls_bad_status_is_a_usage_error(cfg: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["calls", "-c", str(cfg), "--status", "bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err and "no_answer" in err


def test_calls_into_a_closed_pipe(cfg: Path) -> None:
    """`vio-sbc calls | head -1`: no BrokenPipeError traceback."""
    import subprocess
    import sys

    head = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    # many rows, so the writer is still writing when head has gone
    log = CallLog(cfg.parent / "var" / "vio.db")
    for i in range(1500):
        log.open_call({"id": f"c{i:011d}", "sip_call_id": f"{i}@x", "direction": "inbound",
                       "trunk": "pbx", "number": "+14155550100", "status": "ended",
                       "received_at": T0 + 300 + i})
    assert log.flush(timeout=60)  # 1500 rows: seconds on a loaded 2-core machine
    log.close()
    proc = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "calls", "-c", str(cfg),
                           "--limit", "1500"], stdout=head.stdin, stderr=subprocess.PIPE,
                          timeout=60)
    assert head.stdin is not None and head.stdout is not None
    head.stdin.close()
    first = head.stdout.read().decode()
    head.stdout.close()
    assert head.wait(timeout=10) == 0
    assert first.startswith("STARTED (UTC)")
    assert proc.stderr.decode() == ""
    assert proc.returncode == 141


def test_cleanup_refuses_negative_days(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for days in ("-3", "0"):
        with pytest.raises(SystemExit) as exc:
            main(["cleanup", "-c", str(cfg), "--days", days])
        assert exc.value.code == 2
        assert "would delete every recording" in capsys.readouterr().err
    assert (cfg.parent / "var" / "recordings" / "a.wav").exists()


def test_export_to_a_missing_directory(cfg: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "x.csv"
    rc, _out, err = run(capsys, "export", "-c", str(cfg), "-o", str(target))
    assert rc == 2
    assert err == (f"vio-sbc export: cannot write {target}: directory {target.parent} "
                   "does not exist\n")


def test_read_only_commands_need_no_secret(cfg: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Rough edge 5: `calls` and `call` only read the log: an unset trunk password
    (set in the server's environment only) does not stop them."""
    monkeypatch.delenv("VIO_TEST_UNSET_PW", raising=False)
    cfg.write_text(cfg.read_text() + """trunks:
  pbx:
    kind: byoc
    outbound: {host: 127.0.0.5, username: u, password: "${VIO_TEST_UNSET_PW}"}
""")
    rc, out, err = run(capsys, "calls", "-c", str(cfg))
    assert rc == 0 and "a1b2c3d4" in out
    rc, out, err = run(capsys, "call", "-c", str(cfg), "a1b2")
    assert rc == 0 and out.startswith("Call a1b2c3d4e5f6")
    rc, out, err = run(capsys, "check", "-c", str(cfg))  # check still insists
    assert rc == 2 and "'VIO_TEST_UNSET_PW' is not set" in err


@pytest.mark.parametrize(("args", "ids"), [
    (["--status", "refused"], ["a1ffff000000"]),
    (["--number", "+14155550100"], ["a1b2c3d4e5f6"]),
    (["--agent", "receptionist"], ["a1b2c3d4e5f6"]),
    (["--trunk", "pbx", "--direction", "inbound"], ["a1ffff000000", "a1b2c3d4e5f6"]),
    (["--trunk", "other"], []),
    (["--since", "2025-11-25T11:27"], ["a1ffff000000"]),
    (["--limit", "1"], ["a1ffff000000"]),
])
def test_calls_filters_json(cfg: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                            ids: list[str]) -> None:
    rc, out, _ = run(capsys, "calls", "-c", str(cfg), "--json", *args)
    assert rc == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ids
    if "a1b2c3d4e5f6" in ids:
        assert rows[-1]["cost_breakdown"]["carrier"] == "0.009350"


def test_call_in_full(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "call", "-c", str(cfg), "a1b2")
    assert rc == 0
    rec = cfg.parent / "var" / "recordings" / "a.wav"
    assert out == f"""\
Call a1b2c3d4e5f6
  SIP Call-ID  abc@127.0.0.2
  Direction    inbound
  Trunk        pbx
  Number       +14155550100
  Agent        receptionist
  Caller       sip:+14155559999@127.0.0.2
  Callee       sip:+14155550100@h
  Status       ended (200 OK), hangup: caller
  Received     2025-11-25 11:26:40
  Answered     2025-11-25 11:26:41
  Ended        2025-11-25 11:27:46
  Duration     65.4 s (billable 66 s)
  Codec        PCMU/8000
  Transfer     -
  Dialer job   -
  Recording    {rec}

Transcript
  [00:00] agent: Thanks for calling.
  [00:02] caller: I need a plumber.
  [00:04] dtmf: pressed 1

Summary (extractive)
  Extractive summary (no AI: sentences quoted from the transcript).
  Outcome: caller hung up after 65 s.
  Note: the summary provider failed, kept the extractive summary: openai:m: HTTP 503 \
Service Unavailable: busy

Cost
  carrier   0.009350 USD  (inbound 0.0085/min, increment 6/6, billable 66 s, \
connection fee 0)
  platform  0.055000 USD  (0.05/min, 66 s)
  total     0.064350 USD
"""


def test_call_by_sip_call_id_and_errors(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "call", "-c", str(cfg), "zzz@127.0.0.2", "--json")
    assert rc == 0 and json.loads(out)["id"] == "a1ffff000000"
    assert json.loads(out)["transcript"] == []
    rc, _, err = run(capsys, "call", "-c", str(cfg), "a1")
    assert (rc, err) == (2, "vio-sbc call: 'a1' matches 2 calls: give more characters\n")
    rc, _, err = run(capsys, "call", "-c", str(cfg), "nope")
    assert (rc, err) == (1, "vio-sbc call: no call matches 'nope' (an id, id prefix or "
                            "SIP Call-ID)\n")


def test_export_csv_and_jsonl(cfg: Path, capsys: pytest.CaptureFixture[str],
                              tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "export", "-c", str(cfg), "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == ["a1b2c3d4e5f6", "a1ffff000000"]  # oldest first
    assert rows[0]["cost"] == "0.064350" and rows[1]["answered_at"] == ""
    target = tmp_path / "out.jsonl"
    rc, _, err = run(capsys, "export", "-c", str(cfg), "--format", "jsonl", "--since",
                     "2025-11-25", "-o", str(target))
    assert rc == 0 and err == f"exported 2 call(s) to {target}\n"
    first = json.loads(target.read_text().splitlines()[0])
    assert [t["text"] for t in first["transcript"]] == [
        "Thanks for calling.", "I need a plumber.", "1"]


def test_cleanup_deletes_old_recordings_and_rows(cfg: Path, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    rec = cfg.parent / "var" / "recordings" / "a.wav"
    orphan = cfg.parent / "var" / "recordings" / "2025" / "orphan.wav"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 10)
    os.utime(orphan, (T0, T0))
    fresh = cfg.parent / "var" / "recordings" / "fresh.wav"
    fresh.write_bytes(b"x")
    rc, out, _ = run(capsys, "cleanup", "-c", str(cfg), "--dry-run")
    assert (rc, out) == (0, "would delete 2 recording(s) (0.0 MB) and 0 call row(s) older "
                            "than 30 day(s)\n")
    assert rec.exists() and orphan.exists()
    rc, out, _ = run(capsys, "cleanup", "-c", str(cfg))
    assert out == "deleted 2 recording(s) (0.0 MB) and 0 call row(s) older than 30 day(s)\n"
    assert not rec.exists() and not orphan.exists() and fresh.exists()
    rc, out, _ = run(capsys, "call", "-c", str(cfg), "a1b2", "--json")
    assert json.loads(out)["recording_path"] is None
    rc, out, _ = run(capsys, "cleanup", "-c", str(cfg), "--rows", "--days", "1")
    assert out == "deleted 0 recording(s) (0.0 MB) and 2 call row(s) older than 1 day(s)\n"
    rc, out, _ = run(capsys, "calls", "-c", str(cfg))
    assert out == "no calls\n"


def test_cleanup_needs_a_retention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "vio.yaml"
    path.write_text(f"storage: {{dir: {tmp_path}}}\n")
    rc, _, err = run(capsys, "cleanup", "-c", str(path))
    assert (rc, err) == (2, "vio-sbc cleanup: storage.retention_days is not set: set it in "
                            "the config or pass --days\n")


def test_missing_log_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "vio.yaml"
    path.write_text(f"storage: {{dir: {tmp_path / 'none'}}}\n")
    rc, _, err = run(capsys, "calls", "-c", str(path))
    assert (rc, err) == (2, f"vio-sbc calls: no call log at {tmp_path / 'none' / 'vio.db'} "
                            f"(storage.dir of {path})\n")
    path.write_text("storage: {retention_days: 0}\n")
    rc, _, err = run(capsys, "calls", "-c", str(path))
    assert (rc, err) == (2, f"{path}:1: storage.retention_days: must be at least 1, got 0\n")


@pytest.mark.parametrize(("text", "want"), [
    ("30m", 1800.0), ("2h", 7200.0), ("7d", 604800.0), ("1w", 604800.0), ("45s", 45.0)])
def test_since_ages(text: str, want: float) -> None:
    assert parse_since(text, 1e9) == 1e9 - want


def test_since_dates_are_utc() -> None:
    assert parse_since("2025-11-25", 0) == 1764028800.0
    assert parse_since("2025-11-25T11:26:40", 0) == T0
    assert parse_since("2025-11-25 11:26", 0) == T0 - 40
    with pytest.raises(UsageError) as info:
        parse_since("yesterday", 0)
    assert str(info.value) == ("--since 'yesterday': expected an age like 30m, 2h, 7d, 1w "
                               "or a UTC date like 2026-11-25 or 2026-11-25T14:30")


def test_now_is_not_cached() -> None:
    assert abs(parse_since("0s", time.time()) - time.time()) < 5


def test_calls_and_call_read_a_clusters_postgresql_log(
        tmp_path: Path, pg_server: object, capsys: pytest.CaptureFixture[str]) -> None:
    """`storage.database`: the shared log; rows of two workers; the password from a file
    (secret: never in the URL, never printed)."""
    from vio_sbc.calllog.postgres import PgDialect

    url = pg_server.fresh_database()  # type: ignore[attr-defined]
    for worker, cid in (("w1", "c1aaaaaaaaaa"), ("w2", "c2bbbbbbbbbb")):
        log = CallLog(PgDialect(url), worker=worker)
        log.open_call({"id": cid, "direction": "inbound", "trunk": "pbx", "status": "ended",
                       "number": "+14155550100", "received_at": T0 + int(cid[1]),
                       "recording_path": f"/elsewhere/{cid}.wav"})
        assert log.flush()
        log.close()
    secret = tmp_path / "pg.pw"
    secret.write_text("not-needed-with-trust\n")
    secret.chmod(0o600)
    cfg = tmp_path / "vio.yaml"
    cfg.write_text(f"storage: {{dir: {tmp_path / 'var'}, database: '{url}', "
                   f"password_file: {secret}}}\n")
    rc, out, _ = run(capsys, "calls", "-c", str(cfg))
    assert rc == 0 and out.splitlines()[0].split()[-1] == "WORKER"
    assert [ln.split()[-1] for ln in out.splitlines()[1:]] == ["w2", "w1"]
    rc, out, _ = run(capsys, "calls", "-c", str(cfg), "--worker", "w1", "--json")
    assert rc == 0 and [r["id"] for r in json.loads(out)] == ["c1aaaaaaaaaa"]
    rc, out, _ = run(capsys, "call", "-c", str(cfg), "c2bb")
    assert rc == 0 and "  Worker       w2" in out
    assert "/elsewhere/c2bbbbbbbbbb.wav (not on this machine: on worker w2)" in out
    assert "not-needed-with-trust" not in out
