"""Call data is private: the storage directory 0700, databases and recordings 0600.

Call logs, transcripts and recordings are personal data; the process umask (often
022) made them world-readable. What we create gets its mode explicitly, whatever the
umask: `private_dir` (0700, each directory it creates), `private_file` (creates the
file 0600 before SQLite or the WAV writer opens it; SQLite gives a database's -wal and
-shm files the database's own mode). Existing looser files are not changed behind the
operator's back: `loose_files` finds them, `vio-sbc check`, `vio-sbc status` and the
server's start warn with the chmod to run.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
MAX_SCAN = 100_000  # entries looked at by loose_files (a big recordings tree stays cheap)


def private_dir(path: str | Path) -> Path:
    """`path` as a directory; every directory this creates is 0700 (existing ones are
    left alone)."""
    p = Path(path)
    missing = []
    for parent in (p, *p.parents):
        if parent.exists():
            break
        missing.append(parent)
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode goes through the umask
    return p


def private_file(path: str | Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist (its directory 0700)."""
    p = Path(path)
    private_dir(p.parent)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return p
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return p


@dataclass(frozen=True, slots=True)
class Loose:
    path: Path
    mode: int  # permission bits
    is_dir: bool

    @property
    def want(self) -> int:
        return DIR_MODE if self.is_dir else FILE_MODE

    def __str__(self) -> str:
        return f"{self.path} is {self.mode:04o}, expected {self.want:04o}"


def loose(mode: int) -> bool:
    """Group or others may read, write or enter."""
    return bool(mode & 0o077)


def _entries(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    seen = 0
    stack = [root]
    while stack and seen < MAX_SCAN:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    seen += 1
                    if seen > MAX_SCAN:
                        return
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(Path(e.path))
                    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                        yield Path(e.path), st
        except OSError:
            continue


def loose_files(storage_dir: str | Path) -> list[Loose]:
    """The storage directory, its subdirectories and files that group/others can use
    (sockets and links are not looked at)."""
    root = Path(storage_dir)
    try:
        st = root.stat()
    except OSError:
        return []
    found = [Loose(root, stat.S_IMODE(st.st_mode), True)] if loose(st.st_mode) else []
    for path, st in _entries(root):
        if loose(st.st_mode):
            found.append(Loose(path, stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode)))
    return found


def advice(storage_dir: str | Path) -> str:
    """The commands that make the storage private."""
    d = shlex.quote(str(storage_dir))
    return (f"chmod 700 {d} && find {d} -type d -exec chmod 700 {{}} + && "
            f"find {d} -type f -exec chmod 600 {{}} +")


def warnings(storage_dir: str | Path, show: int = 5) -> list[str]:
    """Warning lines for `check`/`status`: the first `show` loose entries, the count,
    the fix. Empty when the storage is private (or does not exist yet)."""
    found = loose_files(storage_dir)
    if not found:
        return []
    lines = [f"warning: storage: {entry}" for entry in found[:show]]
    if len(found) > show:
        lines.append(f"warning: storage: ... and {len(found) - show} more")
    lines.append(f"warning: storage: call data readable by others; fix: {advice(storage_dir)}")
    return lines
