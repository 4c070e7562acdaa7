"""`vio-sbc calls | call | export | cleanup`: reading the call log.

Times are shown in UTC. Reads go through `vio_sbc.calllog.CallLogDb`, a connection of
their own (the server may be running).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from vio_sbc.calllog import AmbiguousCall, CallLogDb, dialect_for
from vio_sbc.calllog.queries import FILTERS
from vio_sbc.calllog.schema import STATUSES
from vio_sbc.errors import ConfigError

EXIT_INVALID = 2
EXIT_NOT_FOUND = 1
_REL = re.compile(r"([0-9]+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ISO = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S")


class UsageError(Exception):
    pass


def parse_since(text: str, now: float) -> float:
    """`30m`, `2h`, `7d`, `1w` before `now`, or a UTC date/time `2026-11-25[THH:MM[:SS]]`."""
    m = _REL.fullmatch(text.strip())
    if m:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    for fmt in _ISO:
        try:
            return float(time.mktime(time.strptime(text.strip(), fmt)) - time.timezone)
        except ValueError:
            continue
    raise UsageError(f"--since {text!r}: expected an age like 30m, 2h, 7d, 1w or a UTC "
                     "date like 2026-11-25 or 2026-11-25T14:30")


def utc(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def mmss(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


# --- opening the log ---------------------------------------------------------------------


def open_db(config: str) -> CallLogDb:
    from vio_sbc.config import load_config

    dialect = dialect_for(load_config(config, unset_ok=True))  # reading needs no secret
    if not dialect.exists():
        raise UsageError(f"no call log at {dialect.location} (storage.dir of {config})")
    return CallLogDb(dialect)  # an older log gets the new columns


def row_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    d = dict(row)
    if d.get("cost_breakdown"):
        d["cost_breakdown"] = json.loads(d["cost_breakdown"])
    return d


# --- calls ---------------------------------------------------------------------------------


def query_calls(db: CallLogDb, args: argparse.Namespace,
                now: float | None = None) -> list[dict[str, Any]]:
    since = getattr(args, "since", None)
    return db.calls({key: getattr(args, key, None) for key in FILTERS},
                    since=parse_since(since, time.time() if now is None else now)
                    if since else None, limit=getattr(args, "limit", None))


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def other_party(row: Mapping[str, Any]) -> str:
    """Who the call was with: the caller of an inbound call, the callee of an outbound
    one (the row's `number` is ours either way)."""
    party = row["callee"] if row["direction"] == "outbound" else row["caller"]
    return str(party or "-")


def calls_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The calls as a table; a WORKER column when a cluster's workers wrote them."""
    rows = list(rows)
    clustered = any(r.get("worker") for r in rows)
    out = [("STARTED (UTC)", "ID", "DIR", "NUMBER", "TRUNK", "AGENT", "OTHER PARTY", "STATUS",
            "DUR", "COST", *(("WORKER",) if clustered else ()))]
    for r in rows:
        cost = f"{r['cost']} {r['cost_currency']}" if r["cost"] is not None else "-"
        out.append((utc(r["received_at"]), r["id"][:8], "in" if r["direction"] == "inbound"
                    else "out", r["number"] or "-", r["trunk"] or "-", r["agent"] or "-",
                    other_party(r), r["status"], mmss(r["duration_s"]), cost,
                    *((r.get("worker") or "-",) if clustered else ())))
    return table(out)


def cmd_calls(args: argparse.Namespace) -> int:
    with open_db(args.config) as db:
        rows = query_calls(db, args)
    if args.json:
        json.dump([row_dict(r) for r in rows], sys.stdout, indent=2)
        print()
    elif rows:
        print(calls_table(rows))
    else:
        print("no calls")
    return 0


# --- call ----------------------------------------------------------------------------------


def describe_call(row: Mapping[str, Any], lines: list[dict[str, Any]]) -> str:
    from vio_sbc.calllog.summary.extractive import Line, dialogue

    status = row["status"]
    if row["final_status"] is not None:
        status += f" ({row['final_status']} {row['final_reason'] or ''})".replace(" )", ")")
    if row["hangup_side"]:
        status += f", hangup: {row['hangup_side']}"
    dur = "-"
    if row["duration_s"] is not None:
        dur = f"{row['duration_s']:.1f} s"
        if row["billable_s"] is not None:
            dur += f" (billable {row['billable_s']} s)"
    rec = row["recording_path"] or "-"
    if row["recording_path"] and not Path(row["recording_path"]).exists():
        rec += (f" (not on this machine: on worker {row['worker']})" if row.get("worker")
                else " (file missing)")
    fields = [
        ("SIP Call-ID", row["sip_call_id"]), ("Direction", row["direction"]),
        ("Trunk", row["trunk"]), ("Number", row["number"]), ("Agent", row["agent"]),
        ("Caller", row["caller"]), ("Callee", row["callee"]), ("Status", status),
        ("Placed" if row["direction"] == "outbound" else "Received", utc(row["received_at"])),
        ("Answered", utc(row["answered_at"])),
        ("Ended", utc(row["ended_at"])), ("Duration", dur), ("Codec", row["codec"]),
        ("Transfer", row["transfer_outcome"]), ("Dialer job", row["dialer_job_id"]),
        ("Recording", rec), *((("Worker", row["worker"]),) if row.get("worker") else ()),
    ]
    out = [f"Call {row['id']}"]
    out += [f"  {k:<12} {v if v not in (None, '') else '-'}" for k, v in fields]
    out += ["", "Transcript"]
    text = dialogue([Line(r["speaker"], r["text"], r["start_ms"] or 0, r["end_ms"] or 0)
                     for r in lines])
    out += [f"  {ln}" for ln in text.splitlines()] or ["  (empty)"]
    out += ["", f"Summary ({row['summary_provider'] or 'none'})"]
    out += [f"  {ln}" for ln in (row["summary"] or "(none)").splitlines()]
    if row["summary_error"]:
        out.append(f"  Note: the summary provider failed, kept the extractive summary: "
                   f"{row['summary_error']}")
    out += ["", "Cost"]
    out += _cost_lines(row)
    return "\n".join(out)


def _cost_lines(row: Mapping[str, Any]) -> list[str]:
    if row["cost"] is None:
        return ["  (no rates configured)"]
    b = json.loads(row["cost_breakdown"] or "{}")
    cur = row["cost_currency"]
    out = []
    if "carrier" in b:
        pfx = f", prefix {b['rate_prefix']}" if b.get("rate_prefix") else ""
        out.append(f"  carrier   {b['carrier']} {cur}  ({b['direction']} {b['per_minute']}/min"
                   f"{pfx}, increment {b['increment']}, billable {b['billable_s']} s, "
                   f"connection fee {b['connection_fee']})")
    if "platform" in b:
        out.append(f"  platform  {b['platform']} {cur}  ({b['platform_per_minute']}/min, "
                   f"{b['platform_billable_s']} s)")
    out.append(f"  total     {row['cost']} {cur}")
    return out


def cmd_call(args: argparse.Namespace) -> int:
    with open_db(args.config) as db:
        try:
            row = db.find(args.id)
        except AmbiguousCall as exc:
            raise UsageError(exc.args[0]) from None
        except LookupError as exc:
            print(f"vio-sbc call: {exc.args[0]}", file=sys.stderr)
            return EXIT_NOT_FOUND
        lines = db.transcript(row["id"])
    if args.json:
        json.dump({**row_dict(row), "transcript": lines}, sys.stdout, indent=2)
        print()
    else:
        print(describe_call(row, lines))
    return 0


# --- export --------------------------------------------------------------------------------


def export(db: CallLogDb, rows: list[dict[str, Any]], fmt: str, out: TextIO) -> int:
    if fmt == "csv":
        cols = list(rows[0].keys()) if rows else db.call_columns()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in cols])
    else:
        for r in rows:
            out.write(json.dumps({**row_dict(r), "transcript": db.transcript(r["id"])},
                                 sort_keys=True) + "\n")
    return len(rows)


