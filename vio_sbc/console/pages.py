"""The console's pages (pure: data in, HTML out): Numbers, Call logs, one call, Live."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from vio_sbc.calllog.schema import STATUSES
from vio_sbc.config.model import Config
from vio_sbc.console.layout import esc, messages, mmss, page, select, table, utc
from vio_sbc.console.yamledit import DEFAULT_AGENT, DIRECTIONS
from vio_sbc.ops.glance import health_text, registration_text


def row_id(number: str) -> str:
    return "num-" + number.lstrip("+")


def numbers_page(cfg: Config, message: str | None = None,
                 errors: Sequence[str] = ()) -> bytes:
    default = cfg.workspace.default_agent
    agents = [(DEFAULT_AGENT, f"workspace default ({default})")] + [
        (name, name) for name in sorted(cfg.agents)]
    rows, ids = [], []
    for num in sorted(cfg.numbers.values(), key=lambda n: n.number):
        agent, is_default = cfg.agent_for(num)
        effective = (f'{esc(agent.name)} <span class="muted">(workspace default)</span>'
                     if is_default else esc(agent.name))
        form = f'form-{row_id(num.number)}'
        rows.append((
            f"<strong>{esc(num.number)}</strong>", esc(num.trunk),
            select("direction", [(d, d) for d in DIRECTIONS], num.direction.value, form=form),
            effective,
            select("agent", agents, num.agent or DEFAULT_AGENT, form=form),
            f'<span class="muted">{esc(num.file)}:{num.line}</span>',
            f'<form method="post" action="/numbers" id="{form}" class="inline">'
            f'<input type="hidden" name="number" value="{esc(num.number)}">'
            f'<button type="submit">Save</button></form>'))
        ids.append(row_id(num.number))
    body = messages(message, errors) + table(
        ("Number", "Trunk", "Direction", "Answered by", "Agent", "Defined in", ""), rows,
        empty="no numbers configured", row_ids=ids) + (
        '<p class="muted">A change is written to the file that defines the number '
        "(comments kept), checked like <code>vio-sbc check</code> and applied like "
        "<code>vio-sbc reload</code>: calls in progress keep their route.</p>")
    return page("Numbers", body, active="/numbers", workspace=cfg.workspace.name)


def _party(row: Mapping[str, Any]) -> str:
    return str((row["callee"] if row["direction"] == "outbound" else row["caller"]) or "-")


def _duration(row: Mapping[str, Any]) -> str:
    d = row.get("duration_s")
    return "-" if d is None else mmss(d * 1000)


def calls_page(cfg: Config, rows: Sequence[Mapping[str, Any]],
               filters: Mapping[str, str]) -> bytes:
    def field(name: str, label: str) -> str:
        return (f'<label>{esc(label)}<input name="{name}" value="{esc(filters.get(name, ""))}"'
                f' size="14"></label>')

    form = ('<form class="filters" method="get" action="/calls">'
            + field("number", "number") + field("agent", "agent") + field("trunk", "trunk")
            + "<label>direction" + select("direction", [("", "any"), ("inbound", "inbound"),
                                                      ("outbound", "outbound")],
                                          filters.get("direction", "")) + "</label>"
            + "<label>status" + select("status", [("", "any")] + [(s, s) for s in STATUSES],
                                       filters.get("status", "")) + "</label>"
            + field("since", "since (2h, 7d, 2026-11-25)")
            + '<button type="submit">Filter</button></form>')
    out = []
    for r in rows:
        cost = f"{r['cost']} {r['cost_currency']}" if r.get("cost") is not None else "-"
        out.append((f'<a href="/calls/{quote(r["id"])}">{esc(utc(r["received_at"]))}</a>',
                    esc(r["direction"]), esc(r["number"] or "-"), esc(_party(r)),
                    esc(r["agent"] or "-"), esc(r["trunk"] or "-"), esc(r["status"]),
                    esc(_duration(r)), esc(cost)))
    body = form + table(("Started (UTC)", "Direction", "Number", "Other party", "Agent",
                         "Trunk", "Status", "Duration", "Cost"), out, empty="no calls")
    return page("Call logs", body, active="/calls", workspace=cfg.workspace.name)


def _cost(row: Mapping[str, Any]) -> str:
    if row.get("cost") is None:
        return '<p class="muted">no rates configured</p>'
    b = json.loads(row.get("cost_breakdown") or "{}")
    cur = row["cost_currency"]
    parts = []
    if "carrier" in b:
        parts.append((esc("carrier"), esc(f"{b['carrier']} {cur}"),
                      esc(f"{b['direction']} {b['per_minute']}/min, increment "
                          f"{b['increment']}, billable {b['billable_s']} s, connection fee "
                          f"{b['connection_fee']}")))
    if "platform" in b:
        parts.append((esc("platform"), esc(f"{b['platform']} {cur}"),
                      esc(f"{b['platform_per_minute']}/min, {b['platform_billable_s']} s")))
    parts.append(("<strong>total</strong>", f"<strong>{esc(row['cost'])} {esc(cur)}</strong>",
                  ""))
    return table(("", "Amount", "How"), parts)


def call_page(cfg: Config, row: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]],
              events: Sequence[Mapping[str, Any]], recording: bool) -> bytes:
    status = row["status"]
    if row.get("final_status") is not None:
        status += f" ({row['final_status']} {row.get('final_reason') or ''})".rstrip()
    facts = [("Direction", row["direction"]), ("Number", row["number"]),
             ("Other party", _party(row)), ("Agent", row["agent"]), ("Trunk", row["trunk"]),
             ("Status", status), ("Hangup", row.get("hangup_side")),
             ("Placed" if row["direction"] == "outbound" else "Received",
              utc(row["received_at"])), ("Answered", utc(row.get("answered_at"))),
             ("Ended", utc(row.get("ended_at"))), ("Duration", _duration(row)),
             ("Codec", row.get("codec")), ("SIP Call-ID", row.get("sip_call_id")),
             ("Transfer", row.get("transfer_outcome")), ("Dialer job", row.get("dialer_job_id"))]
    dl = "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v if v not in (None, '') else '-')}</dd>"
                          for k, v in facts) + "</dl>"
    if recording:
        audio = (f'<audio id="recording" controls preload="metadata" '
                 f'src="/calls/{quote(row["id"])}/recording"></audio>'
                 '<p class="muted">stereo: caller left, agent right</p>')
    else:
        audio = '<p class="muted" id="no-recording">no recording</p>'
    lines = table(("At", "Speaker", "Text"), (
        (esc(mmss(t["start_ms"])), esc(t["speaker"]), esc(t["text"])) for t in transcript),
        empty="no transcript")
    summary = (f'<pre id="summary">{esc(row.get("summary") or "(none)")}</pre>'
               f'<p class="muted">{esc(row.get("summary_provider") or "")}</p>')
    evs = table(("At", "Event", "Data"), ((esc(mmss(e["t_ms"])), esc(e["kind"]),
                                           esc(e["data"] or "")) for e in events),
                empty="no events")
    body = (dl + "<h2>Recording</h2>" + audio + "<h2>Transcript</h2>" + lines
            + "<h2>Summary</h2>" + summary + "<h2>Cost</h2>" + _cost(row)
            + "<h2>Events</h2>" + evs)
    return page(f"Call {row['id'][:8]}", body, active="/calls", workspace=cfg.workspace.name)


def live_fragment(status: Mapping[str, Any] | None, dialer: Mapping[str, Any] | None,
                  now: float) -> str:
    if status is None:
        return '<p class="bad">the server does not answer</p>'
    calls = [(esc(c["id"][:8]), esc(c["direction"]), esc(c["number"] or "-"),
              esc((c.get("callee") if c["direction"] == "outbound" else c.get("caller"))
                  or "-"), esc(c["agent"] or "-"), esc(c["trunk"] or "-"), esc(c["state"]),
              esc(f"{c['age_s']:.0f} s")) for c in status.get("calls", [])]
    trunks = []
    for t in status.get("trunks", []):
        h = t.get("health")
        cls = "muted" if h is None else ("bad" if not h["up"] else
                                         "ok" if h.get("checked", True) else "warn")
        trunks.append((esc(t["trunk"]), esc(t["kind"]), esc(t["outbound"] or "-"),
                       esc(registration_text(t["registration"])),
                       f'<span class="{cls}">{esc("-" if h is None else health_text(h))}</span>',
                       esc(t["live_calls"])))
    out = (f'<p class="muted">live calls {esc(status.get("live_calls", 0))}'
           f'{" · draining" if status.get("draining") else ""} · updated {esc(utc(now))} UTC</p>'
           "<h2>Calls</h2>" + table(("Call", "Direction", "Number", "Other party", "Agent",
                                     "Trunk", "State", "Age"), calls, empty="no live calls")
           + "<h2>Trunks</h2>" + table(("Trunk", "Kind", "Outbound", "Registration",
                                        "OPTIONS health", "Calls"), trunks, empty="no trunks"))
    return out + "<h2>Dialer</h2>" + _dialer(dialer)


def _dialer(d: Mapping[str, Any] | None) -> str:
    if d is None:
        return '<p class="muted">the dialer is off (dialer.enabled: false)</p>'
    rows = []
    for c in d["campaigns"]:
        total, done = c["total"], c["done"]
        pct = 100 * done // total if total else 0
        rows.append((esc(c["name"]), esc(c["status"]), esc(c["from_number"]),
                     f'<span class="bar"><i style="width:{pct}%"></i></span> '
                     f"{esc(done)}/{esc(total)} ({pct}%)", esc(c["waiting"]),
                     esc(c["dialing"])))
    return (f'<p>queue: {esc(d["waiting"])} waiting, {esc(d["callbacks"])} single call(s)</p>'
            + table(("Campaign", "Status", "From", "Progress", "Waiting", "Dialing"), rows,
                    empty="no campaigns"))


def live_page(cfg: Config, fragment: str, script: str) -> bytes:
    return page("Live", f'<div id="live">{fragment}</div>', active="/live",
                workspace=cfg.workspace.name, script=script)
