"""Call-log settings: a trunk's `rates:`, `workspace.platform_rate` and `summary:`.

Money is read as written in the YAML (`0.0085` becomes Decimal("0.0085"), never a
float) so costs are exact (vio_sbc/calllog/cost.py applies them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from vio_sbc.config.fields import read, setting, sub
from vio_sbc.config.nodes import (
    Issues,
    Item,
    Reported,
    boolean,
    choice,
    entries,
    number,
    string,
)
from vio_sbc.config.values import Increment, currency, increment, money

_PREFIX = re.compile(r"\+?[0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class DirectionRate:
    """A rate for one direction; in a prefix entry, None fields inherit the trunk's."""

    per_minute: Decimal | None = field(default=None, metadata=setting(money))
    increment: Increment | None = field(default=None, metadata=setting(increment))
    connection_fee: Decimal | None = field(default=None, metadata=setting(money))


_TRUNK_RATE = sub(DirectionRate, required=("per_minute",), null_ok=False, strict=True)
_PREFIX_RATE = sub(DirectionRate, null_ok=False, strict=True)


@dataclass(frozen=True, slots=True)
class PrefixRate:
    prefix: str  # digits, without "+"
    inbound: DirectionRate | None = field(default=None, metadata=setting(_PREFIX_RATE))
    outbound: DirectionRate | None = field(default=None, metadata=setting(_PREFIX_RATE))


def _prefixes(item: Item, issues: Issues) -> tuple[PrefixRate, ...]:
    pairs = entries(item, issues)
    if pairs is None:
        raise Reported
    out: list[PrefixRate] = []
    failed = False
    for key, child in pairs:
        if not _PREFIX.fullmatch(key):
            issues.add(child.file, child.key_line, child.path,
                       f"prefix {key!r} must be digits with an optional leading +")
            failed = True
            continue
        rate, sec = read(PrefixRate, child, issues, null_ok=False,
                         fixed={"prefix": key.lstrip("+")})
        if rate is None or sec is None or len(sec.values) != len(sec.items):
            failed = True
            continue
        out.append(rate)
    if failed:
        raise Reported
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Rates:
    """A trunk's `rates:` table (carrier cost)."""

    currency: str = field(default="USD", metadata=setting(currency))
    inbound: DirectionRate | None = field(default=None, metadata=setting(_TRUNK_RATE))
    outbound: DirectionRate | None = field(default=None, metadata=setting(_TRUNK_RATE))
    prefixes: tuple[PrefixRate, ...] = field(default=(), metadata=setting(_prefixes))
    # unanswered attempts pay the connection fee
    charge_unanswered: bool = field(default=False, metadata=setting(boolean))


@dataclass(frozen=True, slots=True)
class PlatformRate:
    """`workspace.platform_rate`: agent/platform cost per answered minute, billed per
    started second, in the trunk's currency (`currency` applies to trunks without rates)."""

    per_minute: Decimal = field(metadata=setting(money))
    currency: str = field(default="USD", metadata=setting(currency))


@dataclass(frozen=True, slots=True)
class SummarySettings:
    provider: Literal["extractive", "openai"] = field(
        default="extractive", metadata=setting(choice("extractive", "openai")))
    # OpenAI-compatible base URL or full .../chat/completions URL
    url: str | None = field(default=None, metadata=setting(string(nonempty=True)))
    model: str | None = field(default=None, metadata=setting(string(nonempty=True)))
    # api_key: ${ENV}, or api_key_file: PATH
    api_key: str | None = field(default=None, metadata=setting(None, secret=True))
    timeout_s: float = field(default=20.0, metadata=setting(number(positive=True)))


def build_summary(item: Item | None, issues: Issues) -> SummarySettings:
    if item is None:
        return SummarySettings()
    settings, sec = read(SummarySettings, item, issues)
    if settings is None or sec is None:
        return SummarySettings()
    if settings.provider == "openai":
        for key in ("url", "model"):
            if key not in sec.items:
                issues.add(item.file, item.key_line, item.path,
                           f"missing required key {key!r} (provider is openai)")
    return settings
