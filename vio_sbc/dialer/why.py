"""Why queued calls are not being placed (pure): what `vio-sbc dial`, `campaign load` and
`campaign status` tell the operator, from the config, the campaign, a clock and, when a
server answers, its trunk health.

Each reason is one sentence saying what holds the calls and what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vio_sbc.config.model import Config
from vio_sbc.dialer.windows import next_opening, parse_windows, zone


def config_reasons(cfg: Config, from_number: str) -> list[str]:
    """What in the config keeps calls from `from_number` from ever being placed."""
    out: list[str] = []
    if not cfg.dialer.enabled:
        out.append(f"the dialer is off (dialer.enabled: false in {cfg.source}): nothing "
                   "is placed until it is set to true and the server reloaded")
    number = cfg.numbers.get(from_number)
    if number is None:
        out.append(f"{from_number} is not a configured number any more")
    elif not number.direction.allows_outbound:
        out.append(f"{from_number} is {number.direction.value}-only: set its direction to "
                   "outbound or both")
    else:
        trunk = cfg.trunks.get(number.trunk)
        if trunk is not None and trunk.outbound is None:
            out.append(f"trunk {number.trunk} of {from_number} has no outbound section: "
                       "the dialer has nowhere to send the call")
    return out


def window_reason(windows: tuple[str, ...], tz: str, now: datetime) -> str | None:
    """'outside the calling window …' with the next opening, or None when open now."""
    if not windows:
        return None
    parsed, zi = parse_windows(windows), zone(tz)
    opening = next_opening(parsed, zi, now)
    if opening == now:
        return None
    when = "never (no day is open)" if opening is None else \
        opening.astimezone(zi).strftime("%a %Y-%m-%d %H:%M ") + tz
    return f"outside the calling window ({'; '.join(windows)} {tz}): next opening {when}"


def server_reasons(trunk: str | None, status: Mapping[str, Any] | None,
                   config: str) -> list[str]:
    """From the running server's `status` reply (None: no server answered)."""
    if status is None:
        return [f"no server is running on {config} (start it: vio-sbc run -c {config})"]
    out: list[str] = []
    if status.get("draining"):
        out.append("the server is draining (shutting down): it starts no new call")
    for t in status.get("trunks", []):
        h = t.get("health")
        if t.get("trunk") == trunk and h is not None and not h.get("up", True):
            out.append(f"trunk {trunk} is down (OPTIONS unanswered, last status "
                       f"{h.get('last_status')}): calls wait until it answers again")
    return out


def campaign_reasons(cfg: Config, *, from_number: str, status: str,
                     windows: tuple[str, ...], tz: str, now: datetime,
                     server: Mapping[str, Any] | None, config: str) -> list[str]:
    """Everything that holds a campaign's queued calls right now."""
    out = config_reasons(cfg, from_number)
    if status == "paused":
        out.append("the campaign is paused (vio-sbc campaign resume NAME)")
    if (why := window_reason(windows, tz, now)) is not None:
        out.append(why)
    number = cfg.numbers.get(from_number)
    out += server_reasons(number.trunk if number else None, server, config)
    return out
