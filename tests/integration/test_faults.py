"""Faults: RTP inactivity, SIGTERM drain, SIGKILL recovery, a locked call-log database."""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import threading
import time
import wave
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    Server,
    run_sipp,
    sip_call_id,
    start_server,
)
from tests.integration.rawsip import SDP_PCMU, UdpPeer, request

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def with_rtp(extra: str) -> str:
    return BASE_CONFIG.replace("  ports: {rtp_min}-{rtp_max}\n",
                               "  ports: {rtp_min}-{rtp_max}\n" + extra)


def test_rtp_inactivity_ends_the_call(tmp_path: Path) -> None:
    """A caller that sends no RTP is hung up after rtp.inactivity_timeout_s, with the
    reason logged and kept as a call event; a caller that sends RTP is not."""
    srv = start_server(tmp_path, with_rtp("  inactivity_timeout_s: 2\n"))
    try:
        t0 = time.monotonic()
        r = run_sipp(srv.addr, "uac_silent.xml", number="+14155550100")
        took = time.monotonic() - t0
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        assert row["status"] == "ended" and row["hangup_side"] == "system"
        assert 2.0 <= took < 15, took
        events = [e["kind"] for e in srv.events(row["id"])]
        assert "rtp_timeout" in events
        ev = srv.wait_event("rtp_timeout", call_id=row["id"])
        assert ev["idle_s"] >= 2 and ev["timeout_s"] == 2
        # control: RTP flowing (SIPp echoes the greeting) for longer than the timeout
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                     extra=["-rtp_echo", "-d", "4500"])
        assert r.rc == 0, r.output + r.errors
        row = srv.call_row(sip_call_id(srv, r.call_id))
        assert row["hangup_side"] == "caller"
    finally:
        assert srv.stop() == 0


def _answered_raw_call(srv: Server, peer: UdpPeer, number: str = "+14155550100") -> str:
    """A call from a raw socket, answered and ACKed; its SIP Call-ID."""
    text = request("INVITE", srv.port, src=peer.src, src_port=peer.port, number=number,
                   body=SDP_PCMU.format(ip=peer.src, rtp=40000))
    cid = text.split("Call-ID: ", 1)[1].split("\r\n", 1)[0]
    peer.send(text, srv.port)
    final = peer.replies(timeout=5, call_id=cid)[-1]
    assert final.status == 200, final.text
    h = final.headers
    peer.send(f"ACK sip:127.0.0.1:{srv.port} SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP {peer.src}:{peer.port};branch=z9hG4bKack{cid[:8]};rport\r\n"
              f"Max-Forwards: 70\r\nFrom: {h['from']}\r\nTo: {h['to']}\r\nCall-ID: {cid}\r\n"
              "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", srv.port)
    return cid


def test_sigterm_drains_live_call_refuses_new_ones_and_exits_0(tmp_path: Path) -> None:
    srv = start_server(tmp_path, extra_args=["--grace", "20"])
    result: dict[str, object] = {}

    def call() -> None:
        result["r"] = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                               extra=["-rtp_echo", "-d", "4000"])

    t = threading.Thread(target=call)
    t.start()
    try:
        srv.wait_event("call_answered")
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_event("draining")
        peer = UdpPeer()
        try:
            refused = peer.exchange(request("INVITE", srv.port, src_port=peer.port,
                                            body=SDP_PCMU.format(ip=peer.src, rtp=40000)),
                                    srv.port)
        finally:
            peer.close()
        assert refused[-1].status == 503
        assert int(refused[-1].headers["retry-after"]) > 0
        t.join(30)
        r = result["r"]
        assert r.rc == 0, r.output + r.errors  # type: ignore[attr-defined]
        assert srv.proc.wait(20) == 0
        row = srv.call_row(sip_call_id(srv, r.call_id))  # type: ignore[attr-defined]
        assert row["status"] == "ended" and row["hangup_side"] == "caller"
        assert row["duration_s"] >= 3.5  # the live call ran its course
    finally:
        t.join(30)
        srv.stop()


RATED = BASE_CONFIG.replace(
    "    number_format: {{country_code: \"1\", national_length: 10}}\n",
    "    number_format: {{country_code: \"1\", national_length: 10}}\n"
    "    rates: {{currency: USD, inbound: {{per_minute: 0.0085, increment: \"1/1\"}}}}\n", 1,
).replace("workspace:\n", "workspace:\n  platform_rate: {{per_minute: 0.05}}\n", 1)


