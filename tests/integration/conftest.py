"""Real-peer harness: the real `vio-sbc run` on loopback, driven by SIPp.

Ports are picked free (bound and released), every process is started and
stopped by PID, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vio_sbc.qa.sipp import sipp_command, stop_process

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "sipp_scenarios"
TRUNK_IP = "127.0.0.2"
STRANGER_IP = "127.0.0.9"

pytestmark = pytest.mark.integration


def free_port(host: str = "127.0.0.1", both: bool = True) -> int:
    """A port free for UDP (and TCP) on `host`."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, 0))
        port = u.getsockname()[1]
        try:
            if both:
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    t.bind((host, port))
                except OSError:
                    continue
                finally:
                    t.close()
            return int(port)
        finally:
            u.close()
    raise RuntimeError("no free port")


def free_rtp_range(host: str = "127.0.0.1", size: int = 40) -> tuple[int, int]:
    """An even-based range of `size` UDP ports that are free right now."""
    import random

    for _ in range(100):
        base = random.randrange(30000, 60000 - size, 2)
        socks = []
        try:
            for p in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, p))
            return base, base + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free RTP range")


# Server config templates. start_server fills {port}, {rtp_min}, {rtp_max}, {dir} and
# {trunk_ip} with str.format: literal braces are doubled.


def config_head(max_calls: int | None = None) -> str:
    """The sip/rtp/storage sections every server config of the tests starts with."""
    return ("\nsip:\n  listen: 127.0.0.1:{port}\n"
            + (f"  max_calls: {max_calls}\n" if max_calls is not None else "")
            + "rtp:\n  ports: {rtp_min}-{rtp_max}\nstorage:\n  dir: {dir}\n")


def braced(template: str) -> str:
    """A template for a file formatted twice (its own fields first, then start_server's)."""
    return template.replace("{", "{{").replace("}", "}}")


STOCK_AGENTS = """workspace:
  default_agent: receptionist
agents:
  receptionist: {{kind: scripted, greeting: "Thanks for calling. How can I help?"}}
  echo: {{kind: echo}}
"""
PBX_TRUNK = """  pbx:
    kind: byoc
    inbound:
      allow: [{trunk_ip}/32]
"""
BASE_CONFIG = config_head(max_calls=50) + STOCK_AGENTS + "trunks:\n" + PBX_TRUNK + """\
    number_format: {{country_code: "1", national_length: 10}}
  other:
    kind: byoc
    inbound:
      allow: [127.0.0.3/32]
numbers:
  "+14155550100": {{trunk: pbx, direction: both, agent: echo}}
  "+14155550101": {{trunk: pbx, direction: inbound}}
  "+14155550102": {{trunk: pbx, direction: outbound}}
  "+14155550103": {{trunk: other, direction: both}}
  "+14155550104": {{trunk: pbx, direction: both, ring_seconds: 10}}
"""


@dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int
    dir: Path
    config: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    _q: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _reader(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.lines.append(ev)
            self._q.put(ev)

    def wait_event(self, event: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        """Next log event named `event` with the given fields (events seen earlier count too)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.lines[seen:]:
                seen += 1
                if ev.get("event") == event and all(ev.get(k) == v for k, v in match.items()):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {event} {match} within {timeout}s; log tail: "
                                   f"{self.raw[-10:]}")
            try:
                self._q.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and seen >= len(self.lines):
                    raise RuntimeError(
                        f"server exited {self.proc.returncode}: {self.raw[-20:]}"
                    ) from None

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.dir / "vio.db"), timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def call_row(self, sip_call_id: str, timeout: float = 10.0, final: bool = True) -> sqlite3.Row:
        """The call-log row for a SIP Call-ID once it is final (bounded poll of the DB)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.db() as c:
                row = c.execute(
                    "SELECT * FROM calls WHERE sip_call_id = ?", (sip_call_id,)
                ).fetchone()
            if row is not None and (not final or row["ended_at"] is not None):
                return row
            if time.monotonic() > deadline:
                raise TimeoutError(f"no final call row for {sip_call_id}")
            time.sleep(0.05)

    def events(self, call_id: str) -> list[sqlite3.Row]:
        with self.db() as c:
            return list(c.execute("SELECT * FROM call_events WHERE call_id = ? ORDER BY id",
                                  (call_id,)))

    def stop(self, timeout: float = 20.0) -> int:
        return stop_process(self.proc, timeout)


def start_server(tmp: Path, config_text: str | None = None, extra_args: list[str] | None = None,
                 wait: bool = True, prefix: list[str] | None = None) -> Server:
    """Run `vio-sbc run` on a fresh config; `prefix` goes before the command (e.g. an
    `unshare -m sh -c '...; exec "$@"' sh` that mounts something for the server only:
    the server's PID is still the process's, as long as the prefix ends in exec)."""
    port = free_port()
    rtp_min, rtp_max = free_rtp_range()
    text = (config_text or BASE_CONFIG).format(
        port=port, rtp_min=rtp_min, rtp_max=rtp_max, dir=tmp / "var", trunk_ip=TRUNK_IP
    )
    cfg = tmp / "vio.yaml"
    cfg.write_text(text)
    proc = subprocess.Popen(
        [*(prefix or []), sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg),
         *(extra_args or [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp,
    )
    srv = Server(proc=proc, port=port, dir=tmp / "var", config=cfg)
    threading.Thread(target=srv._reader, daemon=True).start()
    if wait:
        try:
            srv.wait_event("listening", timeout=30)
        except Exception:
            srv.stop()
            raise
    return srv


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        rc = srv.stop()
        assert rc == 0, f"server exit {rc}: {srv.raw[-20:]}"


@dataclass
class SippResult:
    rc: int
    output: str
    call_id: str
    errors: str


def run_sipp(server_addr: str, scenario: str, *, number: str = "+14155550100",
             source: str = TRUNK_IP, transport: str = "u1", extra: list[str] | None = None,
             timeout: float = 40.0, workdir: Path | None = None) -> SippResult:
    """Run one SIPp call (-m 1) and return its exit code and Call-ID."""
    if shutil.which("sipp") is None:
        pytest.fail("sipp not installed (make install installs Debian's sip-tester)")
    wd = workdir or Path(os.environ.get("TMPDIR", "/tmp"))
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    err = wd / f"sipp-{tag}.err"
    cid_prefix = f"vio-{tag}"
    cmd = sipp_command(server_addr, SCENARIOS / scenario, source=source, number=number,
                       port=free_port(source), media_port=free_rtp_range(source, 4)[0],
                       transport=transport, timeout_s=timeout - 5, error_file=err,
                       cid_prefix=cid_prefix, extra=extra or [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=wd)
    errors = err.read_text(errors="replace") if err.exists() else ""
    return SippResult(proc.returncode, proc.stdout + proc.stderr, cid_prefix, errors)


def sip_call_id(srv: Server, prefix: str, timeout: float = 10.0) -> str:
    """The full SIP Call-ID of the call SIPp made (the log is written asynchronously:
    bounded poll)."""
    deadline = time.monotonic() + timeout
    while True:
        with srv.db() as c:
            row = c.execute("SELECT sip_call_id FROM calls WHERE sip_call_id LIKE ?",
                            (prefix + "%",)).fetchone()
        if row is not None:
            return str(row[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no call row with Call-ID {prefix}*")
        time.sleep(0.05)


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of /metrics samples `name` whose labels include `labels`."""
    import urllib.request

    from vio_sbc.cli.status import samples

    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return sum(v for lb, v in samples(text).get(name, [])
               if all(lb.get(k) == want for k, want in labels.items()))


def wait_metric(url: str, name: str, at_least: float, timeout: float = 10.0,
                **labels: str) -> float:
    """Bounded poll of /metrics until `metric(...)` reaches `at_least`."""
    deadline = time.monotonic() + timeout
    while True:
        n = metric(url, name, **labels)
        if n >= at_least:
            return n
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}{labels}: {n} < {at_least} after {timeout}s")
        time.sleep(0.05)


def rejected(url: str, reason: str) -> float:
    return metric(url, "vio_rejected_requests_total", reason=reason)


def wait_rejected(url: str, reason: str, at_least: float, timeout: float = 10.0) -> float:
    return wait_metric(url, "vio_rejected_requests_total", at_least, timeout, reason=reason)
