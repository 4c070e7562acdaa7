"""What every `vio-sbc` subcommand shares: loading the config and reporting why not."""

from __future__ import annotations

import sys

from vio_sbc.config.model import Config
from vio_sbc.errors import ConfigError

EXIT_INVALID = 2


def load_or_report(path: str, trailer: str | None = None, *,
                   unset_ok: bool = False) -> Config | None:
    """The config at `path`, or None after printing every error to stderr.

    `trailer` is printed after the errors, with `{n}` replaced by their count.
    `unset_ok`: for commands that only read (the call log, the dialer queue), a
    ${VAR} secret that is not set in this shell is no error (vio_sbc.config.loader).
    """
    from vio_sbc.config import load_config

    try:
        return load_config(path, unset_ok=unset_ok)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        if trailer:
            print(f"{path}: {trailer.format(n=len(exc.issues))}", file=sys.stderr)
        return None
    except OSError as exc:
        print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
        return None