def test_sigkill_then_restart_closes_the_call_as_interrupted(tmp_path: Path) -> None:
    """...and computes its cost and summary from what the call log kept: the
    recording's length (the longest source here), the transcript (the greeting)."""
    assert "rates:" in RATED and "platform_rate" in RATED
    srv = start_server(tmp_path, RATED)
    peer = UdpPeer()
    try:
        cid = _answered_raw_call(srv, peer, number="+14155550101")  # the receptionist
        srv.wait_event("call_answered")
        deadline = time.monotonic() + 10  # the call log is written asynchronously
        while srv.call_row(cid, final=False)["status"] not in ("answered", "active"):
            assert time.monotonic() < deadline, "answered call never logged as answered"
            time.sleep(0.05)
        call_id = srv.call_row(cid, final=False)["id"]
        deadline = time.monotonic() + 20
        wav: Path | None = None
        while wav is None or wav.stat().st_size < 44 + 4 * 8000 * 2:  # 2 s recorded
            assert time.monotonic() < deadline, "recording never reached 2 s"
            wav = next((srv.dir / "recordings").rglob(f"{call_id}.wav"), None)
            time.sleep(0.1)
        while not srv.db().execute("SELECT 1 FROM transcript WHERE call_id = ?",
                                   (call_id,)).fetchone():  # the greeting's row
            assert time.monotonic() < deadline, "no transcript row"
            time.sleep(0.05)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    finally:
        peer.close()
    with wave.open(str(wav)) as w:
        recorded = w.getnframes() / w.getframerate()
    again = start_server(tmp_path, RATED)  # same storage dir
    try:
        ev = again.wait_event("calls_interrupted")
        assert ev["count"] == 1
        again.wait_event("calls_recovered", count=1)
        row = again.call_row(cid)
        assert (row["status"], row["hangup_side"]) == ("interrupted", "system")
        assert row["ended_at"] is not None
        deadline = time.monotonic() + 10  # the recovered fields are written asynchronously
        while again.call_row(cid)["summary"] is None:
            assert time.monotonic() < deadline, "recovery wrote no summary"
            time.sleep(0.05)
        row = again.call_row(cid)
        events = [(e["kind"], e["data"]) for e in again.events(call_id)]
    finally:
        rc = again.stop()
        assert rc == 0, "".join(again.raw[-15:])
    # the length is the recording's (the raw peer sends no RTP: no caller speech, and
    # the greeting ended long before the kill)
    assert row["duration_s"] == pytest.approx(recorded, abs=0.001) and recorded >= 2
    breakdown = json.loads(row["cost_breakdown"])
    assert breakdown["recovery"] == {"duration_s": row["duration_s"], "from": "recording"}
    billable = math.ceil(recorded)  # "1/1" increment: whole started seconds
    expected = (Decimal("0.0085") * billable / 60).quantize(Decimal("0.000001"),
                                                            rounding=ROUND_HALF_UP) + \
        (Decimal("0.05") * billable / 60).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert (Decimal(row["cost"]), row["cost_currency"], row["billable_s"]) == (expected, "USD",
                                                                               billable)
    assert row["summary_provider"] == "extractive:recovery"
    summary = row["summary"]
    assert '- agent 00:00: "Thanks for calling. How can I help?"' in summary
    assert "Outcome: interrupted (the server stopped during the call)." in summary
    assert summary.endswith(f"Computed at restart from the call log: about {round(recorded)} s "
                            "answered, from the recording.")
    assert ("recovered", f"duration {recorded:.3f} s from the recording") in events


def test_locked_database_loses_no_writes(tmp_path: Path) -> None:
    """Another process holds the call log's write lock for 3 s while calls happen:
    the writer waits and retries; every row and event lands once it is released."""
    srv = start_server(tmp_path)
    try:
        db = srv.dir / "vio.db"
        # holds the write lock until told (or 20 s)
        holder = subprocess.Popen(
            ["python3", "-c",
             "import select,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
             "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
             "select.select([sys.stdin], [], [], 20); c.rollback()", str(db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            prefixes = []
            for _ in range(3):
                r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550100",
                             extra=["-d", "200"])
                assert r.rc == 0, r.output + r.errors
                prefixes.append(r.call_id)
            with sqlite3.connect(str(db), timeout=1) as c:  # WAL: readers still read
                pending = c.execute("SELECT count(*) FROM calls").fetchone()[0]
            assert pending == 0  # nothing could be written while the lock was held
        finally:
            holder.stdin.write("go\n")
            holder.stdin.close()
            assert holder.wait(25) == 0
        for prefix in prefixes:
            row = srv.call_row(sip_call_id(srv, prefix, timeout=20), timeout=20)
            assert row["status"] == "ended" and row["answered_at"] is not None
            assert row["rx_frames"] is not None  # the final update landed too
    finally:
        assert srv.stop() == 0
