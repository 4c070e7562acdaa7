"""Options checked per agent kind (`websocket`, `scripted` transfer keys).

`AGENT_SPEC` in schema.py checks the keys every agent has; the other keys of an
agent stay free-form in `AgentConfig.options`, except those listed here for its
kind, which are validated at load with the same FILE:LINE: key.path messages.
"""

from __future__ import annotations

import re

from vio_sbc.config.nodes import (
    INT,
    STR,
    Conv,
    Invalid,
    Issues,
    Item,
    Reported,
    describe,
    entries,
    number,
    str_value,
    string,
)
from vio_sbc.sip.transfer import TransferTargetError, check_target


def _ws_url(item: Item, issues: Issues) -> str:
    value = str_value(item)
    if not re.fullmatch(r"wss?://[^\s/?#]+(/\S*)?", value):
        raise Invalid(f"expected a ws:// or wss:// URL, got {item.shown}")
    return value


def _str_mapping(item: Item, issues: Issues) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, child in entries(item, issues) or []:
        if child.tag not in (STR, INT) and not child.is_null:
            issues.at(child, f"expected a string, got {describe(child)}")
        else:
            out[key] = "" if child.is_null else str(child.node.value)
    return out


def _dtmf_digit(item: Item, issues: Issues) -> str:
    text = str(item.node.value) if item.tag in (STR, INT) else ""
    if not re.fullmatch(r"[0-9*#A-D]", text):
        raise Invalid(f"expected one DTMF digit (0-9, *, #, A-D), got {describe(item)}")
    return text


def _transfer_target(item: Item, issues: Issues) -> str:
    try:
        return check_target(str_value(item))
    except TransferTargetError as exc:
        raise Invalid(str(exc)) from None


# options checked per agent kind (other keys stay free-form, see docs/agents.md)
KIND_OPTIONS: dict[str, tuple[dict[str, Conv], tuple[str, ...]]] = {
    "websocket": ({
        "url": _ws_url,
        "parameters": _str_mapping,
        "connect_timeout_s": number(lo=0.1, hi=60),
        "fallback": string(nonempty=True),
        "account_sid": string(nonempty=True),
    }, ("url",)),
    "scripted": ({
        "transfer_digit": _dtmf_digit,
        "transfer_to": _transfer_target,
        "transfer_say": string(),
        "transfer_failed": string(nonempty=True),
    }, ()),
}


def check_agent_options(kind: str, item: Item, extras: dict[str, Item], issues: Issues) -> None:
    spec, required = KIND_OPTIONS.get(kind, ({}, ()))
    for key in required:
        if key not in extras:
            issues.add(item.file, item.key_line, item.path,
                       f"missing required key {key!r} for a {kind} agent")
    for key, conv in spec.items():
        child = extras.get(key)
        if child is None or id(child.node) in child.doc.broken:
            continue
        try:
            conv(child, issues)
        except Invalid as exc:
            issues.at(child, exc.message)
        except Reported:
            pass
