"""`vio-sbc check` and `vio-sbc numbers`: the configuration as the server would read it
(`check` also warns about call data others can read, and with `--limits` prints the
limits the server would enforce: vio_sbc/cli/limits.py)."""

from __future__ import annotations

import argparse
import sys

from vio_sbc.cli.common import EXIT_INVALID, load_or_report
from vio_sbc.fileperm import warnings as storage_warnings


def cmd_check(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, "{n} error(s)")
    if cfg is None:
        return EXIT_INVALID
    for warning in cfg.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in storage_warnings(cfg.storage.dir):  # existing call data others can read
        print(line, file=sys.stderr)
    print(f"{args.config}: OK ({len(cfg.trunks)} trunk(s), {len(cfg.numbers)} number(s), "
          f"{len(cfg.agents)} agent(s))")
    if args.limits:
        from vio_sbc.cli.limits import limits_lines

        print("\n".join(limits_lines(cfg)))
    return 0


def cmd_numbers(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, unset_ok=True)
    if cfg is None:
        return EXIT_INVALID
    rows = [("NUMBER", "TRUNK", "DIRECTION", "AGENT")]
    for num in sorted(cfg.numbers.values(), key=lambda n: n.number):
        agent, is_default = cfg.agent_for(num)
        rows.append((num.number, num.trunk, num.direction.value,
                     f"{agent.name} (workspace default)" if is_default else agent.name))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0
