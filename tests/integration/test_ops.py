"""The operator endpoint against the real server: /healthz, /readyz, /metrics, and
`vio-sbc health` reading them."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    ROOT,
    STRANGER_IP,
    Server,
    free_port,
    run_sipp,
    sip_call_id,
    start_server,
)
from vio_sbc.cli.status import samples

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.fixture
def ops_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    srv = start_server(tmp_path, BASE_CONFIG + f"http: {{{{listen: 127.0.0.1:{port}}}}}\n")
    try:
        srv.wait_event("http_listening")
        yield srv, f"http://127.0.0.1:{port}"
    finally:
        assert srv.stop() == 0


def value(metrics: str, name: str, **labels: str) -> float:
    return sum(v for lb, v in samples(metrics).get(name, [])
               if all(lb.get(k) == x for k, x in labels.items()))


def test_health_ready_and_metrics_follow_calls(ops_server: tuple[Server, str]) -> None:
    srv, base = ops_server
    status, body, headers = get(base + "/healthz")
    assert status == 200 and body.startswith("ok")
    assert headers["Server"].strip() == "vio-sbc"  # no Python/version in the HTTP header
    status, body, _ = get(base + "/readyz")
    assert status == 200, body
    assert '"sip_transport"' in body and '"call_log"' in body
    assert get(base + "/nope")[0] == 404

    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "2000"])
    assert r.rc == 0, r.output + r.errors
    srv.call_row(sip_call_id(srv, r.call_id))
    r = run_sipp(srv.addr, "uac_expect_403.xml", source=STRANGER_IP)
    assert r.rc == 0, r.output + r.errors
    r = run_sipp(srv.addr, "uac_expect_404.xml", number="+14155559876")
    assert r.rc == 0, r.output + r.errors
    srv.wait_event("call_refused")

    _, metrics, _ = get(base + "/metrics")
    assert value(metrics, "vio_calls_total", status="ended") == 1
    assert value(metrics, "vio_calls_total", status="refused") == 1
    assert value(metrics, "vio_rejected_requests_total", reason="stranger") == 1
    assert value(metrics, "vio_rejected_requests_total", reason="unknown_number") == 1
    assert value(metrics, "vio_answer_latency_seconds_count") == 1
    assert 0 < value(metrics, "vio_answer_latency_seconds_sum") < 2
    rx, expected = (value(metrics, "vio_rx_frames_total"),
                    value(metrics, "vio_rx_frames_expected_total"))
    assert rx > 50 and expected >= 90 and rx <= expected * 1.05  # ~2 s call, 20 ms frames
    assert "vio_active_calls" in metrics

    out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "health", "-c", str(srv.config)],
                         capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "ready: yes"
    assert "calls: ended=1, refused=1" in lines
    assert any(ln.startswith("rejected: ") and "stranger=1" in ln for ln in lines)
    assert any(ln.startswith("answer latency: 1 answered") for ln in lines)


def test_readyz_fails_while_the_call_log_is_locked(ops_server: tuple[Server, str]) -> None:
    srv, base = ops_server
    holder = subprocess.Popen(
        ["python3", "-c",
         "import select,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
         "select.select([sys.stdin], [], [], 20); c.rollback()", str(srv.dir / "vio.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        status, body, _ = get(base + "/readyz")
        assert status == 503 and '"ok": false' in body and "locked" in body
        out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "health", "-c",
                              str(srv.config)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 1 and out.stdout.startswith("ready: NO")
        assert "FAIL call_log" in out.stdout
        out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "status", "-c",
                              str(srv.config)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out.stdout + out.stderr  # status: the same verdict
        assert out.stdout.splitlines()[1] == "ready: NO" and "FAIL call_log" in out.stdout
        assert get(base + "/healthz")[0] == 200  # alive, just not ready
    finally:
        holder.stdin.write("go\n")
        holder.stdin.close()
        assert holder.wait(25) == 0
    assert get(base + "/readyz")[0] == 200


def test_a_refused_call_log_write_is_a_metric_a_log_line_and_not_ready(
        ops_server: tuple[Server, str]) -> None:
    """The database refuses the call row (a trigger another process adds: a real
    SQLite error, not a lock): the call goes on, the write (and the updates of the row
    it lost) are counted and logged, and /readyz fails (for 60 s: the unit test
    tests/unit/calllog/test_store.py covers the end of the hold). Later calls are
    logged again."""
    import sqlite3

    srv, base = ops_server
    db = sqlite3.connect(str(srv.dir / "vio.db"), timeout=10)
    with db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON calls "
                   "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "500"])
    assert r.rc == 0, r.output + r.errors  # SIP does not care
    failed = srv.wait_event("call_log_write_failed")
    assert "refused by the test" in failed["error"] and failed["write_errors"] >= 1
    status, body, _ = get(base + "/readyz")
    assert status == 503 and "write(s) failed" in body, body
    _, metrics, _ = get(base + "/metrics")
    assert value(metrics, "vio_calllog_write_errors_total") >= 1
    with db:
        db.execute("DROP TRIGGER refuse")
    db.close()
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "500"])
    assert r.rc == 0, r.output + r.errors
    assert srv.call_row(sip_call_id(srv, r.call_id))["status"] == "ended"


def test_health_without_http_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "vio.yaml"
    cfg.write_text("sip: {listen: 127.0.0.1:5999}\n")
    out = subprocess.run([sys.executable, "-m", "vio_sbc.cli", "health", "-c", str(cfg)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.strip() == (f"{cfg}: no http.listen configured: health needs the HTTP "
                                  "endpoint")


def test_readyz_and_metrics_follow_trunk_registration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registering trunk: not ready until registered (SIPp registrar with 401
    digest), vio_trunk_registered follows; the registrar gone -> not ready again."""
    from tests.integration.trunk_harness import (
        PASSWORD,
        REGISTRAR_IP,
        config_text,
        start_uas,
        use_trunk_password,
        wait_after,
    )

    use_trunk_password(monkeypatch)

    reg_port, http_port = free_port(REGISTRAR_IP), free_port()
    text = config_text(reg_port=reg_port) + f"http: {{{{listen: 127.0.0.1:{http_port}}}}}\n"
    srv = start_server(tmp_path, text)
    base = f"http://127.0.0.1:{http_port}"
    registrar = None
    try:
        srv.wait_event("http_listening")
        status, body, _ = get(base + "/readyz")
        assert status == 503 and "not registered: reg" in body, body
        registrar = start_uas(tmp_path, "uas_registrar_401.xml", REGISTRAR_IP, reg_port,
                              ["-t", "t1", "-set", "pw", PASSWORD, "-set", "exp", "6"])
        n, _ = wait_after(srv, 0, "trunk_registered", trunk="reg", timeout=30)
        deadline = time.monotonic() + 5  # gauges follow on the next 1 s tick
        while get(base + "/readyz")[0] != 200:
            assert time.monotonic() < deadline, get(base + "/readyz")[1]
            time.sleep(0.1)
        assert value(get(base + "/metrics")[1], "vio_trunk_registered", trunk="reg") == 1
        registrar.stop()
        wait_after(srv, n, "trunk_registration_failed", trunk="reg", timeout=30)
        deadline = time.monotonic() + 5
        while get(base + "/readyz")[0] != 503:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert value(get(base + "/metrics")[1], "vio_trunk_registered", trunk="reg") == 0
    finally:
        if registrar is not None:
            registrar.stop()
        assert srv.stop() == 0


def test_dialer_queue_depth_is_exported(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.trunk_harness import config_text, use_trunk_password

    use_trunk_password(monkeypatch)

    http_port = free_port()
    text = (config_text() + "dialer: {{enabled: true}}\n"
            + f"http: {{{{listen: 127.0.0.1:{http_port}}}}}\n")
    srv = start_server(tmp_path, text)
    base = f"http://127.0.0.1:{http_port}"
    try:
        srv.wait_event("http_listening")
        assert value(get(base + "/metrics")[1], "vio_dialer_queue_depth") == 0
        for n in range(2):  # callbacks a day ahead: queued, not dialled
            out = subprocess.run(
                [sys.executable, "-m", "vio_sbc.cli", "dial", "-c", str(srv.config),
                 "--from", "+14155550130", "--to", f"+1415555990{n}",
                 "--at", "2099-01-01T12:00:00+00:00"],
                capture_output=True, text=True, timeout=30, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
        assert value(get(base + "/metrics")[1], "vio_dialer_queue_depth") == 2
    finally:
        assert srv.stop() == 0
