"""`vio-sbc campaign …`, `dial`, `jobs …` and `dnc …`: the dialer's queue from the shell.

These commands only write `<storage.dir>/dialer.db`; the dialer inside `vio-sbc run`
(with `dialer: {enabled: true}`) places the calls.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vio_sbc.cli.common import load_or_report
from vio_sbc.config.model import Config

EXIT_INVALID = 2
BAR = 30
PAST_SLACK_S = 60.0  # `dial --at` this far in the past is a mistake, not "now"


def _warn_idle(cfg: Config, from_number: str) -> None:
    """Jobs the config will never let the dialer place: say so when they are queued."""
    from vio_sbc.dialer.why import config_reasons

    for reason in config_reasons(cfg, from_number):
        print(f"warning: {reason}", file=sys.stderr)


def _run(args: argparse.Namespace, fn: Any, *, read_only: bool = False) -> int:
    """Load the config, call fn(cfg, store, args); DialerError -> message, exit 2.
    `read_only` commands need no secret of the config (vio_sbc.config.loader)."""
    from vio_sbc.dialer.api import open_store
    from vio_sbc.dialer.windows import DialerError

    cfg = load_or_report(args.config, unset_ok=read_only)
    if cfg is None:
        return EXIT_INVALID
    store = open_store(cfg)
    try:
        rc: int = fn(cfg, store, args)
        return rc
    except DialerError as exc:
        print(f"vio-sbc: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        store.close()


def _delay(seconds: float) -> float | None:
    return None if seconds < 0 else seconds


def cmd_create(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.api import check_agent, check_from_number
    from vio_sbc.dialer.rules import RetryPolicy
    from vio_sbc.dialer.store import Campaign
    from vio_sbc.dialer.windows import parse_windows, zone

    windows = tuple(str(w) for w in parse_windows(args.window or []))
    zone(args.tz)
    policy = RetryPolicy(max_attempts=args.max_attempts, busy_s=_delay(args.retry_busy),
                         no_answer_s=_delay(args.retry_no_answer),
                         failed_s=_delay(args.retry_failed), machine_s=_delay(args.retry_machine))
    if args.cps <= 0 or args.max_concurrent < 1:
        from vio_sbc.dialer.windows import DialerError

        raise DialerError("--cps must be > 0 and --max-concurrent at least 1")
    c = Campaign(name=args.name, from_number=check_from_number(cfg, args.from_number),
                 agent=check_agent(cfg, args.agent), tz=args.tz, windows=windows, cps=args.cps,
                 max_concurrent=args.max_concurrent, policy=policy, priority=args.priority)
    store.create_campaign(c, time.time())
    print(f"campaign {c.name}: created (from {c.from_number}, "
          f"window {'; '.join(windows) or 'any time'} {c.tz}, cps {c.cps:g}, "
          f"max-concurrent {c.max_concurrent}, max-attempts {policy.max_attempts})")
    _warn_idle(cfg, c.from_number)
    return 0


def cmd_load(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.contacts import parse_contacts
    from vio_sbc.dialer.store import JobSpec

    c = store.campaign(args.name)
    if c.status == "cancelled":
        print(f"vio-sbc: campaign {c.name!r} is cancelled", file=sys.stderr)
        return EXIT_INVALID
    from vio_sbc.dialer.contacts import decode_csv
    from vio_sbc.dialer.windows import DialerError

    try:
        text = decode_csv(Path(args.csv).read_bytes())
    except OSError as exc:
        print(f"{args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    except DialerError as exc:
        print(f"{args.csv}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    contacts, errors = parse_contacts(text)
    specs = [JobSpec(from_number=c.from_number, to_number=k.number, campaign=c.name,
                     agent=c.agent, name=k.name, tz=k.tz, priority=c.priority,
                     policy=c.policy, variables=k.variables, source_line=k.line)
             for k in contacts]
    results = store.add_jobs(specs, time.time())
    for k, res in zip(contacts, results, strict=True):
        if isinstance(res, str):
            print(f"{args.csv}:{k.line}: {res}", file=sys.stderr)
    for e in errors:
        print(e.format(args.csv), file=sys.stderr)
    loaded = sum(1 for r in results if isinstance(r, int))
    skipped = len(errors) + len(results) - loaded
    print(f"campaign {c.name}: loaded {loaded} contact(s), skipped {skipped}")
    if loaded:
        _warn_idle(cfg, c.from_number)
    return 0 if skipped == 0 else 1


def cmd_set_status(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    status = {"pause": "paused", "resume": "active", "cancel": "cancelled"}[args.action]
    n = store.set_campaign_status(args.name, status, time.time())
    extra = f", {n} job(s) cancelled" if args.action == "cancel" else ""
    print(f"campaign {args.name}: {status}{extra}")
    return 0


def render_status(store: Any, name: str) -> str:
    from vio_sbc.dialer.rules import STATUSES, TERMINAL

    c = store.campaign(name)
    counts = store.counts(name)
    total = sum(counts.values())
    done = sum(counts[s] for s in TERMINAL)
    filled = BAR * done // total if total else 0
    pct = 100 * done // total if total else 0
    return "\n".join([
        f"campaign {c.name} ({c.status}) from {c.from_number}, "
        f"window {'; '.join(c.windows) or 'any time'} {c.tz}, cps {c.cps:g}, "
        f"max-concurrent {c.max_concurrent}",
        "  ".join(f"{s} {counts[s]}" for s in STATUSES),
        f"[{'#' * filled}{'-' * (BAR - filled)}] {done}/{total} done ({pct}%)",
    ])


def _server_status(config: str) -> dict[str, Any] | None:
    from vio_sbc import control
    from vio_sbc.cli.trunks import control_socket

    try:
        return list(control.call(control_socket(config), {"op": "status"}, timeout=5))[-1]
    except control.ControlError:
        return None


def held_lines(cfg: Config, store: Any, name: str, config: str) -> list[str]:
    """Why the campaign's waiting jobs do not move (nothing when nothing waits)."""
    from vio_sbc.dialer.rules import CLAIMABLE
    from vio_sbc.dialer.why import campaign_reasons

    c = store.campaign(name)
    if c.status == "cancelled" or not any(store.counts(name)[s] for s in CLAIMABLE):
        return []
    now = datetime.now().astimezone()
    reasons = campaign_reasons(cfg, from_number=c.from_number, status=c.status,
                               windows=c.windows, tz=c.tz, now=now,
                               server=_server_status(config), config=config)
    return [f"held: {r}" for r in reasons]


