"""Retention: delete recordings (and optionally call rows) older than N days.

Calls are aged by when they were received. A deleted recording's path is cleared
in its row. WAV files under `recordings/` that no row points to are deleted by
their modification time.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from vio_sbc.config.model import Config
from vio_sbc.records import recordings_dir
from vio_sbc.store.schema import migrate


@dataclass
class CleanupReport:
    files: int = 0
    bytes: int = 0
    rows: int = 0


def _unlink(path: Path, report: CleanupReport, dry_run: bool) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return
    if not dry_run:
        path.unlink(missing_ok=True)
    report.files += 1
    report.bytes += size


def cleanup(cfg: Config, days: int, *, rows: bool = False, dry_run: bool = False,
            now: float | None = None) -> CleanupReport:
    cutoff = (time.time() if now is None else now) - days * 86400
    report = CleanupReport()
    db_path = Path(cfg.storage.dir) / "vio.db"
    known: set[str] = set()
    if db_path.exists():
        conn = sqlite3.connect(str(db_path), timeout=10)
        try:
            migrate(sqlite_utils.Database(conn))
            old = conn.execute(
                "SELECT id, recording_path FROM calls WHERE received_at < ? AND status NOT IN "
                "('received', 'ringing', 'answered')", (cutoff,)).fetchall()
            known = {p for (p,) in conn.execute(
                "SELECT recording_path FROM calls WHERE recording_path IS NOT NULL")}
            for _, path in old:
                if path:
                    _unlink(Path(path), report, dry_run)
            if not dry_run:
                with conn:
                    ids = [(cid,) for cid, _ in old]
                    conn.executemany("UPDATE calls SET recording_path = NULL WHERE id = ?", ids)
                    if rows:
                        for table in ("transcript", "call_events"):
                            conn.executemany(f"DELETE FROM {table} WHERE call_id = ?", ids)
                        conn.executemany("DELETE FROM calls WHERE id = ?", ids)
            if rows:
                report.rows = len(old)
        finally:
            conn.close()
    rec_dir = recordings_dir(cfg)
    if rec_dir.is_dir():
        for wav in rec_dir.rglob("*.wav"):
            if str(wav) not in known and wav.stat().st_mtime < cutoff:
                _unlink(wav, report, dry_run)
    return report