def cmd_export(args: argparse.Namespace) -> int:
    with open_db(args.config) as db:
        rows = list(reversed(query_calls(db, args)))  # oldest first
        if args.output and args.output != "-":
            try:
                f = open(args.output, "w", newline="", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {args.output}: {_why(exc, args.output)}"
                                 ) from None
            with f:
                n = export(db, rows, args.format, f)
            print(f"exported {n} call(s) to {args.output}", file=sys.stderr)
        else:
            export(db, rows, args.format, sys.stdout)
    return 0


def _why(exc: OSError, path: str) -> str:
    parent = Path(path).parent
    if isinstance(exc, FileNotFoundError) and not parent.is_dir():
        return f"directory {parent} does not exist"
    return str(exc.strerror or exc)


# --- cleanup -------------------------------------------------------------------------------


def cmd_cleanup(args: argparse.Namespace) -> int:
    from vio_sbc.calllog.cleanup import cleanup
    from vio_sbc.config import load_config

    cfg = load_config(args.config, unset_ok=True)
    days = args.days if args.days is not None else cfg.storage.retention_days
    if days is None:
        raise UsageError("storage.retention_days is not set: set it in the config or pass --days")
    report = cleanup(cfg, days, rows=args.rows, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {report.files} recording(s) ({report.bytes / 1e6:.1f} MB) and "
          f"{report.rows} call row(s) older than {days} day(s)")
    return 0


