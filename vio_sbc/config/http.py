"""The `http:` section: the operator endpoint (/healthz, /readyz, /metrics) and the web
console on it (vio_sbc/console/, docs/console.md)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from vio_sbc.config.fields import read, setting
from vio_sbc.config.nodes import Issues, Item, Reported, boolean
from vio_sbc.config.values import HostPort, listen


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The web console: off unless this section is given, with a token."""

    # the operator's token, never logged: token: "${ENV}" or token_file: PATH (0600)
    token: str | None = field(default=None, repr=False, metadata=setting(None, secret=True))
    # serve the console on a listen address that is not loopback (default: refused)
    remote: bool = field(default=False, metadata=setting(boolean))


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The operator endpoint; off when absent."""

    listen: HostPort = field(metadata=setting(listen))
    console: ConsoleSettings | None = field(default=None, metadata=setting(None))


MIN_TOKEN = 16


def _console(item: Item, issues: Issues) -> ConsoleSettings | None:
    obj, sec = read(ConsoleSettings, item, issues, null_ok=False)
    if obj is None or sec is None:
        return None
    if obj.token is None:
        if not {"token", "token_file"} & sec.items.keys():
            issues.at(item, 'the console needs a token: token: "${VIO_CONSOLE_TOKEN}" or '
                      "token_file: PATH (a file only its owner can read)")
        return None
    if len(obj.token) < MIN_TOKEN:
        issues.at(sec.items.get("token") or sec.items["token_file"],
                  f"the console token must be at least {MIN_TOKEN} characters "
                  "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())')")
        return None
    return obj


def build_http(item: Item, issues: Issues) -> HttpSettings:
    """`http:`: the console only on a loopback listen address unless `remote: true`."""
    obj, sec = read(HttpSettings, item, issues, null_ok=False)
    if obj is None or sec is None:
        raise Reported
    console_item = sec.items.get("console")
    if console_item is None or console_item.is_null:
        return obj
    console = _console(console_item, issues)
    if console is None:
        raise Reported
    if not console.remote and not ipaddress.ip_address(obj.listen.host).is_loopback:
        issues.at(sec.items["listen"], f"the console would listen on {obj.listen}, which is "
                  "not loopback: put a TLS proxy in front and set http.console.remote: true")
        raise Reported
    return HttpSettings(obj.listen, console)
