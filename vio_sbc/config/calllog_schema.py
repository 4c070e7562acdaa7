"""Config schema for the call log: trunk `rates:`, `workspace.platform_rate`,
`storage.retention_days` and the top-level `summary:` section.

Money is read as written in the YAML (`0.0085` becomes Decimal("0.0085"), never
a float) so costs are exact.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from vio_sbc.config.model import (
    DirectionRate,
    Increment,
    PlatformRate,
    PrefixRate,
    Rates,
    SummarySettings,
)
from vio_sbc.config.nodes import (
    FLOAT,
    INT,
    STR,
    Conv,
    Invalid,
    Issues,
    Item,
    Reported,
    boolean,
    choice,
    describe,
    entries,
    number,
    section,
    string,
)
from vio_sbc.config.secret_schema import secret_keys, take_file_secret

_CURRENCY = re.compile(r"[A-Z]{3}")
_INCREMENT = re.compile(r"([0-9]{1,4})/([0-9]{1,4})")
_PREFIX = re.compile(r"\+?[0-9]{1,15}")


def money(item: Item, issues: Issues) -> Decimal:
    """A non-negative amount: a YAML number or a quoted decimal, kept exact."""
    text = str(item.node.value) if item.tag in (INT, FLOAT, STR) else ""
    try:
        value = Decimal(text) if text else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise Invalid(f"expected an amount (e.g. 0.0085), got {describe(item)}")
    if value < 0:
        raise Invalid(f"must be at least 0, got {item.shown}")
    return value


def currency(item: Item, issues: Issues) -> str:
    if item.tag != STR or not _CURRENCY.fullmatch(str(item.node.value)):
        raise Invalid(f"expected a 3-letter ISO 4217 currency code (e.g. USD), got "
                      f"{describe(item)}")
    return str(item.node.value)


def increment(item: Item, issues: Issues) -> Increment:
    match = _INCREMENT.fullmatch(str(item.node.value)) if item.tag == STR else None
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise Invalid('expected "FIRST/NEXT" in whole seconds, each at least 1 '
                      f'(e.g. "60/60", "6/6", "1/1"), got {describe(item)}')
    return Increment(int(match.group(1)), int(match.group(2)))


DIRECTION_SPEC = {"per_minute": money, "increment": increment, "connection_fee": money}


def _direction(required: bool) -> Conv:
    def conv(item: Item, issues: Issues) -> DirectionRate:
        sec = section(item, DIRECTION_SPEC, issues, null_ok=False,
                      required=("per_minute",) if required else ())
        if sec is None or len(sec.values) != len(sec.items):
            raise Reported
        return DirectionRate(**sec.values)

    return conv


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
        spec = {"inbound": _direction(False), "outbound": _direction(False)}
        sec = section(child, spec, issues, null_ok=False)
        if sec is None or len(sec.values) != len(sec.items):
            failed = True
            continue
        out.append(PrefixRate(key.lstrip("+"), **sec.values))
    if failed:
        raise Reported
    return tuple(out)


RATES_SPEC = {
    "currency": currency,
    "inbound": _direction(True),
    "outbound": _direction(True),
    "prefixes": _prefixes,
    "charge_unanswered": boolean,
}


def rates(item: Item, issues: Issues) -> Rates:
    """A trunk's `rates:` mapping."""
    sec = section(item, RATES_SPEC, issues, null_ok=False)
    if sec is None:
        raise Reported
    return Rates(**sec.values)


def platform_rate(item: Item, issues: Issues) -> PlatformRate:
    sec = section(item, {"per_minute": money, "currency": currency}, issues,
                  required=("per_minute",), null_ok=False)
    if sec is None or "per_minute" not in sec.values:
        raise Reported
    return PlatformRate(**sec.values)


SUMMARY_SPEC = {
    "provider": choice("extractive", "openai"),
    "url": string(nonempty=True),
    "model": string(nonempty=True),
    **secret_keys("api_key"),  # api_key: ${ENV}, or api_key_file: PATH
    "timeout_s": number(positive=True),
}


def build_summary(item: Item | None, issues: Issues) -> SummarySettings:
    sec = section(item, SUMMARY_SPEC, issues) if item is not None else None
    if sec is None:
        return SummarySettings()
    take_file_secret(sec, "api_key", issues)
    settings = SummarySettings(**sec.values)
    if settings.provider == "openai":
        for key in ("url", "model"):
            if key not in sec.items:
                issues.add(item.file, item.key_line, item.path,  # type: ignore[union-attr]
                           f"missing required key {key!r} (provider is openai)")
    return settings
