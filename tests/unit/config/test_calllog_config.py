"""Call-log settings: rates, platform rate, retention, summary."""

from __future__ import annotations

import pytest

from tests.unit.config.common import errors, parse

# --- call log: rates, platform rate, retention, summary (issue 4) ------------------------

_TRUNK = "trunks:\n  pbx:\n    kind: byoc\n"


def test_rates_platform_rate_retention_and_summary_values() -> None:
    config = parse(_TRUNK + """\
    rates:
      currency: EUR
      inbound: {per_minute: 0.0085, increment: "60/60"}
      outbound: {per_minute: "0.013", increment: 6/6, connection_fee: 0.001}
      prefixes:
        "+44": {outbound: {per_minute: 0.021}}
        "1800": {inbound: {connection_fee: 0}}
      charge_unanswered: true
workspace:
  platform_rate: {per_minute: 0.05}
storage:
  retention_days: 30
summary: {provider: openai, url: "http://127.0.0.1:9/v1", model: m, api_key: "${KEY}"}
""", env={"KEY": "sk-1"})
    from decimal import Decimal

    from vio_sbc.config.model import DirectionRate, Increment, PrefixRate

    rates = config.trunks["pbx"].rates
    assert rates is not None and rates.currency == "EUR" and rates.charge_unanswered
    assert rates.inbound == DirectionRate(Decimal("0.0085"), Increment(60, 60))
    assert rates.outbound == DirectionRate(Decimal("0.013"), Increment(6, 6), Decimal("0.001"))
    assert rates.prefixes == (
        PrefixRate("44", outbound=DirectionRate(Decimal("0.021"))),
        PrefixRate("1800", inbound=DirectionRate(connection_fee=Decimal("0"))),
    )
    assert config.workspace.platform_rate is not None
    assert config.workspace.platform_rate.per_minute == Decimal("0.05")
    assert config.storage.retention_days == 30
    assert (config.summary.provider, config.summary.api_key) == ("openai", "sk-1")
    assert "sk-1" in config.secrets


def test_call_log_defaults() -> None:
    config = parse(_TRUNK)
    assert config.trunks["pbx"].rates is None
    assert config.workspace.platform_rate is None
    assert config.storage.retention_days is None
    assert config.summary.provider == "extractive"


CALL_LOG_PINNED = [
    (_TRUNK + "    rates: {currency: usd}\n",
     "vio.yaml:4: trunks.pbx.rates.currency: expected a 3-letter ISO 4217 currency code "
     "(e.g. USD), got string 'usd'"),
    (_TRUNK + "    rates: {inbound: {increment: \"60/60\"}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound: missing required key 'per_minute'"),
    (_TRUNK + "    rates: {inbound: {per_minute: -1}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound.per_minute: must be at least 0, got -1"),
    (_TRUNK + "    rates: {inbound: {per_minute: cheap}}\n",
     "vio.yaml:4: trunks.pbx.rates.inbound.per_minute: expected an amount (e.g. 0.0085), "
     "got string 'cheap'"),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, increment: 60}}\n",
     'vio.yaml:4: trunks.pbx.rates.outbound.increment: expected "FIRST/NEXT" in whole '
     'seconds, each at least 1 (e.g. "60/60", "6/6", "1/1"), got integer 60'),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, increment: \"0/6\"}}\n",
     'vio.yaml:4: trunks.pbx.rates.outbound.increment: expected "FIRST/NEXT" in whole '
     'seconds, each at least 1 (e.g. "60/60", "6/6", "1/1"), got string \'0/6\''),
    (_TRUNK + "    rates: {outbound: {per_minute: 1, fee: 2}}\n",
     "vio.yaml:4: trunks.pbx.rates.outbound.fee: unknown key 'fee' (expected one of: "
     "connection_fee, increment, per_minute)"),
    (_TRUNK + "    rates: {prefixes: {\"+44x\": {outbound: {per_minute: 1}}}}\n",
     "vio.yaml:4: trunks.pbx.rates.prefixes.+44x: prefix '+44x' must be digits with an "
     "optional leading +"),
    (_TRUNK + "    rates: {prefixes: {\"44\": {both: {per_minute: 1}}}}\n",
     "vio.yaml:4: trunks.pbx.rates.prefixes.44.both: unknown key 'both' (expected one of: "
     "inbound, outbound)"),
    (_TRUNK + "    rates: 5\n",
     "vio.yaml:4: trunks.pbx.rates: expected a mapping, got integer 5"),
    ("workspace:\n  platform_rate: {currency: USD}\n",
     "vio.yaml:2: workspace.platform_rate: missing required key 'per_minute'"),
    ("workspace:\n  platform_rate: {per_minute: 1.5.1}\n",
     "vio.yaml:2: workspace.platform_rate.per_minute: expected an amount (e.g. 0.0085), "
     "got string '1.5.1'"),
    ("storage:\n  retention_days: 0\n",
     "vio.yaml:2: storage.retention_days: must be at least 1, got 0"),
    ("summary:\n  provider: gpt\n",
     "vio.yaml:2: summary.provider: invalid value 'gpt' (expected one of: extractive, openai)"),
    ("summary:\n  provider: openai\n  model: m\n",
     "vio.yaml:1: summary: missing required key 'url' (provider is openai)"),
]


@pytest.mark.parametrize(("text", "expected"), CALL_LOG_PINNED)
def test_call_log_error_message_is_pinned(text: str, expected: str) -> None:
    assert errors(text) == [expected]
