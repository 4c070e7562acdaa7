"""Harness for the dialer tests: a SIPp callee (UAS) on 127.0.0.3, a server config with
the dialer on, the CLI, and readers for SIPp's per-call log and the two databases."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    SCENARIOS,
    Server,
    config_head,
    free_port,
    free_rtp_range,
)

CALLEE_IP = "127.0.0.3"
FROM = "+14155550100"

# {{ }} survive conftest.start_server's str.format; @NAME@ are filled by dialer_config()
CONFIG = config_head(max_calls=50) + """\
agents:
  receptionist: {{kind: scripted, greeting: "Hello, this is a test call."}}
trunks:
  out:
    kind: byoc
    inbound: {{allow: [127.0.0.3/32]}}
    outbound: {{host: 127.0.0.3, port: @UAS_PORT@, max_calls: @MAX_CALLS@, cps: @CPS@,
               options_interval_s: 0}}
numbers:
  "+14155550100": {{trunk: out, direction: both}}
dialer:
  enabled: true
  lease_s: @LEASE@
  poll_s: 0.05
  clock_offset_s: @OFFSET@
"""


def dialer_config(uas_port: int, *, cps: float = 5, max_calls: int = 10, lease_s: float = 3,
                  clock_offset_s: float = 0.0) -> str:
    return (CONFIG.replace("@UAS_PORT@", str(uas_port)).replace("@CPS@", f"{cps:g}")
            .replace("@MAX_CALLS@", str(max_calls)).replace("@LEASE@", f"{lease_s:g}")
            .replace("@OFFSET@", repr(clock_offset_s)))


@dataclass
class CalleeCall:
    call_id: str
    number: str
    invite_ms: int
    end_ms: int | None


class Callee:
    """SIPp UAS (sipp_scenarios/uas_dialer.xml): many calls; numbers ending in 486 busy."""

    def __init__(self, tmp: Path, *, talk_ms: int = 1000, max_calls: int = 200) -> None:
        sipp = shutil.which("sipp")
        if sipp is None:
            pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
        self.port = free_port(CALLEE_IP)
        self.log = tmp / f"callee-{self.port}.log"
        self.out = tmp / f"callee-{self.port}.out"
        media = free_rtp_range(CALLEE_IP, 4)[0]
        with self.out.open("w") as out:
            self.proc = subprocess.Popen(
                [sipp, "-sf", str(SCENARIOS / "uas_dialer.xml"), "-i", CALLEE_IP,
                 "-p", str(self.port), "-mi", CALLEE_IP, "-mp", str(media),
                 "-m", str(max_calls), "-d", str(talk_ms), "-nostdin", "-timeout", "170s",
                 "-trace_logs", "-log_file", str(self.log)],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp)

    def calls(self) -> list[CalleeCall]:
        """One entry per call SIPp saw (an INVITE retransmission is not a new call)."""
        calls: dict[str, CalleeCall] = {}
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 4 or parts[0] not in ("INVITE", "END"):
                continue
            kind, ms, cid, number = parts[0], int(parts[1]), parts[2], parts[3]
            if kind == "INVITE":
                assert cid not in calls, f"SIPp saw a second INVITE call for {cid}"
                calls[cid] = CalleeCall(cid, number, ms, None)
            elif cid in calls:
                calls[cid].end_ms = ms
        return sorted(calls.values(), key=lambda c: c.invite_ms)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.out.read_text(errors="replace")


def cli(srv_config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c", str(srv_config)],
                          capture_output=True, text=True, timeout=30, cwd=srv_config.parent)


def dialer_db(srv: Server) -> sqlite3.Connection:
    conn = sqlite3.connect(str(srv.dir / "dialer.db"), timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def rows(conn_factory: Callable[[], sqlite3.Connection], sql: str,
         params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = conn_factory()
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def wait_until(what: str, check: Callable[[], bool], timeout: float, srv: Server) -> None:
    """Poll `check` (a database read) until true, bounded; fails with the server's log."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s; log tail: "
                               f"{srv.raw[-8:]}")
        if srv.proc.poll() is not None:
            raise RuntimeError(f"server exited {srv.proc.returncode}: {srv.raw[-20:]}")
        time.sleep(0.1)


def jobs_done(srv: Server, n: int) -> Callable[[], bool]:
    def check() -> bool:
        got = rows(lambda: dialer_db(srv), "SELECT count(*) FROM jobs WHERE status IN "
                   "('answered', 'completed', 'failed', 'cancelled')")
        return int(got[0][0]) >= n
    return check


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals [start, end) open at once (an end before a start at the same time)."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda p: (p[0], p[1]))
    live = best = 0
    for _, d in points:
        live += d
        best = max(best, live)
    return best
