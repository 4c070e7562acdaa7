"""Benchmark plumbing: servers started by PID, /proc sampling, SIPp runs, percentiles.

Everything is bounded: every wait has a deadline, every SIPp run a -timeout and
a subprocess timeout; only processes started here are signalled, by PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vio_sbc.qa.sipp import free_udp_port, sipp_command, stop_process
from vio_sbc.qa.suite import parse_stat_csv

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "sipp_scenarios"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port(host: str = "127.0.0.1") -> int:
    return free_udp_port(host)


def proc_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def thread_ticks(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            name = f"{head.split('(', 1)[1]}:{tid}"
            fields = rest.split()
            out[name] = int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return out


@dataclass
class Sampler:
    """Samples CPU% (of one core) and RSS of a set of PIDs every `period` seconds."""

    pids: list[int]
    period: float = 1.0
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # t, cpu%, rss MB
    _stop: threading.Event = field(default_factory=threading.Event)
    _t: threading.Thread | None = None

    def start(self) -> Sampler:
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _total(self) -> tuple[int, float]:
        ticks, rss = 0, 0.0
        for pid in self.pids:
            try:
                ticks += proc_ticks(pid)
                rss += proc_rss_mb(pid)
            except OSError:
                pass
        return ticks, rss

    def _run(self) -> None:
        t0, (k0, _) = time.monotonic(), self._total()
        while not self._stop.wait(self.period):
            t1, (k1, rss) = time.monotonic(), self._total()
            self.samples.append((t1, 100.0 * (k1 - k0) / CLK_TCK / (t1 - t0), rss))
            t0, k0 = t1, k1

    def stop(self) -> None:
        self._stop.set()
        if self._t:
            self._t.join(5)

    def window(self, t_from: float, t_to: float) -> list[tuple[float, float, float]]:
        return [s for s in self.samples if t_from <= s[0] <= t_to]


def top_threads(pid: int, seconds: float) -> list[tuple[str, float]]:
    """CPU% of each thread over `seconds` (the clock thread vs the engine vs main)."""
    a = thread_ticks(pid)
    time.sleep(seconds)
    b = thread_ticks(pid)
    rows = [(k, 100.0 * (b[k] - a.get(k, 0)) / CLK_TCK / seconds) for k in b]
    return sorted(rows, key=lambda r: -r[1])[:4]


class Server:
    """A server process (vio-sbc or the baseline) with its stdout in a file."""

    def __init__(self, cmd: list[str], log: Path, cwd: Path, port: int) -> None:
        self.log_path = log
        self.port = port
        self._f = log.open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=self._f, stderr=subprocess.STDOUT, cwd=cwd,
                                     env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if name is None or ev.get("event") == name:
                out.append(ev)
        return out

    def wait_event(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}; see {self.log_path}")
            if self.events(name):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no {name} from server within {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 30.0) -> int:
        rc = stop_process(self.proc, timeout)
        self._f.close()
        return rc


VIO_CONFIG = """
sip: {{listen: "127.0.0.1:{port}", transports: [udp], max_calls: {max_calls}}}
rtp: {{ports: {rtp_min}-{rtp_max}}}
storage: {{dir: "{dir}", recordings: true}}
workspace: {{default_agent: receptionist}}
agents:
  receptionist: {{kind: scripted, greeting: "Thanks for calling. How can I help?"}}
trunks:
  bench:
    kind: byoc
    inbound: {{allow: [127.0.0.2/32]}}
numbers:
  "+14155550100": {{trunk: bench, direction: inbound}}
log: {{level: info}}
"""


def start_vio(work: Path, port: int, max_calls: int, rtp: tuple[int, int]) -> Server:
    cfg = work / "vio.yaml"
    cfg.write_text(VIO_CONFIG.format(port=port, max_calls=max_calls, rtp_min=rtp[0],
                                     rtp_max=rtp[1], dir=work / "var"))
    srv = Server([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg), "--grace", "5"],
                 work / "vio.log", work, port)
    srv.wait_event("listening")
    return srv


def start_baseline(work: Path, port: int, max_calls: int, rtp: tuple[int, int]) -> Server:
    srv = Server([sys.executable, str(ROOT / "bench" / "baseline_uas.py"),
                  "--listen", f"127.0.0.1:{port}", "--rtp", f"{rtp[0]}-{rtp[1]}",
                  "--max-calls", str(max_calls)], work / "baseline.log", work, port)
    srv.wait_event("listening")
    return srv


@dataclass
class SippRun:
    rc: int
    stats: dict[str, str]
    rtt_ms: list[float]
    wall_s: float
    proc_pid: int


def sipp(target: str, scenario: str, work: Path, tag: str, *, calls: int, limit: int,
         rate: float, extra: list[str], timeout_s: float,
         on_start: Any = None) -> SippRun:
    """One SIPp UAC run from 127.0.0.2 with -trace_stat and -trace_rtt in `work/tag/`."""
    wd = work / tag
    wd.mkdir(parents=True, exist_ok=True)
    if not (wd / "pcap").exists():
        (wd / "pcap").symlink_to(SCENARIOS / "pcap")
    cmd = sipp_command(target, SCENARIOS / scenario, source="127.0.0.2", number="+14155550100",
                       calls=calls, limit=limit, rate=rate, timeout_s=timeout_s,
                       timeout_error=False, stat_file=wd / "stat.csv", stat_period_s=2,
                       cid_prefix=tag, extra=["-max_socket", "4096", "-trace_rtt", "-rtt_freq",
                                              "1", *extra])
    t0 = time.monotonic()
    with (wd / "sipp.out").open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=wd)
        if on_start is not None:
            on_start(proc.pid)
        try:
            rc = proc.wait(timeout_s + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(5)
    stats = parse_stat_csv((wd / "stat.csv").read_text()) if (wd / "stat.csv").exists() else {}
    rtt: list[float] = []
    for f in wd.glob("*_rtt.csv"):
        for ln in f.read_text().splitlines()[1:]:
            parts = ln.split(";")
            if len(parts) >= 2:
                try:
                    rtt.append(float(parts[1]))
                except ValueError:
                    pass
    return SippRun(rc, stats, rtt, time.monotonic() - t0, proc.pid)


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def stat_int(stats: dict[str, str], key: str) -> int:
    try:
        return int(stats.get(key, "0") or 0)
    except ValueError:
        return 0
