"""What changed between two configs, setting by setting (pure).

A reload reports every change it found, by its key path as the config file spells it
(`trunks.pbx.inbound.allow`, `numbers.+14155550105`, `agents.sales.intents[1].phrases`),
with the old and new values: list settings by what was added and removed
(`+127.0.0.1/32`), a secret never by its value. The switch splits the list into
what it applied and what waits for a restart (`RESTART_SECTIONS`: read once at start,
their running values are kept).

Positions (`file`, `line`), the loader's own bookkeeping (`source`, `secrets`,
`warnings`) and the command line's `cluster.worker` are not settings: moving a
trunk to another line changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Literal

from vio_sbc.config.fields import SETTING

# Top-level sections the running server reads once at start (sockets, threads, files).
RESTART_SECTIONS = ("sip", "rtp", "storage", "log", "http", "summary", "cluster")
# `worker`: cluster.worker comes from `vio-sbc run --worker`, not from the file
NOT_SETTINGS = frozenset({"file", "line", "source", "secrets", "warnings", "worker"})
MAX_VALUE_CHARS = 120


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: Literal["added", "removed", "changed"]
    detail: str = ""  # "old -> new", "+a -b", "(secret)"; empty for added/removed

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0].split("[", 1)[0]

    def __str__(self) -> str:
        if self.kind != "changed":
            return f"{self.path} ({self.kind})"
        return f"{self.path}: {self.detail}" if self.detail else self.path


def show(value: Any) -> str:
    """A value as the summary prints it (short, plain)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if dataclasses.is_dataclass(value):
        text = type(value).__name__  # its settings are listed one by one, or not at all
    elif isinstance(value, (tuple, list, frozenset, set)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _is_secret(f: dataclasses.Field[Any]) -> bool:
    s = f.metadata.get(SETTING)
    return bool(getattr(s, "secret", False))


def _sequence_detail(old: tuple[Any, ...] | list[Any], new: tuple[Any, ...] | list[Any]) -> str:
    """`+a -b` when both are lists of distinct plain values; else `old -> new`."""
    try:
        was, now = set(old), set(new)
    except TypeError:
        was = now = set()
    if was and now and len(was) == len(old) and len(now) == len(new) and was != now:
        added = [show(v) for v in new if v not in was]
        gone = [show(v) for v in old if v not in now]
        return " ".join([*(f"+{a}" for a in added), *(f"-{g}" for g in gone)])
    return f"{show(old)} -> {show(new)}"


def diff(old: Any, new: Any, path: str = "", secret: bool = False) -> list[Change]:
    """Every setting that differs between `old` and `new` (configs or any part of one)."""
    if old == new:
        return []
    if secret:
        return [Change(path, "changed", "(secret)")]
    if (dataclasses.is_dataclass(old) and type(old) is type(new)
            and not isinstance(old, type)):
        out: list[Change] = []
        for f in dataclasses.fields(old):
            if f.name in NOT_SETTINGS:
                continue
            sub = f"{path}.{f.name}" if path else f.name
            out += diff(getattr(old, f.name), getattr(new, f.name), sub, _is_secret(f))
        return out
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(sub, "removed"))
            elif key not in old:
                out.append(Change(sub, "added"))
            else:
                out += diff(old[key], new[key], sub)
        return out
    if isinstance(old, (tuple, list)) and isinstance(new, (tuple, list)):
        if (len(old) == len(new) and old and dataclasses.is_dataclass(old[0])
                and all(type(a) is type(b) for a, b in zip(old, new, strict=True))):
            out = []
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                out += diff(a, b, f"{path}[{i}]")
            if out:
                return out
        return [Change(path, "changed", _sequence_detail(old, new))]
    if dataclasses.is_dataclass(old) or dataclasses.is_dataclass(new):
        if old is None:
            return [Change(path, "added")]
        if new is None:
            return [Change(path, "removed")]
        return [Change(path, "changed")]  # another kind of section: no values shown
    return [Change(path, "changed", f"{show(old)} -> {show(new)}")]


def split(changes: list[Change]) -> tuple[list[Change], list[Change]]:
    """(applied by a reload, waiting for a restart)."""
    restart = [c for c in changes if c.section in RESTART_SECTIONS]
    return [c for c in changes if c.section not in RESTART_SECTIONS], restart
