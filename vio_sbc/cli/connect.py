"""`vio-sbc connect twilio|pbx`: connect a carrier step by step (or from flags).

Asks what it needs (on a terminal; without one every answer must be a flag), writes a
trunk file and its numbers under the config's `include`, checked by the loader first
(nothing is written when it would not load), prints what to do on the carrier's side,
then, when a server runs on the config, reloads it, waits for the trunk's OPTIONS
answer (and registration) and offers a test call. The text comes from
vio_sbc/trunks/guide.py.
"""

from __future__ import annotations

import argparse
import fnmatch
import ipaddress
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from vio_sbc import control
from vio_sbc.cli.common import EXIT_INVALID, load_or_report
from vio_sbc.config.model import Config
from vio_sbc.errors import ConfigError
from vio_sbc.trunks import guide

EXIT_NOT_UP = 1


class Abort(Exception):
    pass


def ask(args: argparse.Namespace, attr: str, question: str, default: str | None = None,
        *, optional: bool = False) -> str | None:
    """The flag's value, else the answer typed on a terminal, else the default."""
    value = getattr(args, attr)
    if value is not None:
        return str(value)
    if args.yes or not sys.stdin.isatty():
        if default is None and not optional:
            raise Abort(f"--{attr.replace('_', '-')} is required (no terminal to ask on)")
        return default
    shown = f" [{default}]" if default else (" (empty: none)" if optional else "")
    answer = input(f"{question}{shown}: ").strip()
    if not answer and default is None and not optional:
        raise Abort(f"{question}: an answer is required")
    return answer or default


def target_file(cfg: Config, name: str) -> Path:
    """Where the trunk's file goes: the first `include` pattern a `<name>.yaml` matches."""
    data = yaml.safe_load(Path(cfg.source).read_text("utf-8")) or {}
    patterns = data.get("include") or []
    base = Path(cfg.source).parent
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        folder, _, last = str(pattern).rpartition("/")
        if fnmatch.fnmatch(f"{name}.yaml", last) and "*" not in folder:
            return base / folder / f"{name}.yaml"
    raise Abort(f"{cfg.source} has no include pattern a trunk file fits: add "
                "`include: [trunks/*.yaml]` to it")


def numbers(args: argparse.Namespace, cfg: Config) -> guide.Numbers:
    from vio_sbc.dialer.rules import normalise_number
    from vio_sbc.dialer.windows import DialerError

    given = args.number or [ask(args, "numbers_prompt", "Numbers (E.164, comma-separated)")]
    out: list[str] = []
    for text in ",".join(n for n in given if n).split(","):
        if text.strip():
            try:
                out.append(normalise_number(text))
            except DialerError as exc:
                raise Abort(str(exc)) from None
    if not out:
        raise Abort("at least one number is needed (--number +E164)")
    direction = ask(args, "direction", "Direction (inbound, outbound, both)", "both") or "both"
    agent = ask(args, "agent", f"Agent (default: the workspace's, {cfg.workspace.default_agent})",
                optional=True)
    if agent and agent not in cfg.agents:
        raise Abort(f"unknown agent {agent!r} (defined: {', '.join(sorted(cfg.agents))})")
    args.first_number = out[0]  # the test call's calling number
    return guide.Numbers(tuple(out), direction, agent or None)


def our_address(cfg: Config) -> str:
    return cfg.sip.public_address or cfg.sip.listen.host


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified


def twilio(args: argparse.Namespace, cfg: Config) -> tuple[str, str, list[str]]:
    name = ask(args, "name", "Trunk name", "twilio") or "twilio"
    term = ask(args, "termination", "Termination SIP URI host (<name>.pstn.twilio.com)")
    user = ask(args, "username", "Credential list username (empty: IP ACL only)",
               optional=True)
    a = guide.TwilioAnswers(name, str(term).removeprefix("sip:"), user or None,
                            args.password_env or "TWILIO_SIP_PASSWORD", numbers(args, cfg),
                            secure=bool(args.secure))
    return name, guide.twilio_yaml(a), guide.twilio_steps(a, our_address(cfg))


def pbx(args: argparse.Namespace, cfg: Config) -> tuple[str, str, list[str]]:
    name = ask(args, "name", "Trunk name", "pbx1") or "pbx1"
    host = str(ask(args, "host", "PBX address (IP or hostname)"))
    port = int(ask(args, "port", "PBX SIP port", "5060") or 5060)
    user = ask(args, "username", "Username on the PBX (empty: IP-based, no auth)",
               optional=True)
    register = args.register if args.register is not None else bool(user)
    try:
        allow = (str(ipaddress.ip_address(host)),)
    except ValueError:
        allow = tuple(args.allow or [])
        if not allow:
            raise Abort(f"{host} is a hostname: give its address(es) with --allow CIDR "
                        "(inbound calls are accepted from those)") from None
    a = guide.PbxAnswers(name, host, port, args.transport, user or None,
                         args.password_env or "PBX_PASSWORD", register,
                         tuple(args.allow or allow), numbers(args, cfg))
    return name, guide.pbx_yaml(a), guide.pbx_steps(a, our_address(cfg))


