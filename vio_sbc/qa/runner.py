"""`vio-sbc qa`: run the SIPp suite against the config's server and print a table.

Uses the server answering OPTIONS at `sip.listen`, or starts `vio-sbc run -c
FILE` for the run (stopped by PID afterwards). Each scenario is one SIPp
process (bounded by its own timeout) with `-trace_stat`; scenarios run a few at
a time. Exit 0 when every scenario passed, 1 on any failure, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vio_sbc.config import load_config
from vio_sbc.config.model import Config
from vio_sbc.errors import ConfigError
from vio_sbc.qa.sipp import free_udp_port, sipp_command, stop_process
from vio_sbc.qa.suite import (
    SUITE,
    Run,
    Skip,
    parse_stat_csv,
    plan,
    sipp_duration_ms,
    trunk_source,
)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIOS = ROOT / "sipp_scenarios"


@dataclass
class Outcome:
    run: Run
    rc: int
    wall_s: float
    stats: dict[str, str]
    error: str

    @property
    def passed(self) -> bool:
        return self.rc == 0


def options_ping(host: str, port: int, source: str, timeout: float = 1.0) -> bool:
    """True when a SIP server at host:port gives an OPTIONS over UDP a final answer.
    Any final status counts: a server in `stranger_response: reject` answers a
    source outside its trunks 403, which still proves it is up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        lport = s.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {source}:{lport};branch={branch}\r\n"
               f"From: <sip:qa@{source}>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{host}:{port}>\r\nCall-ID: qa-ping-{uuid.uuid4().hex}\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(timeout)
        s.sendto(msg.encode(), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = s.recv(65535)
            if data.startswith(b"SIP/2.0 1"):
                continue  # provisional: wait for the final answer
            return data.startswith(b"SIP/2.0 ")
        return False
    except OSError:
        return False
    finally:
        s.close()


def free_rtp_base(host: str) -> int:
    """An even UDP port with the next three free (SIPp uses base..base+3)."""
    for _ in range(200):
        base = free_udp_port(host) & ~1
        socks: list[socket.socket] = []
        try:
            for p in range(base, base + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no free RTP ports on {host}")


class ServerProcess:
    """`vio-sbc run` started for the QA run, stopped by PID."""

    def __init__(self, config: str, workdir: Path) -> None:
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vio_sbc.cli", "run", "-c", config, "--grace", "3"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, host: str, port: int, source: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.tail()}")
            if options_ping(host, port, source, timeout=0.5):
                return
        raise RuntimeError(f"server did not answer OPTIONS within {timeout:.0f}s: {self.tail()}")

    def tail(self, n: int = 5) -> str:
        return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, timeout: float = 20.0) -> int:
        rc = stop_process(self.proc, timeout)
        self._log.close()
        return rc


def run_one(run: Run, target: str, scen_dir: Path, workdir: Path) -> Outcome:
    sc = run.scenario
    wd = workdir / sc.name
    wd.mkdir(parents=True, exist_ok=True)
    if (scen_dir / "pcap").is_dir() and not (wd / "pcap").exists():
        (wd / "pcap").symlink_to((scen_dir / "pcap").resolve())
    stat, err = wd / "stat.csv", wd / "errors.log"
    cmd = sipp_command(
        target, (scen_dir / sc.file).resolve(), source=run.source, number=run.number or None,
        media_port=free_rtp_base(run.source), transport=sc.transport, timeout_s=sc.timeout_s,
        stat_file=stat, error_file=err, extra=[*sc.extra, *run.args])
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=wd,
                              timeout=sc.timeout_s + 10)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = -1, "SIPp did not finish in time"
    wall = time.monotonic() - t0
    (wd / "sipp.out").write_text(out)
    stats = parse_stat_csv(stat.read_text(errors="replace")) if stat.exists() else {}
    error = ""
    if rc != 0:
        lines = err.read_text(errors="replace").splitlines() if err.exists() else []
        useful = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("-")]
        tail = out.strip().splitlines()
        error = useful[-1] if useful else (tail[-1] if tail else f"sipp exit {rc}")
    return Outcome(run, rc, wall, stats, error[:120])


def _ms(stats: dict[str, str], key: str) -> str:
    v = sipp_duration_ms(stats.get(key, ""))
    return "-" if v is None else f"{v:.0f}"


def print_table(results: list[Outcome | Skip]) -> None:
    rows = [("SCENARIO", "RESULT", "OK", "FAILED", "RETRANS", "RTD_MS", "CALL_MS", "WALL_S",
             "NOTE")]
    for r in results:
        if isinstance(r, Skip):
            rows.append((r.scenario.name, "skip", "-", "-", "-", "-", "-", "-", r.reason))
            continue
        st = r.stats
        rows.append((
            r.run.scenario.name, "PASS" if r.passed else "FAIL",
            st.get("SuccessfulCall(C)", "-"), st.get("FailedCall(C)", "-"),
            st.get("Retransmissions(C)", "-"), _ms(st, "ResponseTime1(C)"),
            _ms(st, "CallLength(C)"), f"{r.wall_s:.1f}",
            r.error if not r.passed else r.run.scenario.checks,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


def main(args: argparse.Namespace) -> int:
    if args.list:
        for sc in SUITE:
            print(f"{sc.name:14} {sc.file:24} {sc.checks}")
        return 0
    try:
        cfg: Config = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{args.config}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        runs = plan(cfg, args.scenarios)
    except KeyError as exc:
        print(f"unknown scenario {exc.args[0]!r}; known: {', '.join(s.name for s in SUITE)}",
              file=sys.stderr)
        return 2
    if shutil.which("sipp") is None:
        print("sipp not found: install Debian's sip-tester (make install does)", file=sys.stderr)
        return 2
    scen_dir = Path(args.scenario_dir) if args.scenario_dir else DEFAULT_SCENARIOS
    host, port = cfg.sip.listen.host, cfg.sip.listen.port
    ts = trunk_source(cfg)
    probe_src = ts[1] if ts else "127.0.0.1"
    keep = Path(args.keep) if args.keep else None
    workdir = keep or Path(tempfile.mkdtemp(prefix="vio-qa-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server: ServerProcess | None = None
    try:
        if options_ping(host, port, probe_src):
            print(f"server: answering OPTIONS at {host}:{port}")
        else:
            server = ServerProcess(str(args.config), workdir)
            print(f"server: none at {host}:{port}; started vio-sbc run (pid {server.proc.pid})")
            server.wait_ready(host, port, probe_src)
        target = f"{host}:{port}"
        todo = [r for r in runs if isinstance(r, Run)]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = dict(zip((id(r) for r in todo),
                            pool.map(lambda r: run_one(r, target, scen_dir, workdir), todo),
                            strict=True))
        results: list[Outcome | Skip] = [done[id(r)] if isinstance(r, Run) else r for r in runs]
    except RuntimeError as exc:
        print(f"vio-sbc qa: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            rc = server.stop()
            print(f"server: stopped (pid {server.proc.pid}, exit {rc})")
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    failed = [r for r in results if isinstance(r, Outcome) and not r.passed]
    ran = sum(isinstance(r, Outcome) for r in results)
    print(f"{ran - len(failed)}/{ran} passed, {len(results) - ran} skipped"
          + (f"; logs in {keep}" if keep else ""))
    return 1 if failed else 0

