"""`vio-sbc reload` and `call-out`: talk to a running server over its control socket
(`<storage.dir>/control.sock`, see vio_sbc/control.py); `call-out` runs its own
endpoint for the call when no server runs on that config. `vio-sbc status` is in
vio_sbc/cli/status.py."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from vio_sbc import control
from vio_sbc.cli.common import load_or_report
from vio_sbc.errors import ConfigError

EXIT_NOT_ANSWERED = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_NO_SERVER = 4


def control_socket(config: str, worker: int | None = None) -> Path:
    """The socket of the server running on `config` (of cluster worker `worker`:
    `<storage.dir>/w<I>`). The storage dir is read even from an invalid file (a reload
    of a broken edit must still reach the server)."""
    from vio_sbc.config import load_config

    sub = f"w{worker}" if worker is not None else ""
    try:
        return control.socket_path(str(Path(load_config(config).storage.dir) / sub))
    except ConfigError:
        pass
    try:
        data = yaml.safe_load(Path(config).read_text("utf-8"))
        storage = data.get("storage") if isinstance(data, dict) else None
        sdir = storage.get("dir") if isinstance(storage, dict) else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        sdir = None
    return control.socket_path(str(Path(sdir if isinstance(sdir, str) and sdir else "var")
                                   / sub))


def cmd_reload(args: argparse.Namespace) -> int:
    path = control_socket(args.config, getattr(args, "worker", None))
    try:
        reply = list(control.call(path, {"op": "reload"}))[-1]
    except control.ControlError as exc:
        print(f"vio-sbc: {exc} (is `vio-sbc run -c {args.config}` running?)", file=sys.stderr)
        return EXIT_NO_SERVER
    if not reply.get("ok"):
        for err in reply.get("errors") or [reply.get("error", "reload failed")]:
            print(err, file=sys.stderr)
        print(f"{args.config}: invalid, the running config is unchanged", file=sys.stderr)
        return EXIT_INVALID
    for line in reload_summary(reply.get("changes", {})):
        print(line)
    return 0


def reload_summary(changes: dict[str, list[str]]) -> list[str]:
    """What `reload` prints: every change applied (one a line, by key path), the trunk
    accounts it touched, and what waits for a restart."""
    applied = changes.get("applied", [])
    restart = changes.get("restart_required", [])
    accounts = [f"{k.removeprefix('accounts_')} {', '.join(v)}" for k, v in changes.items()
                if k.startswith("accounts_") and v]
    others = [f"{k}: {', '.join(v)}" for k, v in changes.items() if v and k not in (
        "applied", "restart_required") and not k.startswith("accounts_")]  # e.g. dialer
    if not (applied or restart or accounts or others):
        return ["reloaded (no changes)"]
    n = len(applied)
    out = [f"reloaded: {n} change{'s' if n != 1 else ''} applied"]
    out += [f"  {c}" for c in applied]
    out += others
    if accounts:
        out.append(f"trunk accounts: {'; '.join(accounts)}")
    if restart:
        out.append(f"not applied, restart required (running values kept): {len(restart)}")
        out += [f"  {c}" for c in restart]
    return out


def _print_result(res: dict[str, Any]) -> int:
    print(f"call {res['call_id']}: {res['outcome']} ({res['sip_status']} {res['reason']}), "
          f"{res['duration_s']:.1f}s answered")
    return 0 if res["outcome"] == "answered" else EXIT_NOT_ANSWERED


def _e164(option: str, text: str) -> str | None:
    """Why `text` is not an E.164 number for `option`, or None."""
    from vio_sbc.config.values import is_e164

    if is_e164(text):
        return None
    return (f"{option} {text!r} is not an E.164 number (+ then 8-15 digits, no leading 0, "
            "e.g. +14155551000)")


def cmd_call_out(args: argparse.Namespace) -> int:
    for option, text in (("--from", args.from_number), ("--to", args.to_number)):
        if (why := _e164(option, text)) is not None:
            print(f"vio-sbc call-out: {why}", file=sys.stderr)
            return EXIT_INVALID
    path = control_socket(args.config)
    msg = {"op": "call_out", "from": args.from_number, "to": args.to_number,
           "agent": args.agent, "ring_timeout_s": args.ring_timeout}
    if not control.server_running(path):
        return _call_out_standalone(args)
    call_id: str | None = None
    deadline = time.monotonic() + args.timeout
    try:
        for reply in control.call(path, msg, timeout=args.timeout):
            if not reply.get("ok"):
                print(f"vio-sbc: refused: {reply.get('status', '')} {reply.get('error')}",
                      file=sys.stderr)
                return EXIT_REFUSED if reply.get("refused") else EXIT_NO_SERVER
            if "call_id" in reply:
                call_id = str(reply["call_id"])
                print(f"call {call_id}: dialing {args.to_number} via the server",
                      file=sys.stderr)
            if "result" in reply:
                return _print_result(reply["result"])
    except control.ControlError as exc:
        if call_id is None or time.monotonic() < deadline - 1.0:
            print(f"vio-sbc: {exc}", file=sys.stderr)
            return EXIT_NO_SERVER
        return _give_up(path, call_id, args.timeout)
    return EXIT_NO_SERVER


def _give_up(path: Path, call_id: str, timeout: float) -> int:
    """--timeout passed with the call still going: hang it up rather than leave it."""
    try:
        reply = list(control.call(path, {"op": "hangup", "call_id": call_id}))[-1]
    except control.ControlError as exc:
        print(f"vio-sbc: no result within --timeout {timeout:g}s, and the hangup failed: "
              f"{exc}", file=sys.stderr)
        return EXIT_NO_SERVER
    done = "hung up" if reply.get("ok") else f"not hung up ({reply.get('error')})"
    print(f"call {call_id}: no result within --timeout {timeout:g}s: {done}", file=sys.stderr)
    return EXIT_NOT_ANSWERED


def _call_out_standalone(args: argparse.Namespace) -> int:
    """No server on this config: run an endpoint (no registration, no OPTIONS) for the call."""
    from vio_sbc import log as vlog
    cfg = load_or_report(args.config)
    if cfg is None:
        return EXIT_INVALID
    from vio_sbc.callcontrol.outbound import OutboundRefused, admit_outbound
    from vio_sbc.trunks.bucket import TokenBucket

    try:  # refuse before starting an endpoint (the same check runs again in place_call)
        admit_outbound(cfg, args.from_number, live_calls=0, bucket=TokenBucket.for_cps(1.0),
                       trunk_down=False, now=0.0)
        if args.agent is not None and args.agent not in cfg.agents:
            raise OutboundRefused(404, f"unknown agent {args.agent!r}")
    except OutboundRefused as ref:
        print(f"vio-sbc: refused: {ref.status} {ref.detail}", file=sys.stderr)
        return EXIT_REFUSED
    vlog.redactor.set(cfg.secrets)
    vlog.configure(cfg.log.level, stream=sys.stderr, fmt=cfg.log.format)
    from dataclasses import asdict

    from vio_sbc.callcontrol.outbound import OutboundRequest, OutboundResult
    from vio_sbc.sip.switch import Softswitch, StartupError

    switch = Softswitch(cfg, standalone=True)
    try:
        switch.start()
    except StartupError as exc:
        print(f"vio-sbc: {exc}", file=sys.stderr)
        return EXIT_NO_SERVER
    results: list[OutboundResult] = []
    deadline = time.monotonic() + args.timeout
    try:
        switch.place_call(OutboundRequest(args.from_number, args.to_number, args.agent,
                                          ring_timeout_s=args.ring_timeout), results.append)
        switch.run(lambda: bool(results) or time.monotonic() > deadline, grace_s=5.0)
    except OutboundRefused as ref:
        print(f"vio-sbc: refused: {ref.status} {ref.detail}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        switch.shutdown()
    if not results:
        print("vio-sbc: no result within --timeout", file=sys.stderr)
        return EXIT_NOT_ANSWERED
    return _print_result(asdict(results[0]))


def add_commands(sub: Any) -> None:
    r = sub.add_parser("reload", help="re-read the config into the running server",
                       description="Make the server running on this config re-read it (as "
                       "SIGHUP does). Valid: applied without dropping calls, exit 0. Invalid: "
                       "the running config stays, every error is printed, exit 2.")
    r.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    r.add_argument("--worker", type=int, metavar="I", help="cluster worker I's server")
    r.set_defaults(func=cmd_reload)

    o = sub.add_parser("call-out", help="place one outbound call through the number's trunk",
                       description="Place one call from a configured number (direction "
                       "outbound or both) to an E.164 number; the answered call is connected "
                       "to the agent. Handed to the running server if there is one, else run "
                       "on an endpoint of its own. Exit 0 answered, 1 not answered, 2 invalid "
                       "config, 3 refused up front (no INVITE sent), 4 no server/endpoint.")
    o.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    o.add_argument("--from", dest="from_number", required=True, help="calling number (E.164)")
    o.add_argument("--to", dest="to_number", required=True, help="called number (E.164)")
    o.add_argument("--agent", default=None, help="agent (default: the number's agent)")
    o.add_argument("--ring-timeout", type=float, default=45.0, help="seconds to ring")
    o.add_argument("--timeout", type=float, default=3600.0,
                   help="give up waiting for the outcome after this many seconds")
    o.set_defaults(func=cmd_call_out)
