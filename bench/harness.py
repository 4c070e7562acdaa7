"""Benchmark plumbing: servers started by PID, /proc sampling, SIPp runs, percentiles.

Everything is bounded: every wait has a deadline, every SIPp run a -timeout and
a subprocess timeout; only processes started here are signalled, by PID.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
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
    return sorted(rows, key=lambda r: -r[1])[:6]


class Server:
    """A server process (vio-sbc or the baseline) with its stdout in a file."""

    def __init__(self, cmd: list[str], log: Path, cwd: Path, port: int) -> None:
        self.log_path = log
        self.port = port
        self.http_port = 0  # the operator endpoint, when it has one
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


# What the benchmark needs of a server, set whatever today's defaults are: no
# server-wide call rate limit (sip.max_cps 0) and a per-source admission bucket that
# holds SIPp's whole ramp from one address, /metrics for the engine lag histogram.
VIO_CONFIG = """
sip:
  listen: "127.0.0.1:{port}"
  transports: [udp]
  max_calls: {max_calls}
  max_cps: 0
  admission: {{rate: 1000, burst: 5000, max_failures: 1000}}
rtp: {{ports: {rtp_min}-{rtp_max}}}
storage: {{dir: "{dir}", recordings: {record}}}
http: {{listen: "127.0.0.1:{http_port}"}}
workspace: {{default_agent: bench}}
agents:
  bench:
{agent}
trunks:
  bench:
    kind: byoc
    recording: {record}
    inbound: {{allow: [127.0.0.2/32]}}
numbers:
  "+14155550100": {{trunk: bench, direction: inbound}}
log: {{level: info}}
"""

# the agent of each variant (indented under agents.bench)
AGENTS = {
    # the scripted receptionist without speech recognition: every turn "not understood"
    "scripted": """    kind: scripted
    greeting: "Thanks for calling. How can I help?"
    stt: {provider: none}""",
    # the same with intents: each caller turn is decoded by pocketsphinx (grammar mode)
    "stt": """    kind: scripted
    greeting: "Thanks for calling. How can I help?"
    intents:
      - {name: sales, phrases: [sales, pricing], reply: "Our sales team is available."}
      - {name: support, phrases: [support, help], reply: "Please visit our help center."}
    stt: {provider: pocketsphinx}""",
    # an external agent server speaking Twilio Media Streams (bench/ws_bridge.py's
    # echo server: every caller frame comes back as agent audio)
    "ws": """    kind: websocket
    url: "{ws_url}"
    connect_timeout_s: 5""",
}


def vio_config(port: int, max_calls: int, rtp: tuple[int, int], storage: Path, *,
               http_port: int, agent: str = "scripted", record: bool = True,
               ws_url: str = "") -> str:
    return VIO_CONFIG.format(port=port, max_calls=max_calls, rtp_min=rtp[0], rtp_max=rtp[1],
                             dir=storage, record="true" if record else "false",
                             http_port=http_port,
                             agent=AGENTS[agent].replace("{ws_url}", ws_url))


def start_vio(work: Path, port: int, max_calls: int, rtp: tuple[int, int], *,
              agent: str = "scripted", record: bool = True, ws_url: str = "") -> Server:
    cfg = work / "vio.yaml"
    http_port = free_tcp_port()
    cfg.write_text(vio_config(port, max_calls, rtp, work / "var", http_port=http_port,
                              agent=agent, record=record, ws_url=ws_url))
    srv = Server([sys.executable, "-m", "vio_sbc.cli", "run", "-c", str(cfg), "--grace", "5"],
                 work / "vio.log", work, port)
    srv.http_port = http_port
    srv.wait_event("listening")
    return srv


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def scrape(srv: Server, path: str = "/metrics", timeout: float = 5.0) -> str:
    """GET `path` from the server's operator endpoint ("" when it does not answer)."""
    if not srv.http_port:
        return ""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}{path}",
                                    timeout=timeout) as r:
            return str(r.read().decode())
    except urllib.error.HTTPError as exc:  # /readyz answers 503 when not ready
        return str(exc.read().decode())
    except OSError:
        return ""


def histogram(text: str, name: str) -> dict[float, float]:
    """A Prometheus histogram's cumulative buckets (le -> count) from /metrics text."""
    out: dict[float, float] = {}
    prefix = name + '_bucket{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            le, value = line[len(prefix):].split('"', 1)
            out[float(le)] = float(value.split()[-1])
    return out


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The q-quantile (0..1) of what a histogram observed between two scrapes, as
    Prometheus' histogram_quantile estimates it (linear within the bucket)."""
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    if not counts or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, counts, strict=True):
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-12)
        prev_le, prev_c = le, c
    return prev_le


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
