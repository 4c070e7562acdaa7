"""`vio-sbc cluster kamailio-cfg | run`: the Kamailio front's config from the same YAML,
and the development/test launcher (front + N workers on loopback). docs/cluster.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vio_sbc.cli.common import EXIT_INVALID, load_or_report


def front_dir(cfg_dir: str) -> Path:
    """Where the front's generated files live by default: `<storage.dir>/front`."""
    return Path(cfg_dir) / "front"


def write_front_files(cfg: Any, out: Path, source: str) -> list[Path]:
    from vio_sbc.cluster.kamailio import Where, kamailio_files
    from vio_sbc.fileperm import private_dir

    private_dir(str(out))
    written = []
    for name, text in kamailio_files(cfg, Where(str(out.resolve())), source).items():
        path = out / name
        path.write_text(text)
        written.append(path)
    return written


def cmd_kamailio_cfg(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, "invalid, nothing written")
    if cfg is None:
        return EXIT_INVALID
    if cfg.cluster is None:
        print(f"{args.config}: no cluster section (docs/cluster.md)", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else front_dir(cfg.storage.dir)
    for path in write_front_files(cfg, out, args.config):
        print(path)
    return 0


def cmd_cluster_run(args: argparse.Namespace) -> int:
    from vio_sbc.cluster.launcher import run_cluster

    cfg = load_or_report(args.config, "invalid, not starting")
    if cfg is None:
        return EXIT_INVALID
    if cfg.cluster is None:
        print(f"{args.config}: no cluster section (docs/cluster.md)", file=sys.stderr)
        return EXIT_INVALID
    out = front_dir(cfg.storage.dir)
    write_front_files(cfg, out, args.config)
    return run_cluster(cfg, args.config, out, grace_s=args.grace)  # SIGHUP: reload


def register(sub: Any) -> None:
    p = sub.add_parser("cluster", help="Kamailio front + workers (docs/cluster.md)",
                       description="A Kamailio front and N vio-sbc workers sharing one "
                       "PostgreSQL call log and dialer queue.")
    csub = p.add_subparsers(dest="cluster_command", required=True, metavar="COMMAND")
    k = csub.add_parser("kamailio-cfg", help="write kamailio.cfg and dispatcher.list",
                        description="Generate the front's kamailio.cfg and dispatcher.list "
                        "from the config (trunks, ACLs, limits, workers); prints the paths.")
    k.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    k.add_argument("-o", "--out", help="directory (default: <storage.dir>/front)")
    k.set_defaults(func=cmd_kamailio_cfg)
    r = csub.add_parser("run", help="run the front and the workers in the foreground",
                        description="Start Kamailio (the front) and the config's workers on "
                        "loopback; a worker that dies is restarted; SIGHUP reloads (the front's "
                        "files regenerated, the front restarted if its routing changed, every "
                        "worker reloaded); SIGTERM stops all.")
    r.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    r.add_argument("--grace", type=float, default=10.0, help="workers' drain grace, seconds")
    r.set_defaults(func=cmd_cluster_run)