def cmd_status(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.rules import TERMINAL

    while True:
        text = "\n".join([render_status(store, args.name),
                          *held_lines(cfg, store, args.name, args.config)])
        if args.watch and sys.stdout.isatty():
            sys.stdout.write("\x1b[H\x1b[J")
        print(text, flush=True)
        counts = store.counts(args.name)
        unfinished = sum(n for s, n in counts.items() if s not in TERMINAL)
        if not args.watch or unfinished == 0:
            return 0
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0


def cmd_list(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.rules import TERMINAL

    table = [("CAMPAIGN", "STATUS", "FROM", "DONE")]
    for c in store.campaigns():
        counts = store.counts(c.name)
        done = sum(counts[s] for s in TERMINAL)
        table.append((c.name, c.status, c.from_number, f"{done}/{sum(counts.values())}"))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_dial(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.api import schedule_callback
    from vio_sbc.dialer.rules import normalise_number
    from vio_sbc.dialer.windows import DialerError

    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now().astimezone()
    except ValueError:
        raise DialerError(f"--at {args.at!r} is not an ISO 8601 time "
                          "(e.g. 2026-11-25T10:00-05:00)") from None
    if at.tzinfo is not None and (late := time.time() - at.timestamp()) > PAST_SLACK_S:
        raise DialerError(f"--at {args.at} is {late / 60:.0f} minute(s) in the past "
                          "(omit --at to dial now)")
    variables: dict[str, str] = {}
    for item in args.var or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise DialerError(f"--var {item!r}: expected KEY=VALUE")
        variables[key] = value
    jid = schedule_callback(cfg, args.from_number, args.to, at, agent=args.agent,
                            variables=variables, max_attempts=args.max_attempts)
    print(f"job {jid}: {args.to} at {at.isoformat()}")
    _warn_idle(cfg, normalise_number(args.from_number))
    return 0


def cmd_jobs(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    """`jobs list` (single calls queued by `dial` or an agent) and `jobs cancel ID…`."""
    if args.action == "cancel":
        for jid in args.ids:
            store.cancel_job(jid, time.time())
            print(f"job {jid}: cancelled")
        return 0
    rows = [("JOB", "STATUS", "FROM", "TO", "AT (UTC)", "ATTEMPTS")]
    for j in store.callbacks(done=args.all):
        at = datetime.fromtimestamp(j["not_before"] or j["created_at"], UTC)
        rows.append((str(j["id"]), j["status"], j["from_number"], j["to_number"],
                     at.strftime("%Y-%m-%d %H:%M"), f"{j['attempts']}/{j['max_attempts']}"))
    if len(rows) == 1:
        print("no jobs" if args.all else "no waiting jobs (--all: finished ones too)")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_dnc(cfg: Config, store: Any, args: argparse.Namespace) -> int:
    from vio_sbc.dialer.rules import normalise_number

    if args.action == "list":
        for r in store.dnc_list():
            print(f"{r['number']}  {r['reason'] or ''}".rstrip())
        return 0
    for text in args.numbers:
        number = normalise_number(text)
        if args.action == "add":
            store.dnc_add(number, args.reason, time.time())
            print(f"{number}: on the do-not-call list")
        elif store.dnc_remove(number):
            print(f"{number}: removed from the do-not-call list")
        else:
            print(f"{number}: was not on the list")
    return 0


def _cfg_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config/vio.yaml", help="config file")


def register(sub: Any) -> None:
    """Add `campaign`, `dial` and `dnc` to the vio-sbc subcommands."""
    camp = sub.add_parser("campaign", help="outbound campaigns (create, load, status, ...)",
                          description="Manage outbound campaigns in <storage.dir>/dialer.db.")
    csub = camp.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    cr = csub.add_parser("create", help="create a campaign")
    _cfg_arg(cr)
    cr.add_argument("--name", required=True)
    cr.add_argument("--from", dest="from_number", required=True, help="calling number, E.164")
    cr.add_argument("--agent", help="agent for the calls (default: the number's)")
    cr.add_argument("--window", action="append",
                    help='calling window, e.g. "Mon-Fri 09:00-18:00" (repeatable; none: any '
                    "time)")
    cr.add_argument("--tz", required=True, help="default time zone of callees (IANA name)")
    cr.add_argument("--cps", type=float, default=1.0, help="new calls per second")
    cr.add_argument("--max-concurrent", type=int, default=5)
    cr.add_argument("--max-attempts", type=int, default=3)
    cr.add_argument("--retry-busy", type=float, default=300.0, help="seconds; -1: never")
    cr.add_argument("--retry-no-answer", type=float, default=600.0, help="seconds; -1: never")
    cr.add_argument("--retry-failed", type=float, default=900.0, help="seconds; -1: never")
    cr.add_argument("--retry-machine", type=float, default=-1.0, help="seconds; -1: never")
    cr.add_argument("--priority", type=int, default=0)
    cr.set_defaults(func=lambda a: _run(a, cmd_create))
    ld = csub.add_parser("load", help="load contacts from a CSV (number[,name][,tz],vars...)")
    _cfg_arg(ld)
    ld.add_argument("name")
    ld.add_argument("csv")
    ld.set_defaults(func=lambda a: _run(a, cmd_load))
    for action, text in (("pause", "stop starting calls"), ("resume", "start calls again"),
                         ("cancel", "cancel jobs not yet dialing")):
        p = csub.add_parser(action, help=text)
        _cfg_arg(p)
        p.add_argument("name")
        p.set_defaults(func=lambda a: _run(a, cmd_set_status), action=action)
    ls = csub.add_parser("list", help="every campaign with its status and progress")
    _cfg_arg(ls)
    ls.set_defaults(func=lambda a: _run(a, cmd_list, read_only=True))
    st = csub.add_parser("status", help="counts by status and a progress bar")
    _cfg_arg(st)
    st.add_argument("name")
    st.add_argument("--watch", action="store_true", help="refresh until every job is done")
    st.add_argument("--interval", type=float, default=2.0)
    st.set_defaults(func=lambda a: _run(a, cmd_status, read_only=True))

    d = sub.add_parser("dial", help="schedule one call (a callback) at a time",
                       description="Queue one outbound call in <storage.dir>/dialer.db; the "
                       "dialer of the running server (dialer.enabled: true) places it. "
                       "`vio-sbc jobs list` shows the queued calls, `jobs cancel ID` "
                       "cancels one.")
    _cfg_arg(d)
    d.add_argument("--from", dest="from_number", required=True,
                   help="calling number: a configured number with direction outbound or both")
    d.add_argument("--to", required=True, help="number to call, E.164 (e.g. +14155551000)")
    d.add_argument("--at", help="when: ISO 8601 time with offset, e.g. "
                   "2026-11-25T10:00-05:00 (default: now; not in the past)")
    d.add_argument("--agent", help="agent for the call (default: the calling number's)")
    d.add_argument("--var", action="append", metavar="KEY=VALUE",
                   help="a variable for the agent (repeatable)")
    d.add_argument("--max-attempts", type=int, default=2,
                   help="attempts in all, retried after busy/no answer/failure (default 2)")
    d.set_defaults(func=lambda a: _run(a, cmd_dial))

    jb = sub.add_parser("jobs", help="single queued calls (from dial or agents): list, cancel",
                        description="The single calls in the dialer queue (not campaigns).")
    jsub = jb.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    jl = jsub.add_parser("list", help="queued, retrying and dialing jobs (--all: every job)")
    _cfg_arg(jl)
    jl.add_argument("--all", action="store_true", help="finished jobs too")
    jl.set_defaults(func=lambda a: _run(a, cmd_jobs, read_only=True), action="list")
    jc = jsub.add_parser("cancel", help="cancel jobs not yet dialing")
    _cfg_arg(jc)
    jc.add_argument("ids", nargs="+", type=int, metavar="ID")
    jc.set_defaults(func=lambda a: _run(a, cmd_jobs), action="cancel")

    dn = sub.add_parser("dnc", help="the do-not-call list (add, remove, list)",
                        description="Numbers on the do-not-call list are never dialled, by "
                        "campaigns or single jobs.")
    dsub = dn.add_subparsers(dest="dnc_command", required=True, metavar="ACTION")
    for action, text in (("add", "put numbers on the list"),
                         ("remove", "take numbers off the list"),
                         ("list", "every number on the list, with its reason")):
        p = dsub.add_parser(action, help=text, description=text)
        _cfg_arg(p)
        if action != "list":
            p.add_argument("numbers", nargs="+", metavar="NUMBER", help="E.164 numbers")
        if action == "add":
            p.add_argument("--reason", help="why (shown by dnc list)")
        p.set_defaults(func=lambda a: _run(a, cmd_dnc, read_only=a.action == "list"),
                       action=action)