# --- wiring --------------------------------------------------------------------------------


def _guard(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            rc: int = func(args)
            return rc
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            return EXIT_INVALID
        except UsageError as exc:
            print(f"vio-sbc {args.command}: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except BrokenPipeError:
            raise  # the reader went away: vio_sbc.cli.main ends quietly
        except OSError as exc:
            print(f"vio-sbc {args.command}: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
    return run


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, got {text!r}"
                                         ) from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {days} (0 or less would "
                                         "delete every recording)")
    return days


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    p.add_argument("--number", help="E.164 number, e.g. +14155550100")
    p.add_argument("--agent")
    p.add_argument("--trunk")
    p.add_argument("--worker", help="a cluster worker's name (w1, w2, ...)")
    p.add_argument("--direction", choices=("inbound", "outbound"))
    p.add_argument("--status", choices=STATUSES, metavar="STATUS",
                   help=f"one of: {', '.join(STATUSES)}")
    p.add_argument("--since", help="an age (30m, 2h, 7d, 1w) or a UTC date[THH:MM]")


def register(sub: Any) -> None:
    """Add the call-log commands to the `vio-sbc` sub-parsers."""
    c = sub.add_parser("calls", help="list recent calls from the call log",
                       description="List calls, newest first (times in UTC).")
    _filters(c)
    c.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    c.add_argument("--json", action="store_true", help="JSON array of full rows")
    c.set_defaults(func=_guard(cmd_calls))

    one = sub.add_parser("call", help="show one call: transcript, summary, cost, recording",
                         description="Show one call in full. ID: call id, a unique prefix "
                         "of it, or a SIP Call-ID.")
    one.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    one.add_argument("id", metavar="ID")
    one.add_argument("--json", action="store_true", help="the row and transcript as JSON")
    one.set_defaults(func=_guard(cmd_call))

    e = sub.add_parser("export", help="export calls as CSV or JSONL",
                       description="Export calls, oldest first. CSV has the call rows; "
                       "JSONL adds each call's transcript.")
    _filters(e)
    e.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    e.add_argument("-o", "--output", help="output file (default: stdout)")
    e.set_defaults(func=_guard(cmd_export), limit=None)

    k = sub.add_parser("cleanup", help="delete recordings older than storage.retention_days",
                       description="Delete recordings (and with --rows the call rows) of "
                       "calls older than the retention period.")
    k.add_argument("-c", "--config", default="config/vio.yaml", help="config file")
    k.add_argument("--days", type=_days, help="override storage.retention_days (at least 1)")
    k.add_argument("--rows", action="store_true", help="also delete the calls' rows")
    k.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    k.set_defaults(func=_guard(cmd_cleanup))
