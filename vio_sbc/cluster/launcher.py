"""`vio-sbc cluster run`: the Kamailio front and N workers on loopback, for development and
tests (production runs the same processes as systemd units, docs/cluster.md).

The front is `kamailio -DD -E -f <dir>/kamailio.cfg` (foreground, logs on stderr); each
worker is `vio-sbc run -c FILE --worker I`. A worker that exits while the cluster is
not stopping is started again after `RESTART_DELAY_S` (as systemd's Restart=always
would): at its start it closes its own calls left live as `interrupted` and the dialer
resolves its attempts once their leases expire. The front exiting stops everything
(nothing would reach the workers). SIGTERM or SIGINT: the workers drain (`--grace`),
then the front stops; every process is stopped by its own PID, SIGKILL after a bound.

SIGHUP reloads: the config is read again (invalid: everything keeps running, the
errors are logged), the front's files regenerated; a changed `kamailio.cfg` (trunks,
ACLs, limits) restarts the front (Kamailio cannot reload its routing script; calls in
progress keep their Record-Route, requests in that second are retransmitted), a
changed `dispatcher.list` alone is reloaded in place (`kamcmd dispatcher.reload`);
every worker gets SIGHUP (its own reload). A changed number of workers needs a
restart of the launcher.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, TextIO, cast

import structlog

from vio_sbc.config.model import Config

log = structlog.get_logger("vio_sbc.cluster")

RESTART_DELAY_S = 1.0
POLL_S = 0.2
KAMAILIO = "kamailio"


def front_command(front_dir: Path) -> list[str]:
    exe = shutil.which(KAMAILIO) or f"/usr/sbin/{KAMAILIO}"
    return [exe, "-DD", "-E", "-f", str(front_dir / "kamailio.cfg")]


def worker_command(config: str, i: int, grace_s: float) -> list[str]:
    return [sys.executable, "-m", "vio_sbc.cli", "run", "-c", config, "--worker", str(i),
            "--grace", str(grace_s)]


_OUT = threading.Lock()


def _apply_reload(config: str, front_dir: Path, cfg: Config, front: subprocess.Popen[bytes],
                  workers: dict[int, subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    what = _reload(config, front_dir, cfg)
    if what is None:
        return front
    if what == "restart":
        _stop(front, 10)
        front = _spawn(front_command(front_dir))
        log.info("front_restarted", pid=front.pid)
    elif what == "dispatcher":
        subprocess.run(["kamcmd", "-s", f"unix:{front_dir.resolve()}/kamailio_ctl",
                        "dispatcher.reload"], capture_output=True, timeout=10)
    for proc in workers.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGHUP)
    log.info("cluster_reloaded", front=what)
    return front


def _forward(stream: IO[bytes]) -> None:
    """A child's output to ours, whole lines at a time (children writing to one shared
    pipe would interleave a line's text and its newline)."""
    out = sys.stdout.buffer
    for line in stream:
        with _OUT:
            out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    threading.Thread(target=_forward, args=(proc.stdout,), daemon=True).start()
    return proc


def _stop(proc: subprocess.Popen[bytes], timeout: float, *, signalled: bool = False) -> int | None:
    """SIGTERM (unless `signalled` already: a second one could land after the process
    restored default handlers) and wait `timeout` s, then SIGKILL."""
    if proc.poll() is None:
        if not signalled:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class _Locked:
    """Our own log lines, whole, under the lock the children's lines are written under
    (print() writes a line's text and its newline apart)."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            whole, _, self._pending = self._pending.rpartition("\n")
            with _OUT:
                sys.stdout.write(whole + "\n")
                sys.stdout.flush()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return sys.stdout.isatty()


def refresh_front(cfg: Config, front_dir: Path, source: str) -> set[str]:
    """Write the front's files for `cfg`; the names of those that changed."""
    from vio_sbc.cluster.kamailio import Where, kamailio_files
    from vio_sbc.fileperm import private_dir

    private_dir(str(front_dir))
    changed = set()
    for name, text in kamailio_files(cfg, Where(str(front_dir.resolve())), source).items():
        path = front_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.add(name)
    return changed


def _reload(config: str, front_dir: Path, running: Config) -> str | None:
    """SIGHUP's work (see the module doc): what to do with the front, or None when the
    config does not load."""
    from vio_sbc.config import load_config
    from vio_sbc.errors import ConfigError

    try:
        new = load_config(config)
    except (ConfigError, OSError) as exc:
        log.error("cluster_reload_failed", errors=[str(i) for i in getattr(exc, "issues", [exc])])
        return None
    if new.cluster is None or running.cluster is None or \
            new.cluster.workers != running.cluster.workers:
        log.warning("cluster_workers_changed", detail="restart `vio-sbc cluster run` for it")
    changed = refresh_front(new, front_dir, config)
    if "kamailio.cfg" in changed:
        return "restart"
    if "dispatcher.list" in changed:
        return "dispatcher"
    return "unchanged"


def run_cluster(cfg: Config, config: str, front_dir: Path, *, grace_s: float) -> int:
    from vio_sbc import log as vlog

    vlog.configure(cfg.log.level, cast(TextIO, _Locked()))
    cl = cfg.cluster
    assert cl is not None
    stop: list[str] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signal.Signals(signum).name)

    hup: list[int] = []

    def _on_hup(signum: int, _frame: FrameType | None) -> None:
        hup.append(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_hup)
    front = _spawn(front_command(front_dir))
    log.info("front_started", pid=front.pid, front=str(cl.front), config=str(front_dir))
    workers: dict[int, subprocess.Popen[bytes]] = {}
    restart_at: dict[int, float] = {}
    for i in range(1, cl.workers + 1):
        workers[i] = _spawn(worker_command(config, i, grace_s))
        log.info("worker_started", worker=f"w{i}", pid=workers[i].pid,
                 address=cl.worker_address(i))
    rc = 0
    while not stop:
        if hup:
            hup.clear()
            front = _apply_reload(config, front_dir, cfg, front, workers)
        if front.poll() is not None:
            log.error("front_exited", code=front.returncode)
            rc = 1
            break
        now = time.monotonic()
        for i, proc in list(workers.items()):
            if proc.poll() is not None and i not in restart_at:
                log.error("worker_exited", worker=f"w{i}", pid=proc.pid, code=proc.returncode)
                restart_at[i] = now + RESTART_DELAY_S
        for i, at in list(restart_at.items()):
            if now >= at:
                del restart_at[i]
                workers[i] = _spawn(worker_command(config, i, grace_s))
                log.info("worker_restarted", worker=f"w{i}", pid=workers[i].pid)
        time.sleep(POLL_S)
    log.info("cluster_stopping", signal=stop[-1] if stop else None)
    for proc in workers.values():  # all drain at once
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for i, proc in workers.items():
        code = _stop(proc, grace_s + 10, signalled=True)
        log.info("worker_stopped", worker=f"w{i}", code=code)
    log.info("front_stopped", code=_stop(front, 10))
    return rc
