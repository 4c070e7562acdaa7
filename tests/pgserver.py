"""A throwaway PostgreSQL 15 server for the tests: `initdb` in a temp dir, `pg_ctl start`
on a free loopback port (as the `postgres` user when the tests run as root: PostgreSQL
refuses to run as root), stopped by its postmaster PID at the end. Nothing global is
touched: not the system cluster, not its port, not its socket directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("VIO_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT_S = 60.0


def _free_tcp_port(host: str = "127.0.0.1") -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return int(s.getsockname()[1])
    finally:
        s.close()


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PgServer:
    dir: Path
    port: int
    pid: int
    host: str = "127.0.0.1"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def fresh_schema(self) -> str:
        """A URL whose connections use a new, empty schema (one per test: cheap isolation
        in one database)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.admin_url}?options=-csearch_path%3D{name}"

    def fresh_database(self) -> str:
        """A URL of a new, empty database (for processes: the cluster's workers)."""
        import psycopg

        name = f"vio_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT to the postmaster), waited for; then the files go."""
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.05)
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()


def start_server() -> PgServer:
    if not (BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed ({BIN}/initdb missing): run "
                           "scripts/apt-deps.sh (make install)")
    base = Path(tempfile.mkdtemp(prefix="vio-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(_as_owner([str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                              "postgres", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    for _ in range(5):
        port = _free_tcp_port()
        opts = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        res = subprocess.run(_as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-o", opts,
                                        "-l", str(base / "log"), "-w", "-t",
                                        str(int(START_TIMEOUT_S)), "start"]),
                             capture_output=True, timeout=START_TIMEOUT_S + 10)
        pidfile = data / "postmaster.pid"
        if res.returncode == 0 and pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            return PgServer(base, port, pid)
    log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start: {log[-2000:]}")
