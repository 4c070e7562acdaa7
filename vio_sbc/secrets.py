"""Secrets read from files: only from files no one else can read.

For `*_file:` config options (e.g. a trunk's `password_file:`): the file must be a
regular file without group or world permissions (chmod 600/400), like ssh keys. The
value is the file's text without its trailing newline; it joins `Config.secrets`
so the log redactor hides it like a ${ENV} value.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vio_sbc.errors import VioError


class SecretFileError(VioError):
    pass


def read_secret_file(path: str | Path) -> str:
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise SecretFileError(f"cannot read secret file {p}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"secret file {p} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretFileError(
            f"secret file {p} has mode {mode:04o}: group/others may access it "
            f"(chmod 600 {p})")
    if st.st_uid != os.geteuid():
        raise SecretFileError(f"secret file {p} is not owned by the user running vio-sbc")
    try:
        value = p.read_text("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretFileError(f"cannot read secret file {p}: {exc}") from None
    if not value:
        raise SecretFileError(f"secret file {p} is empty")
    return value
