"""The `numbers:` section (docs/config.md, docs/trunks.md): each number's trunk,
direction and agent. A key that is not E.164 is reported by the loader, which knows
the number's trunk and so its `number_format` (to suggest the E.164 form)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from vio_sbc.config.fields import read, setting
from vio_sbc.config.nodes import (
    INT,
    Issues,
    Item,
    boolean,
    choice,
    entries,
    int_choice,
    integer,
    nullable,
    string,
)
from vio_sbc.config.nodes import number as num
from vio_sbc.config.trunks import NumberFormat
from vio_sbc.config.values import E164


class Direction(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"

    @property
    def allows_inbound(self) -> bool:
        return self in (Direction.INBOUND, Direction.BOTH)

    @property
    def allows_outbound(self) -> bool:
        return self in (Direction.OUTBOUND, Direction.BOTH)


def _direction(item: Item, issues: Issues) -> Direction:
    return Direction(choice(*(d.value for d in Direction))(item, issues))


@dataclass(frozen=True, slots=True)
class NumberConfig:
    number: str  # E.164
    trunk: str = field(metadata=setting(string(nonempty=True)))
    direction: Direction = field(default=Direction.BOTH, metadata=setting(_direction))
    # None: the workspace default agent answers
    agent: str | None = field(default=None, metadata=setting(nullable(string(nonempty=True))))
    # overrides the trunk's
    ring_seconds: float | None = field(default=None, metadata=setting(nullable(num(0, 60))))
    recording: bool | None = field(default=None, metadata=setting(nullable(boolean)))
    # live inbound calls on the number beyond which an INVITE is refused (None: no cap),
    # with max_calls_status (486 Busy Here, or 503 + Retry-After to let the carrier retry)
    max_calls: int | None = field(default=None, metadata=setting(nullable(integer(1, 100000))))
    max_calls_status: int = field(default=486, metadata=setting(int_choice(486, 503)))
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class NumberEntry:
    number: str
    item: Item
    config: NumberConfig | None  # None if unusable
    refs: dict[str, Item]  # "trunk"/"agent" -> the item naming it
    bad_key: Literal["integer", "format"] | None = None  # reported by the loader


def number_key_message(key: str, bad: str, fmt: NumberFormat | None, trunk: str | None) -> str:
    """Why a `numbers:` key is not usable, suggesting its E.164 form from the number's
    trunk's `number_format` when that gives one (a national number)."""
    e164 = fmt.to_e164(key) if fmt is not None else None
    if bad == "integer":
        quoted = e164 or (key if key.startswith("+") else f"+{key}")
        return f'number {key} must be quoted (YAML reads it as an integer): write "{quoted}"'
    hint = f'; with trunk {trunk}\'s number_format that is "{e164}"' if e164 else ""
    return f"{key!r} is not an E.164 number (+ then 8-15 digits, no leading 0){hint}"


def _bad_number_key(key: str, item: Item) -> Literal["integer", "format"] | None:
    if item.key_tag == INT:
        return "integer"
    return None if E164.fullmatch(key) else "format"


def build_numbers(item: Item, issues: Issues) -> list[NumberEntry]:
    out: list[NumberEntry] = []
    """Each number's entry; a key that is not E.164 is the loader's to report (with the
    trunk's number_format, which may be defined in another file)."""
    for key, child in entries(item, issues) or []:
        bad = _bad_number_key(key, child)
        config, sec = read(NumberConfig, child, issues, null_ok=False,
                           fixed={"number": key, "file": child.file, "line": child.key_line})
        if sec is None:
            if bad is not None:
                issues.add(child.file, child.key_line, child.path,
                           number_key_message(key, bad, None, None))
            continue
        refs: dict[str, Item] = {k: sec.items[k] for k in ("trunk", "agent")
                                 if k in sec.values and sec.values[k] is not None}
        out.append(NumberEntry(key, child, config if bad is None else None, refs, bad))
    return out
