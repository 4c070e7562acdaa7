"""The console's routes, on the operator HTTP endpoint's thread.

It reaches the running server only through `ConsoleHost`: the config in force and
requests to the main thread over the same channel as the control socket (`status`,
`reload`: the console's edits are applied by the same hot reload as `vio-sbc reload`).
The call log and the dialer queue are read on connections of its own.

Every route but the login page answers 401 without the token (vio_sbc/console/auth.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

import structlog

from vio_sbc.calllog import CallLogDb, dialect_for
from vio_sbc.calllog.queries import FILTERS
from vio_sbc.config import load_config
from vio_sbc.config.model import Config
from vio_sbc.console import layout, pages
from vio_sbc.console.auth import Auth
from vio_sbc.console.media import RangeNotSatisfiable, parse_range, read_part
from vio_sbc.console.yamledit import DEFAULT_AGENT, Change, EditError, edit_text, write_atomic
from vio_sbc.errors import ConfigError
from vio_sbc.log import RateLimiter

log = structlog.get_logger("vio_sbc.console")
HTML = "text/html; charset=utf-8"
MAX_BODY = 64 * 1024


class ConsoleHost(Protocol):
    def config(self) -> Config:
        """The config in force (replaced whole by each reload)."""

    def request(self, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """A control request answered by the main thread (None: no answer in time)."""


@dataclass
class Response:
    status: int
    body: bytes
    ctype: str = HTML
    headers: list[tuple[str, str]] = field(default_factory=list)


def redirect(to: str, *headers: tuple[str, str]) -> Response:
    return Response(303, b"", headers=[("Location", to), *headers])


class Console:
    def __init__(self, host: ConsoleHost, token: str) -> None:
        self.host = host
        self.auth = Auth(token)
        self._edit = threading.Lock()  # one edit of the YAML at a time
        self._failed_log = RateLimiter(burst=5, window=60.0)  # a guessing loop: few lines

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> Response:
        url = urlsplit(target)
        path, query = unquote(url.path), parse_qs(url.query)
        if path == "/login":
            return self._login(method, body)
        if path == "/logout":
            return redirect("/login", ("Set-Cookie", self.auth.clear_cookie()))
        if not self.auth.allowed(headers):
            if path.startswith("/api/") or path.endswith("/fragment") or \
                    path.endswith("/recording"):
                return Response(401, b'{"error": "token required"}\n', "application/json",
                                [("WWW-Authenticate", 'Bearer realm="vio-sbc"')])
            return Response(401, layout.login_page(), headers=[
                ("WWW-Authenticate", 'Bearer realm="vio-sbc"')])
        try:
            return self._route(method, path, query, headers, body)
        except LookupError as exc:
            return Response(404, layout.page("Not found", f"<p>{layout.esc(exc)}</p>",
                                             active="/calls"))

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               headers: Mapping[str, str], body: bytes) -> Response:
        cfg = self.host.config()
        q = {k: v[0] for k, v in query.items() if v and v[0]}
        if path == "/":
            return redirect("/numbers")
        if path == "/numbers" and method == "POST":
            return self._edit_number(body)
        if path == "/numbers":
            return Response(200, pages.numbers_page(cfg, q.get("msg")))
        if path == "/api/numbers":
            return _json([{"number": n.number, "trunk": n.trunk,
                           "direction": n.direction.value, "agent": n.agent,
                           "effective_agent": cfg.agent_for(n)[0].name, "file": n.file,
                           "line": n.line} for n in cfg.numbers.values()])
        if path in ("/calls", "/api/calls"):
            rows = self._calls(cfg, q)
            if path == "/api/calls":
                return _json(rows)
            return Response(200, pages.calls_page(cfg, rows, q))
        if path.startswith("/calls/"):
            call_id, _, rest = path[len("/calls/"):].partition("/")
            if rest == "recording":
                return self._recording(cfg, call_id, headers.get("Range"))
            return self._call(cfg, call_id)
        if path.startswith("/connect"):
            return self._connect(cfg, method, path, body)
        if path in ("/live", "/live/fragment", "/api/live"):
            status = self.host.request("status", {})
            dialer = _dialer(cfg)
            if path == "/api/live":
                return _json({"status": status, "dialer": dialer})
            fragment = pages.live_fragment(status, dialer, time.time())
            if path == "/live/fragment":
                return Response(200, fragment.encode())
            return Response(200, pages.live_page(cfg, fragment, layout.LIVE_JS))
        raise LookupError(f"no page {path}")

    # -- login ---------------------------------------------------------------------
    def _login(self, method: str, body: bytes) -> Response:
        if method != "POST":
            return Response(200, layout.login_page())
        token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
        if not self.auth.token_ok(token):
            allowed, suppressed = self._failed_log.allow("login")
            if allowed:
                log.warning("console_login_failed", suppressed=suppressed)
            return Response(401, layout.login_page("wrong token"))
        return redirect("/numbers", ("Set-Cookie", self.auth.set_cookie()))

    # -- numbers -------------------------------------------------------------------
    def _edit_number(self, body: bytes) -> Response:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"),
                                             keep_blank_values=True).items()}
        number = form.get("number", "")
        change = Change(direction=form.get("direction") or None, agent=form.get("agent"))
        with self._edit:
            cfg = self.host.config()
            try:
                summary = self._apply(cfg, number, change)
            except EditError as exc:
                log.warning("console_edit_refused", number=number, errors=exc.issues)
                return Response(400, pages.numbers_page(cfg, None, exc.issues))
        log.info("console_number_edited", number=number, direction=change.direction,
                 agent=change.agent)
        return redirect("/numbers?msg=" + quote(summary))

    def _apply(self, cfg: Config, number: str, change: Change) -> str:
        num = cfg.numbers.get(number)
        if num is None:
            raise EditError([f"no number {number} in the config"])
        if change.agent not in (None, DEFAULT_AGENT) and change.agent not in cfg.agents:
            raise EditError([f"unknown agent {change.agent!r}"])
        path = Path(num.file)
        old = path.read_text("utf-8")
        new = edit_text(old, number, change, num.file)
        if new == old:
            return f"{number}: no change"
        try:  # the same loader as `vio-sbc check`, with the edit in place of the file
            load_config(cfg.source, texts={num.file: new})
        except ConfigError as exc:
            raise EditError([str(i) for i in exc.issues]) from None
        write_atomic(path, new)
        reply = self.host.request("reload", {})
        if reply is None or not reply.get("ok"):
            write_atomic(path, old)  # the running config is unchanged: so is the file
            errors = (reply or {}).get("errors") or [(reply or {}).get("error")
                                                      or "the server did not answer"]
            raise EditError([str(e) for e in errors])
        applied = ", ".join(f"{k}: {' '.join(v)}" for k, v in reply.get("changes", {}).items()
                            if v) or "no changes"
        return f"{number} saved to {num.file}; reload: {applied}"

    # -- guided set-up ---------------------------------------------------------------
    def _connect(self, cfg: Config, method: str, path: str, body: bytes) -> Response:
        from vio_sbc.cli.connect import Abort
        from vio_sbc.console import connect

        if method != "POST":
            return Response(200, connect.connect_page(cfg))
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if path == "/connect/test-call":
            reply = self.host.request("call_out", {"from": form.get("from", ""),
                                                   "to": form.get("to", ""),
                                                   "ring_timeout_s": 30.0})
            if reply is None or not reply.get("ok"):
                why = (reply or {}).get("error") or "the server did not answer"
                return Response(400, connect.connect_page(cfg, [f"test call refused: {why}"]))
            return redirect(f"/calls/{quote(str(reply.get('call_id', '')))}")
        carrier = path.rsplit("/", 1)[-1]
        if carrier not in connect.FIELDS:
            raise LookupError(f"no carrier {carrier}")
        with self._edit:
            try:
                done = connect.write_trunk(cfg, carrier, form)
            except Abort as exc:
                return Response(400, connect.connect_page(cfg, str(exc).splitlines(), form))
            reply = self.host.request("reload", {})
        if reply is None or not reply.get("ok"):
            errors = (reply or {}).get("errors") or ["the server did not answer the reload"]
            return Response(400, connect.connect_page(cfg, [str(e) for e in errors], form))
        log.info("console_trunk_written", carrier=carrier, path=done["path"])
        applied = ", ".join(f"{k}: {' '.join(v)}" for k, v in reply.get("changes", {}).items()
                            if v) or "no changes"
        return Response(200, connect.done_page(self.host.config(), done["path"], applied,
                                               done["steps"], done["first_number"]))

    # -- call log ------------------------------------------------------------------
    def _calls(self, cfg: Config, q: Mapping[str, str]) -> list[dict[str, Any]]:
        from vio_sbc.cli.calls import UsageError, parse_since

        dialect = dialect_for(cfg)
        if not dialect.exists():
            return []
        try:
            since = parse_since(q["since"], time.time()) if q.get("since") else None
        except UsageError:
            since = None
        with CallLogDb(dialect) as db:
            return db.calls({k: q.get(k) for k in FILTERS}, since=since, limit=200)

    def _call(self, cfg: Config, call_id: str) -> Response:
        with CallLogDb(dialect_for(cfg)) as db:
            row = db.get(call_id)
            if row is None:
                raise LookupError(f"no call {call_id}")
            transcript, events = db.transcript(call_id), db.events(call_id)
        rec = _recording_file(cfg, row)
        return Response(200, pages.call_page(cfg, row, transcript, events, rec is not None))

    def _recording(self, cfg: Config, call_id: str, range_header: str | None) -> Response:
        with CallLogDb(dialect_for(cfg)) as db:
            row = db.get(call_id)
        path = _recording_file(cfg, row) if row else None
        if path is None:
            raise LookupError(f"no recording for call {call_id}")
        size = path.stat().st_size
        base = [("Accept-Ranges", "bytes"), ("Cache-Control", "private, no-store")]
        try:
            part = parse_range(range_header, size)
        except RangeNotSatisfiable:
            return Response(416, b"", "audio/wav", [*base, ("Content-Range", f"bytes */{size}")])
        if part is None:
            return Response(200, path.read_bytes(), "audio/wav", base)
        first, last = part
        return Response(206, read_part(path, first, last), "audio/wav",
                        [*base, ("Content-Range", f"bytes {first}-{last}/{size}")])


def _recording_file(cfg: Config, row: Mapping[str, Any]) -> Path | None:
    """The call's WAV, only inside the storage directory (the row names it)."""
    name = row.get("recording_path")
    if not name:
        return None
    path = Path(name).resolve()
    if not path.is_file() or Path(cfg.storage.dir).resolve() not in path.parents:
        return None
    return path


def _dialer(cfg: Config) -> dict[str, Any] | None:
    if not cfg.dialer.enabled:
        return None
    from vio_sbc.dialer.api import db_path, open_store
    from vio_sbc.dialer.rules import CLAIMABLE, DIALING, TERMINAL

    if not db_path(cfg).exists():
        return {"waiting": 0, "callbacks": 0, "campaigns": []}
    store = open_store(cfg)
    try:
        campaigns = []
        for c in store.campaigns():
            counts = store.counts(c.name)
            campaigns.append({"name": c.name, "status": c.status, "from_number": c.from_number,
                              "total": sum(counts.values()),
                              "done": sum(counts[s] for s in TERMINAL),
                              "waiting": sum(counts[s] for s in CLAIMABLE),
                              "dialing": counts[DIALING]})
        counts = store.counts()
        return {"waiting": sum(counts[s] for s in CLAIMABLE),
                "callbacks": len(store.callbacks()), "campaigns": campaigns}
    finally:
        store.close()


def _json(data: Any) -> Response:
    return Response(200, json.dumps(data, default=str, indent=1).encode() + b"\n",
                    "application/json")
