"""One place for how we run SIPp and stop the processes we start: the `vio-sbc qa`
runner, the benchmarks (bench/harness.py) and the integration tests
(tests/integration/conftest.py) build their SIPp command lines here.

Every run is bounded: `-timeout` (SIPp's own) is always set; callers add a
subprocess timeout. Processes are stopped by PID: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path


def free_udp_port(host: str) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        return int(s.getsockname()[1])
    finally:
        s.close()


def sipp_command(target: str, scenario: Path, *, source: str, timeout_s: float,
                 number: str | None = None, port: int | None = None,
                 media_port: int | None = None, transport: str | None = None,
                 calls: int = 1, limit: int = 1, rate: float | None = None,
                 timeout_error: bool = True, stat_file: Path | None = None,
                 stat_period_s: int = 1, error_file: Path | None = None,
                 cid_prefix: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """A SIPp UAC command line: `scenario` against `target` from `source` (signalling
    and media), `calls` calls at most `limit` at a time (at `rate` per second when
    given), stopping after `timeout_s`. `port` defaults to a free UDP port on
    `source`; `media_port` (SIPp uses it and the next 3) is left to SIPp when None.
    `stat_file`: -trace_stat every `stat_period_s`; `error_file`: -trace_err;
    `cid_prefix`: Call-IDs `<prefix>-<n>-<pid>@<ip>`. `extra` goes last."""
    cmd = ["sipp", target, "-sf", str(scenario)]
    if number is not None:
        cmd += ["-s", number]
    cmd += ["-i", source, "-p", str(port if port is not None else free_udp_port(source)),
            "-mi", source]
    if media_port is not None:
        cmd += ["-mp", str(media_port)]
    if transport is not None:
        cmd += ["-t", transport]
    cmd += ["-m", str(calls), "-l", str(limit)]
    if rate is not None:
        cmd += ["-r", f"{rate:g}", "-rp", "1000"]
    cmd += ["-nostdin", "-timeout", f"{int(timeout_s)}s"]
    if timeout_error:
        cmd.append("-timeout_error")
    if stat_file is not None:
        cmd += ["-trace_stat", "-stf", str(stat_file), "-fd", str(stat_period_s)]
    if error_file is not None:
        cmd += ["-trace_err", "-error_file", str(error_file)]
    if cid_prefix is not None:
        cmd += ["-cid_str", f"{cid_prefix}-%u-%p@%s"]
    return [*cmd, *extra]


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes],
                 timeout: float) -> int:
    """SIGTERM the process we started (by its PID), SIGKILL after `timeout` s;
    its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return int(proc.returncode)
