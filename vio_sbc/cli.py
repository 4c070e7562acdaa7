"""The `vio-sbc` command: run, check, numbers (status, reload, call-out: cli_trunks.py;
calls, call, export, cleanup: cli_calls.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from vio_sbc import __version__
from vio_sbc.cli_common import load_or_report

EXIT_INVALID = 2


def cmd_check(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, "{n} error(s)")
    if cfg is None:
        return EXIT_INVALID
    for warning in cfg.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from vio_sbc.fileperm import warnings as storage_warnings

    for line in storage_warnings(cfg.storage.dir):  # existing call data others can read
        print(line, file=sys.stderr)
    print(f"{args.config}: OK ({len(cfg.trunks)} trunk(s), {len(cfg.numbers)} number(s), "
          f"{len(cfg.agents)} agent(s))")
    if args.limits:
        from vio_sbc.cli_limits import limits_lines

        print("\n".join(limits_lines(cfg)))
    return 0


def cmd_numbers(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config)
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


def cmd_run(args: argparse.Namespace) -> int:
    from vio_sbc import log as vlog

    cfg = load_or_report(args.config, "invalid, not starting")
    if cfg is None:
        return EXIT_INVALID
    vlog.redactor.set(cfg.secrets)
    vlog.configure(cfg.log.level)
    import structlog

    from vio_sbc.sip.switch import Softswitch, StartupError

    logger = structlog.get_logger("vio_sbc")
    received: list[str] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # No logging here: the handler runs between bytecodes of the main thread, which
        # may be inside the log writer's lock (deadlock seen: SIGTERM ignored for good).
        received.append(signal.Signals(signum).name)

    def _should_stop() -> bool:
        if received and len(received) != stop_logged[0]:
            stop_logged[0] = len(received)
            logger.info("signal", signal=received[-1])
        return bool(received)

    stop_logged = [0]

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    from vio_sbc.fileperm import loose_files, private_dir

    private_dir(cfg.storage.dir)  # 0700 when we create it, whatever the umask
    if loose := loose_files(cfg.storage.dir):
        logger.warning("storage_permissions_loose", entries=len(loose),
                       first=[str(e) for e in loose[:5]], storage=cfg.storage.dir)
    switch = Softswitch(cfg)
    from vio_sbc.control import ControlError, ControlServer, socket_path
    from vio_sbc.sip.ops import Operations

    ctl = ControlServer(socket_path(cfg.storage.dir))
    try:
        ctl.start()
    except (ControlError, OSError) as exc:
        print(f"vio-sbc: control socket: {exc}", file=sys.stderr)
        return 1
    ops = Operations(switch, ctl)
    switch.tick_hooks.append(ops)

    def _on_hup(signum: int, _frame: FrameType | None) -> None:
        ops.reload_requested = True  # applied by the main loop, never inside the handler

    signal.signal(signal.SIGHUP, _on_hup)
    for warning in cfg.warnings:
        logger.warning("config_warning", warning=str(warning))
    if switch.calllog.interrupted_on_start:
        logger.warning("calls_interrupted", count=switch.calllog.interrupted_on_start)
        from vio_sbc.calllog.recovery import recover_interrupted

        recover_interrupted(cfg, switch.calllog)  # their cost and summary (docs/calllog.md)
    try:
        switch.start()
    except StartupError as exc:
        logger.error("startup_failed", error=str(exc))
        print(f"vio-sbc: {exc}", file=sys.stderr)
        ctl.stop()
        return 1
    if cfg.dialer.enabled:
        from vio_sbc.dialer.api import start_dialer

        switch.dialer = start_dialer(switch, cfg)
        from vio_sbc.ops.metrics import watch_dialer

        watch_dialer(switch.metrics, cfg)
    http_ops = None
    if cfg.http is not None:
        from vio_sbc.ops.http import OpsServer

        try:
            http_ops = OpsServer(cfg.http.listen.host, cfg.http.listen.port, switch.health,
                            switch.metrics)
        except OSError as exc:
            switch.shutdown()
            ctl.stop()
            if switch.dialer is not None:
                switch.dialer.close()
            print(f"vio-sbc: cannot listen on http {cfg.http.listen}: {exc.strerror}",
                  file=sys.stderr)
            return 1
        http_ops.start()
        logger.info("http_listening", http=str(cfg.http.listen))
    try:
        switch.run(_should_stop, grace_s=args.grace)
    finally:
        if http_ops is not None:
            http_ops.stop()
        switch.shutdown()
        ctl.stop()
        if switch.dialer is not None:
            switch.dialer.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vio-sbc", description="vio_sbc: SIP edge of Vio.")
    p.add_argument("--version", action="version", version=f"vio-sbc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run the softswitch in the foreground (JSON logs on stdout)",
                       description="Run the softswitch. SIGTERM drains: new calls get 503, live "
                       "calls may finish within --grace seconds, then are hung up; exit 0.")
    r.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    r.add_argument("--grace", type=float, default=30.0, help="drain grace period in seconds")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="validate a config file (exit 0 valid, 2 invalid)",
                       description="Validate a config; every error as FILE:LINE: key.path: msg.")
    c.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    c.add_argument("--limits", action="store_true",
                   help="also print the message and TCP limits the server would enforce")
    c.set_defaults(func=cmd_check)

    n = sub.add_parser("numbers", help="list numbers with trunk, direction and effective agent",
                       description="List each number, its trunk, direction and the agent "
                       "that answers it, marking where the workspace default applies.")
    n.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    n.set_defaults(func=cmd_numbers)

    from vio_sbc.cli_trunks import add_commands

    add_commands(sub)

    from vio_sbc.cli_dialer import register as register_dialer

    register_dialer(sub)

    from vio_sbc.cli_calls import register as register_call_log

    register_call_log(sub)

    from vio_sbc.cli_qa import register as register_qa

    register_qa(sub)

    from vio_sbc.cli_status import add_parser as add_status

    add_status(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
