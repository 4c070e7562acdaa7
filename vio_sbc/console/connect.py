"""The console's Connect page: the guided set-up of `vio-sbc connect twilio|pbx` as a
form. The same answers, the same checked trunk file under the config's `include`, the
same carrier-side steps; then the same hot reload, and the trunk's OPTIONS health is on
the Live page. A test call goes through the running server (`call_out`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from vio_sbc.config.model import Config
from vio_sbc.console.layout import esc, messages, page

FIELDS = {
    "twilio": (("name", "Trunk name", "twilio"), ("termination", "Termination SIP URI host",
                                                  "example.pstn.twilio.com"),
               ("username", "Credential list username (empty: IP ACL)", ""),
               ("password_env", "Password variable (server environment)",
                "TWILIO_SIP_PASSWORD"), ("numbers", "Numbers (E.164, comma-separated)", ""),
               ("agent", "Agent (empty: workspace default)", "")),
    "pbx": (("name", "Trunk name", "pbx1"), ("host", "PBX address", ""),
            ("port", "SIP port", "5060"), ("username", "Username (empty: IP-based)", ""),
            ("password_env", "Password variable (server environment)", "PBX_PASSWORD"),
            ("allow", "Source CIDRs (empty: the PBX address)", ""),
            ("numbers", "Numbers (E.164, comma-separated)", ""),
            ("agent", "Agent (empty: workspace default)", "")),
}


def _form(carrier: str, title: str, values: Mapping[str, str]) -> str:
    rows = "".join(
        f'<label>{esc(label)}<input name="{name}" id="{carrier}-{name}" '
        f'value="{esc(values.get(name, default if name != "termination" else ""))}" '
        f'placeholder="{esc(default)}" size="28"></label>'
        for name, label, default in FIELDS[carrier])
    extra = ('<label>Secure trunking<input type="checkbox" name="secure" value="1"></label>'
             if carrier == "twilio" else
             '<label>Register<input type="checkbox" name="register" value="1"></label>')
    direction = ('<label>Direction<select name="direction">'
                 + "".join(f"<option>{d}</option>" for d in ("both", "inbound", "outbound"))
                 + "</select></label>")
    return (f'<h2>{esc(title)}</h2><form class="filters" method="post" '
            f'action="/connect/{carrier}" id="connect-{carrier}">{rows}{direction}{extra}'
            f'<button type="submit">Write the trunk</button></form>')


def connect_page(cfg: Config, errors: list[str] | None = None,
                 values: Mapping[str, str] | None = None) -> bytes:
    body = (messages(None, errors or [])
            + '<p class="muted">Writes a trunk file and its numbers under the config\'s '
            "<code>include</code> once the config loads with it, then reloads the server "
            "(the same as <code>vio-sbc connect</code>).</p>"
            + _form("twilio", "Twilio Elastic SIP Trunking", values or {})
            + _form("pbx", "FreePBX / Asterisk", values or {}))
    return page("Connect a number", body, active="/connect", workspace=cfg.workspace.name)


def done_page(cfg: Config, path: str, reload: str, steps: list[str],
              first_number: str) -> bytes:
    items = "".join(f"<li>{esc(s)}</li>" for s in steps)
    body = (f'<p class="msg" id="message">Wrote {esc(path)}; reload: {esc(reload)}</p>'
            f"<h2>On the carrier's side</h2><ul id=\"steps\">{items}</ul>"
            '<p>The trunk\'s OPTIONS health and registration: <a href="/live">Live</a>.</p>'
            '<h2>Test call</h2><form method="post" action="/connect/test-call" '
            'class="filters"><input type="hidden" name="from" '
            f'value="{esc(first_number)}"><label>Call (E.164)<input name="to" '
            'id="test-to"></label><button type="submit">Place a test call</button></form>')
    return page("Trunk written", body, active="/connect", workspace=cfg.workspace.name)


def answers(carrier: str, form: Mapping[str, str]) -> argparse.Namespace:
    """The form as the CLI's answers (every field given: nothing is asked)."""
    ns = argparse.Namespace(
        yes=True, name=form.get("name") or None, number=[form.get("numbers", "")],
        direction=form.get("direction") or "both", agent=form.get("agent") or "",
        username=form.get("username") or "", password_env=form.get("password_env") or None,
        numbers_prompt=None)
    if carrier == "twilio":
        ns.termination = form.get("termination") or None
        ns.secure = bool(form.get("secure"))
    else:
        ns.host = form.get("host") or None
        ns.port = form.get("port") or "5060"
        ns.transport = "udp"
        ns.register = bool(form.get("register"))
        ns.allow = [a.strip() for a in form.get("allow", "").split(",") if a.strip()] or None
    return ns


def write_trunk(cfg: Config, carrier: str, form: Mapping[str, str]) -> dict[str, Any]:
    """Check and write the trunk file; raises the CLI's Abort with the reason."""
    from vio_sbc.cli import connect as cli

    labels = {name: label for name, label, _ in FIELDS[carrier]}
    for required in ("termination", "numbers") if carrier == "twilio" else ("host", "numbers"):
        if not form.get(required, "").strip():
            raise cli.Abort(f"{labels[required]}: required")
    ns = answers(carrier, form)
    name, text, steps = (cli.twilio if carrier == "twilio" else cli.pbx)(ns, cfg)
    path = cli.target_file(cfg, name)
    if name in cfg.trunks or path.exists():
        raise cli.Abort(f"trunk {name!r} or {path} exists already: pick another name")
    cli.write_checked(cfg, path, text)
    return {"path": str(path), "steps": steps, "first_number": ns.first_number}
