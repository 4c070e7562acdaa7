"""The console's HTML shell and the small helpers every page uses (pure).

Pages are rendered on the server; every value goes through `esc`. The only script is
the Live page's refresh (it fetches /live/fragment and swaps the table in).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;
 align-items:center}
header a{color:#cfd8ea;text-decoration:none}header a.on{color:#fff;font-weight:600}
header .ws{margin-left:auto;color:#8fa0bf}
main{padding:1em 1.2em;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4em 0 1.2em}
th,td{border-bottom:1px solid #e3e6eb;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.muted{color:#6b7587}.ok{color:#17803d}.bad{color:#b42318}.warn{color:#a15c07}
.msg{background:#e8f5ec;border:1px solid #b7dfc3;padding:.5em .8em;margin:.5em 0}
.err{background:#fdecea;border:1px solid #f5c2bd;padding:.5em .8em;margin:.5em 0}
.err li{font-family:ui-monospace,monospace;font-size:13px}
form.inline{display:inline}select,input,button{font:inherit;padding:.15em .3em}
.filters{display:flex;gap:.6em;flex-wrap:wrap;align-items:end;margin:.5em 0}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#6b7587}
dl{display:grid;grid-template-columns:10em 1fr;gap:.2em 1em;background:#fff;padding:.8em}
dt{color:#6b7587}dd{margin:0}pre{white-space:pre-wrap;background:#fff;padding:.8em}
.bar{background:#e3e6eb;height:.7em;width:12em;display:inline-block}
.bar i{background:#2f6fdf;height:100%;display:block}
"""

NAV = (("/numbers", "Numbers"), ("/calls", "Call logs"), ("/live", "Live"),
       ("/connect", "Connect"))


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def utc(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def mmss(ms: float | None) -> str:
    if ms is None:
        return "-"
    s = int(ms) // 1000
    return f"{s // 60:02d}:{s % 60:02d}"


def page(title: str, body: str, *, active: str = "", workspace: str = "",
         script: str = "") -> bytes:
    nav = "".join(f'<a href="{href}"{" class=on" if href == active else ""}>{esc(text)}</a>'
                  for href, text in NAV)
    logout = '<a href="/logout">Log out</a>' if active else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · vio-sbc</title><style>{CSS}</style></head>
<body><header><strong>vio-sbc</strong>{nav if active else ""}
<span class="ws">{esc(workspace)}</span>{logout}</header>
<main><h1>{esc(title)}</h1>
{body}</main>{f"<script>{script}</script>" if script else ""}</body></html>
""".encode()


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "none",
          row_ids: Sequence[str] | None = None) -> str:
    """`rows` hold HTML already escaped (cells built with `esc`)."""
    body = []
    for i, row in enumerate(rows):
        rid = f' id="{esc(row_ids[i])}"' if row_ids else ""
        body.append(f"<tr{rid}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    if not body:
        body = [f'<tr><td colspan="{len(headers)}" class="muted">{esc(empty)}</td></tr>']
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def select(name: str, options: Sequence[tuple[str, str]], chosen: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    opts = "".join(f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>'
                   f"{esc(text)}</option>" for v, text in options)
    return f'<select name="{esc(name)}"{extra}>{opts}</select>'


def messages(message: str | None, errors: Sequence[str] = ()) -> str:
    out = f'<p class="msg" id="message">{esc(message)}</p>' if message else ""
    if errors:
        items = "".join(f"<li>{esc(e)}</li>" for e in errors)
        out += f'<div class="err" id="errors"><p>Not saved:</p><ul>{items}</ul></div>'
    return out


LOGIN = """<form method="post" action="/login">
<p>The console token is the value of <code>http.console.token</code> (its ${{ENV}}
or token file) in the server's config.</p>
{error}<p><input type="password" name="token" id="token" autocomplete="current-password"
 size="40" autofocus placeholder="token"> <button id="login" type="submit">Log in</button></p>
</form>"""


def login_page(error: str | None = None) -> bytes:
    err = f'<p class="err">{esc(error)}</p>' if error else ""
    return page("Log in", LOGIN.format(error=err))


LIVE_JS = """
const box = document.getElementById('live');
async function refresh() {
  try {
    const r = await fetch('/live/fragment', {cache: 'no-store'});
    if (r.status === 401) { location.href = '/login'; return; }
    if (r.ok) { box.innerHTML = await r.text(); }
  } catch (e) { /* server restarting: try again */ }
  setTimeout(refresh, 2000);
}
setTimeout(refresh, 2000);
"""
