"""`vio-sbc status` against the real server: the control socket's trunks and live
calls with /readyz and /metrics at a glance, figures checked against the SIPp calls
that were made; control socket only when http is off; exit codes when parts are down."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    ROOT,
    STRANGER_IP,
    Server,
    SippResult,
    free_port,
    free_rtp_range,
    run_sipp,
    sip_call_id,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def status(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", "status", "-c",
                           str(srv.config), *args],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)


def status_until(srv: Server, *want: str, timeout: float = 8.0) -> list[str]:
    """`status` lines once every `want` is one of them (gauges follow on the 1 s tick)."""
    deadline = time.monotonic() + timeout
    while True:
        out = status(srv)
        lines = out.stdout.splitlines()
        if all(w in lines for w in want):
            return lines
        assert time.monotonic() < deadline, f"no {want!r} in {out.stdout}{out.stderr}"
        time.sleep(0.2)


def test_status_shows_calls_latency_and_rejections(tmp_path: Path) -> None:
    srv = start_server(tmp_path, BASE_CONFIG + f"http: {{{{listen: 127.0.0.1:{free_port()}}}}}\n")
    try:
        srv.wait_event("http_listening")
        lines = status_until(srv, "active calls: 0")
        assert lines[0].startswith(f"server: {srv.config} up ") and "live calls 0" in lines[0]
        assert lines[1] == "ready: yes"
        assert "calls: none" in lines and "dialer queue: off" in lines

        # a call held up while status looks at it
        held: list[SippResult] = []
        t = threading.Thread(target=lambda: held.append(run_sipp(
            srv.addr, "uac_echo_audio.xml", number="+14155550100",
            extra=["-rtp_echo", "-d", "6000"])))
        t.start()
        try:
            srv.wait_event("media_active", timeout=15)
            lines = status_until(srv, "active calls: 1 (inbound/pbx=1)")
            table = lines[lines.index(next(ln for ln in lines if ln.startswith("CALL "))):]
            assert len(table) == 2, lines
            assert table[1].split()[1:7] == ["inbound", "pbx", "+14155550100",
                                             "sip:+14155559999@127.0.0.2:" +
                                             table[1].split()[4].rsplit(":", 1)[1], "echo",
                                             "active"], table
        finally:
            t.join(40)
        assert held and held[0].rc == 0, held
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550100",
                     extra=["-rtp_echo", "-d", "1000"])
        assert r.rc == 0, r.output + r.errors
        rows = [srv.call_row(sip_call_id(srv, x.call_id)) for x in (held[0], r)]
        assert run_sipp(srv.addr, "uac_expect_404.xml", number="+14155559876").rc == 0
        assert run_sipp(srv.addr, "uac_expect_403.xml", source=STRANGER_IP).rc == 0
        srv.wait_event("call_refused")

        lines = status_until(srv, "calls: ended=2, refused=1", "active calls: 0")
        assert "ready: yes" in lines
        assert "rejected: stranger=1, unknown_number=1" in lines
        assert any(ln.startswith("answer latency: 2 answered, p50 ") for ln in lines), lines
        frames = next(ln for ln in lines if ln.startswith("frames: "))
        assert int(frames.split()[1]) > 300, frames  # ~7 s of echoed audio at 50 frames/s
        assert not any(ln.startswith("CALL ") for ln in lines)  # no call up, no table

        out = status(srv, "--json")
        assert out.returncode == 0, out.stderr
        reply: dict[str, Any] = json.loads(out.stdout)
        m = reply["http"]["metrics"]
        assert m["calls_total"] == {"ended": 2, "refused": 1}
        assert m["rejected"] == {"stranger": 1, "unknown_number": 1}
        assert reply["stats"]["answered"] == 2 and reply["calls"] == []
        lat = m["answer_latency"]
        assert lat["answered"] == 2 and 0 < lat["p50_ms"] <= lat["p95_ms"]
        # the histogram's mean against the call rows (INVITE row opened -> answered)
        row_mean_ms = 1000 * sum(r["answered_at"] - r["received_at"] for r in rows) / 2
        assert abs(lat["mean_ms"] - row_mean_ms) < 20, (lat, row_mean_ms)
        assert m["rx_frames"] == sum(r["rx_frames"] for r in rows)
    finally:
        assert srv.stop() == 0


def test_status_without_http_uses_the_control_socket_only(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        out = status(srv)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[1] == (f"metrics: off (no http.listen in {srv.config}; "
                            "readiness not checked)")
        assert lines[2].split() == ["TRUNK", "KIND", "OUTBOUND", "REGISTRATION", "HEALTH",
                                    "CALLS"]
        assert json.loads(status(srv, "--json").stdout)["http"] is None
        # http.listen added to the file but not applied (needs a restart): not answering
        port = free_port()
        srv.config.write_text(srv.config.read_text()
                              + f"http: {{listen: 127.0.0.1:{port}}}\n")
        out = status(srv)
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"metrics: http://127.0.0.1:{port} is not answering: " in out.stdout
    finally:
        assert srv.stop() == 0
    out = status(srv)
    assert out.returncode == 4 and out.stdout == ""
    assert f"no server on {srv.dir / 'control.sock'}" in out.stderr


def test_status_counts_an_outbound_call_as_outbound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call placed through the server (`call-out`, SIPp as the 407-challenging
    termination): the gauge and the live-call table say outbound on its trunk."""
    from tests.integration.trunk_harness import (
        TERM_IP,
        config_text,
        start_uas,
        use_trunk_password,
    )

    use_trunk_password(monkeypatch)

    term_port = free_port(TERM_IP)
    srv = start_server(tmp_path, config_text(term_port=term_port)
                       + f"http: {{{{listen: 127.0.0.1:{free_port()}}}}}\n")
    term = start_uas(tmp_path, "uas_twilio_407.xml", TERM_IP, term_port,
                     ["-mi", TERM_IP, "-mp", str(free_rtp_range(TERM_IP, 4)[0]), "-rtp_echo",
                      "-m", "1", "-d", "4000", "-set", "from", "+14155550130"])
    dial = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "call-out", "-c",
                             str(srv.config), "--from", "+14155550130", "--to", "+14155559000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        srv.wait_event("media_active", timeout=20)
        lines = status_until(srv, "active calls: 1 (outbound/tw=1)")
        row = next(ln for ln in lines[lines.index(next(
            ln for ln in lines if ln.startswith("CALL "))) + 1:])
        assert row.split()[1:4] == ["outbound", "tw", "+14155550130"], lines
        out, err = dial.communicate(timeout=30)
        assert dial.returncode == 0, out + err + term.output()
        lines = status_until(srv, "calls: ended=1", "active calls: 0")
        assert "answer latency: 0 answered, p50 -, p95 -, mean -" in lines  # inbound only
    finally:
        if dial.poll() is None:
            dial.kill()
            dial.wait(5)
        term.stop()
        assert srv.stop() == 0
