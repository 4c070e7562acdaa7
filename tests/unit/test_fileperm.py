"""vio_sbc.fileperm: modes we create whatever the umask, and the loose-file report."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vio_sbc.fileperm import loose, loose_files, private_dir, private_file, warnings


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_created_dirs_and_files_are_private_under_umask_0(tmp_path: Path,
                                                           open_umask: None) -> None:
    f = private_file(tmp_path / "a" / "b" / "vio.db")
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert mode(f) == 0o600 and f.stat().st_size == 0


def test_existing_entries_are_left_alone(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    d.chmod(0o755)
    f = d / "x.wav"
    f.write_bytes(b"data")
    f.chmod(0o644)
    private_dir(d)
    private_file(f)
    assert (mode(d), mode(f), f.read_bytes()) == (0o755, 0o644, b"data")


def test_loose_files_finds_dirs_and_files_with_group_or_other_bits(tmp_path: Path) -> None:
    root = private_dir(tmp_path / "var")
    private_file(root / "ok.db")
    bad = root / "recordings" / "2026"
    bad.mkdir(parents=True)
    (root / "recordings").chmod(0o700)
    bad.chmod(0o750)
    wav = bad / "c.wav"
    wav.write_bytes(b"")
    wav.chmod(0o604)
    os.symlink("/etc/passwd", root / "link")  # links are not followed
    found = {str(e) for e in loose_files(root)}
    assert found == {f"{bad} is 0750, expected 0700", f"{wav} is 0604, expected 0600"}
    lines = warnings(root)
    assert lines[-1].startswith("warning: storage: call data readable by others; fix: chmod 700")
    assert warnings(tmp_path / "missing") == [] and loose_files(tmp_path / "missing") == []


def test_loose() -> None:
    assert not loose(0o600) and not loose(0o700) and loose(0o640) and loose(0o601)
