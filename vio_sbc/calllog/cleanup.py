"""Retention: delete recordings (and optionally call rows) older than N days.

Calls are aged by when they were received; a call still going on (any of
`schema.LIVE_STATUSES`, `dialing` included) is never touched. A deleted recording's path is cleared
in its row. WAV files under `recordings/` that no row points to are deleted by
their modification time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vio_sbc.calllog.dialect import dialect_for
from vio_sbc.calllog.queries import CallLogDb
from vio_sbc.calllog.records import recordings_dir
from vio_sbc.config.model import Config


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
    dialect = dialect_for(cfg)
    known: set[str] = set()
    if dialect.exists():
        with CallLogDb(dialect) as db:
            old = db.ended_before(cutoff)
            known = db.recording_paths()
            for _, path in old:
                if path:
                    _unlink(Path(path), report, dry_run)
            if not dry_run:
                db.forget([call_id for call_id, _ in old], rows=rows)
            if rows:
                report.rows = len(old)
    rec_dir = recordings_dir(cfg)
    if rec_dir.is_dir():
        for wav in rec_dir.rglob("*.wav"):
            if str(wav) not in known and wav.stat().st_mtime < cutoff:
                _unlink(wav, report, dry_run)
    return report
