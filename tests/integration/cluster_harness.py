"""Harness for the cluster tests: `vio-sbc cluster run` (real Kamailio front + 2 workers)
on loopback over a throwaway PostgreSQL database, a SIPp callee behind the front, SIPp
callers, and reads of the shared call log and queue.

Every process is started here and stopped by its PID (the launcher stops its front and
workers, also by PID); every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import SCENARIOS, free_port, free_rtp_range
from vio_sbc.qa.sipp import sipp_command

FRONT_IP = "127.0.0.1"
TRUNK_IP = "127.0.0.2"
CALLEE_IP = "127.0.0.3"
STRANGER_IP = "127.0.0.9"
WORKERS = ("127.0.0.11", "127.0.0.12")
SALES, SUPPORT = "+14155550100", "+14155550101"

CONFIG = """\
sip: {{listen: "127.0.0.1:{port}", transports: [udp], max_calls: 80, max_cps: 50}}
rtp: {{ports: "{rtp_min}-{rtp_max}"}}
storage: {{dir: "{dir}", database: "{url}", recordings: false}}
cluster: {{front: "{front_ip}:{front_port}", workers: {workers}, first_worker: {first_worker},
          probe_interval_s: 1}}
agents:
  sales: {{kind: scripted, greeting: "Sales here.", stt: {{provider: none}}}}
  support: {{kind: scripted, greeting: "Support here.", stt: {{provider: none}}}}
workspace: {{default_agent: sales}}
trunks:
  pbx:
    kind: byoc
    inbound: {{allow: ["{trunk_ip}/32"]}}
    outbound: {{host: {callee_ip}, port: {callee_port}, max_calls: 40, cps: 50,
               options_interval_s: 0}}
numbers:
  "{sales}": {{trunk: pbx, direction: both, agent: sales}}
  "{support}": {{trunk: pbx, direction: inbound, agent: support}}
dialer: {{enabled: {dialer}, lease_s: 4, poll_s: 0.05}}
log: {{level: info}}
"""


def sipp_exe() -> str:
    exe = shutil.which("sipp")
    if exe is None:
        pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
    return exe


class Callee:
    """SIPp UAS behind the front (sipp_scenarios/uas_cluster.xml): answers, hangs up."""

    def __init__(self, tmp: Path, *, talk_ms: int = 1000, max_calls: int = 300) -> None:
        self.port = free_port(CALLEE_IP)
        self.log = tmp / f"callee-{self.port}.log"
        self.out = tmp / f"callee-{self.port}.out"
        with self.out.open("w") as out:
            self.proc = subprocess.Popen(
                [sipp_exe(), "-sf", str(SCENARIOS / "uas_cluster.xml"), "-i", CALLEE_IP,
                 "-p", str(self.port), "-mi", CALLEE_IP,
                 "-mp", str(free_rtp_range(CALLEE_IP, 4)[0]), "-m", str(max_calls),
                 "-d", str(talk_ms), "-nostdin", "-timeout", "400s", "-trace_logs",
                 "-log_file", str(self.log)], stdout=out, stderr=subprocess.STDOUT, cwd=tmp)

    def invites(self) -> list[tuple[str, str, str]]:
        """(call-id, number, hop) of each INVITE call SIPp saw."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        seen: dict[str, tuple[str, str, str]] = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "INVITE":
                seen.setdefault(parts[2], (parts[2], parts[3], parts[4]))
        return list(seen.values())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Cluster:
    proc: subprocess.Popen[str]
    config: Path
    dir: Path
    url: str
    port: int  # the workers' SIP port
    front_port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @property
    def front(self) -> str:
        return f"{FRONT_IP}:{self.front_port}"

    def worker(self, i: int) -> str:
        return f"{WORKERS[i - 1]}:{self.port}"

    def _reader(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line.rstrip())
            if line.startswith("{"):
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass

    def wait(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None:
                raise RuntimeError(f"launcher exited {self.proc.returncode}: {self.raw[-20:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not within {timeout}s; log: {self.raw[-12:]}")
            time.sleep(0.1)

    def named(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("event") == event
                and all(e.get(k) == v for k, v in match.items())]

    def pid(self, worker: str) -> int:
        started = self.named("worker_started", worker=worker) + \
            self.named("worker_restarted", worker=worker)
        return int(started[-1]["pid"])

    def active_workers(self) -> int:
        """Workers the dispatcher has active (kamcmd over the front's ctl socket)."""
        out = subprocess.run(["kamcmd", "-s", f"unix:{self.dir / 'front' / 'kamailio_ctl'}",
                              "dispatcher.list"], capture_output=True, text=True, timeout=10)
        return out.stdout.count("FLAGS: AP")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c",
                               str(self.config)], capture_output=True, text=True, timeout=30)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: ours only
                self.proc.wait(5)
        return int(self.proc.returncode)


def start_cluster(tmp: Path, url: str, callee_port: int, workers: int = 2,
                  dialer: bool = True) -> Cluster:
    port = free_port(WORKERS[0])
    front_port = free_port(FRONT_IP)
    rtp_min, rtp_max = free_rtp_range(WORKERS[0], 200)
    cfg = tmp / "vio.yaml"
    cfg.write_text(CONFIG.format(
        port=port, rtp_min=rtp_min, rtp_max=rtp_max, dir=tmp / "var", url=url,
        front_ip=FRONT_IP, front_port=front_port, first_worker=WORKERS[0], trunk_ip=TRUNK_IP,
        workers=workers, dialer="true" if dialer else "false",
        callee_ip=CALLEE_IP, callee_port=callee_port, sales=SALES, support=SUPPORT))
    proc = subprocess.Popen([sys.executable, "-m", "vio_sbc.cli", "cluster", "run", "-c",
                             str(cfg), "--grace", "3"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp,
                            start_new_session=True)
    cl = Cluster(proc, cfg, tmp / "var", url, port, front_port)
    threading.Thread(target=cl._reader, daemon=True).start()
    try:
        cl.wait("the workers listening", lambda: len(cl.named("listening")) >= workers, 60)
        cl.wait("the workers active at the front", lambda: cl.active_workers() == workers, 30)
    except Exception:
        cl.stop()
        raise
    return cl


@dataclass
class Calls:
    proc: subprocess.Popen[str]
    prefix: str
    errors: Path

    def wait(self, timeout: float) -> int:
        self.proc.wait(timeout)
        return int(self.proc.returncode)

    def output(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read()


def callers(target: str, tmp: Path, scenario: str, *, number: str, calls: int, rate: float,
            limit: int, hold_ms: int, source: str = TRUNK_IP, claim: str = "127.0.0.66",
            tag: str = "c") -> Calls:
    """SIPp callers (in the background): `calls` calls at `rate`/s, `limit` at once."""
    prefix = f"{tag}-{time.monotonic_ns()}"
    err = tmp / f"{prefix}.err"
    cmd = sipp_command(target, SCENARIOS / scenario, source=source, number=number,
                       port=free_port(source), media_port=free_rtp_range(source, 4)[0],
                       calls=calls, limit=limit, rate=rate, timeout_s=240, error_file=err,
                       cid_prefix=prefix,
                       extra=["-key", "claim", claim, "-d", str(hold_ms)])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp)
    return Calls(proc, prefix, err)
