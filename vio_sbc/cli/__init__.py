"""The `vio-sbc` command: one module per group of subcommands.

run.py (`run`: the server's composition root), config.py (`check`, `numbers`),
trunks.py (`reload`, `call-out`), status.py (`status`, `health`), calls.py (`calls`,
`call`, `export`, `cleanup`), dialer.py (`campaign`, `dial`, `jobs`, `dnc`), qa.py (`qa`,
`make-pcap`), connect.py (`connect twilio|pbx`: guided set-up); common.py what they
share.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from vio_sbc import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vio-sbc", description="vio_sbc: SIP edge of Vio.")
    p.add_argument("--version", action="version", version=f"vio-sbc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from vio_sbc.cli import config as config_cmd
    from vio_sbc.cli.run import cmd_run as run_cmd


    r = sub.add_parser("run", help="run the softswitch in the foreground (JSON logs on stdout)",
                       description="Run the softswitch. SIGTERM drains: new calls get 503, live "
                       "calls may finish within --grace seconds, then are hung up; exit 0.")
    r.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    r.add_argument("--grace", type=float, default=30.0, help="drain grace period in seconds")
    r.add_argument("--worker", type=int, metavar="I",
                   help="run as worker I of the config's cluster (docs/cluster.md)")
    r.set_defaults(func=run_cmd)

    c = sub.add_parser("check", help="validate a config file (exit 0 valid, 2 invalid)",
                       description="Validate a config; every error as FILE:LINE: key.path: msg.")
    c.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    c.add_argument("--limits", action="store_true",
                   help="also print the message and TCP limits the server would enforce")
    c.set_defaults(func=config_cmd.cmd_check)

    n = sub.add_parser("numbers", help="list numbers with trunk, direction and effective agent",
                       description="List each number, its trunk, direction and the agent "
                       "that answers it, marking where the workspace default applies.")
    n.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    n.set_defaults(func=config_cmd.cmd_numbers)

    from vio_sbc.cli.trunks import add_commands

    add_commands(sub)

    from vio_sbc.cli.dialer import register as register_dialer

    register_dialer(sub)

    from vio_sbc.cli.calls import register as register_call_log

    register_call_log(sub)

    from vio_sbc.cli.qa import register as register_qa

    register_qa(sub)

    from vio_sbc.cli.status import add_parser as add_status

    add_status(sub)

    from vio_sbc.cli.cluster import register as register_cluster

    register_cluster(sub)

    from vio_sbc.cli.connect import register as register_connect

    register_connect(sub)
    return p


EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool cut off by `| head`


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:  # `vio-sbc calls | head -1`: the reader is gone, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        os.close(devnull)
        return EXIT_PIPE
    return rc