def cmd_connect(args: argparse.Namespace) -> int:
    cfg = load_or_report(args.config, unset_ok=True)  # other trunks' secrets: the server's
    if cfg is None:
        return EXIT_INVALID
    try:
        name, text, steps = (twilio if args.carrier == "twilio" else pbx)(args, cfg)
        path = target_file(cfg, name)
        if name in cfg.trunks:
            raise Abort(f"trunk {name!r} exists already ({cfg.trunks[name].file}): pick "
                        "another --name")
        if path.exists():
            raise Abort(f"{path} exists already: pick another --name")
        write_checked(cfg, path, text)
    except Abort as exc:
        print(f"vio-sbc connect: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {path} (trunk {name}); checked like `vio-sbc check`")
    env = args.password_env or ("TWILIO_SIP_PASSWORD" if args.carrier == "twilio"
                                else "PBX_PASSWORD")
    if f"${{{env}}}" in text and env not in os.environ:
        print(f"set {env} in the server's environment (the trunk's password)")
    print("\nOn the carrier's side:")
    for step in steps:
        print(f"  {step}")
    if _private(our_address(cfg)):
        print(f"  (note: {our_address(cfg)} is not reachable from the carrier: set "
              "sip.public_address to the address it can reach and use that)")
    return check_live(args, name)


def write_checked(cfg: Config, path: Path, text: str) -> None:
    """Write the file only if the config loads with it (secrets may be unset here)."""
    from vio_sbc.config import load_config

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    try:
        load_config(cfg.source, unset_ok=True)  # the password is the server's to have
    except ConfigError as exc:
        path.unlink()
        raise Abort("the trunk file would not load (not written):\n"
                    + "\n".join(str(i) for i in exc.issues)) from None


def check_live(args: argparse.Namespace, name: str) -> int:
    """Reload the running server and wait for the trunk's OPTIONS answer."""
    from vio_sbc.cli.trunks import control_socket
    from vio_sbc.ops.glance import health_text, registration_text

    sock = control_socket(args.config)
    if not control.server_running(sock):
        print(f"\nno server runs on {args.config}: start it (vio-sbc run -c {args.config}), "
              f"then `vio-sbc status -c {args.config}` shows the trunk's OPTIONS health")
        return 0
    reply = list(control.call(sock, {"op": "reload"}))[-1]
    if not reply.get("ok"):
        for err in reply.get("errors") or [reply.get("error")]:
            print(err, file=sys.stderr)
        return EXIT_INVALID
    print(f"\nreloaded the running server; waiting up to {args.wait:g}s for trunk {name}")
    deadline = time.monotonic() + args.wait
    trunk: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = list(control.call(sock, {"op": "status"}))[-1]
        trunk = next((t for t in status.get("trunks", []) if t["trunk"] == name), {})
        h, reg = trunk.get("health"), trunk.get("registration")
        if h and h.get("checked") and (reg is None or reg.get("status") == "registered"):
            break
        time.sleep(0.5)
    h, reg = trunk.get("health"), trunk.get("registration")
    print(f"  OPTIONS: {health_text(h) if h else 'not pinged'}")
    if reg is not None:
        print(f"  registration: {registration_text(reg)}")
    up = bool(h and h.get("checked") and h.get("up")) and (
        reg is None or reg.get("status") == "registered")
    to = args.test_call or (None if args.yes or not sys.stdin.isatty() else
                            input("Place a test call to (E.164, empty: skip): ").strip())
    if to:
        from vio_sbc.cli.trunks import cmd_call_out

        print(f"test call: {args.first_number} -> {to}")
        rc = cmd_call_out(argparse.Namespace(
            config=args.config, from_number=args.first_number, to_number=to, agent=None,
            ring_timeout=30.0, timeout=120.0))
        return rc if rc else (0 if up else EXIT_NOT_UP)
    return 0 if up else EXIT_NOT_UP


def register(sub: Any) -> None:
    c = sub.add_parser("connect", help="connect a Twilio number or a PBX trunk, step by step",
                       description="Ask (or take flags for) what a carrier needs, write a "
                       "checked trunk file and its numbers under the config's include, print "
                       "the carrier-side steps, then (server running) reload it, check the "
                       "trunk's OPTIONS/registration and offer a test call. Exit 0 done and "
                       "up, 1 written but not up, 2 invalid answers or config.")
    csub = c.add_subparsers(dest="carrier", required=True, metavar="CARRIER")
    for carrier, text in (("twilio", "a Twilio Elastic SIP Trunk (docs/twilio.md)"),
                          ("pbx", "a FreePBX/Asterisk trunk (docs/trunks.md)")):
        p = csub.add_parser(carrier, help=text, description=text)
        p.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
        p.add_argument("--name", help="trunk name")
        p.add_argument("--number", action="append", help="a number of the trunk, E.164 "
                       "(repeatable)")
        p.add_argument("--direction", choices=("inbound", "outbound", "both"),
                       help="the numbers' direction (default both)")
        p.add_argument("--agent", help="agent for the numbers (default: the workspace's)")
        p.add_argument("--username", help="digest username (empty: no authentication)")
        p.add_argument("--password-env", help="environment variable holding the password")
        p.add_argument("--test-call", metavar="E164", help="after the check, call this")
        p.add_argument("--wait", type=float, default=20.0,
                       help="seconds to wait for the trunk's OPTIONS answer (default 20)")
        p.add_argument("--yes", action="store_true", help="ask nothing: flags and defaults")
        if carrier == "twilio":
            p.add_argument("--termination", help="the Termination SIP URI host")
            p.add_argument("--secure", action="store_true", help="Secure Trunking (TLS+SRTP)")
        else:
            p.add_argument("--host", help="the PBX's address")
            p.add_argument("--port", type=int, help="its SIP port (default 5060)")
            p.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp",
                           help="default udp")
            p.add_argument("--register", action=argparse.BooleanOptionalAction,
                           help="register to the PBX (default: when a username is given)")
            p.add_argument("--allow", action="append", metavar="CIDR",
                           help="source addresses of the PBX (default: --host if an IP)")
        p.set_defaults(func=cmd_connect, numbers_prompt=None)
