"""Recovery of interrupted calls: the length estimate (table) and the row fields."""

from __future__ import annotations

import json
import textwrap

import pytest

from vio_sbc.calllog.recovery import PROVIDER, Known, estimate_duration, recovered_fields
from vio_sbc.calllog.summary.extractive import Line
from vio_sbc.config import Config, parse_config_text


@pytest.mark.parametrize(("known", "expected"), [
    (Known(False, 5.0, 4.0, 3.0), (0.0, "unanswered")),
    (Known(True), (0.0, "nothing")),
    (Known(True, recording_s=12.34), (12.34, "recording")),
    (Known(True, 12.0, 12.5, 3.0), (12.5, "last event")),
    (Known(True, 2.0, None, 7.25), (7.25, "last transcript line")),
    (Known(True, None, 0.0, None), (0.0, "last event")),
])
def test_estimate_is_the_longest_known_source(known: Known,
                                              expected: tuple[float, str]) -> None:
    assert estimate_duration(known) == expected


def _cfg(rates: bool) -> Config:
    text = textwrap.dedent("""\
        trunks:
          pbx:
            kind: byoc
        """)
    if rates:
        text += ('    rates: {currency: EUR, charge_unanswered: true,\n'
                 '            inbound: {per_minute: 0.6, increment: "6/6", '
                 'connection_fee: 0.01}}\n')
    return parse_config_text(text, "vio.yaml", env={})


ROW = {"direction": "inbound", "trunk": "pbx", "number": "+14155550100", "callee": "x"}
LINES = [Line("agent", "Hello, how can I help?", 0, 2000),
         Line("caller", "I need a refund please.", 2500, 4000)]


def test_answered_call_is_costed_and_summarised_and_marked() -> None:
    fields, duration, basis = recovered_fields(_cfg(True), ROW, LINES,
                                               Known(True, recording_s=7.5))
    assert (duration, basis) == (7.5, "recording")
    assert fields["duration_s"] == 7.5 and fields["billable_s"] == 12  # "6/6": 7.5 s -> 12 s
    assert (fields["cost"], fields["cost_currency"]) == ("0.130000", "EUR")  # 0.01 + 0.6*12/60
    bd = json.loads(fields["cost_breakdown"])
    assert bd["recovery"] == {"duration_s": 7.5, "from": "recording"}
    assert fields["summary_provider"] == PROVIDER == "extractive:recovery"
    assert fields["summary"].splitlines()[1:] == [
        'Caller intent: "I need a refund please."',
        "Key utterances:",
        '- agent 00:00: "Hello, how can I help?"',
        "Outcome: interrupted (the server stopped during the call).",
        "Computed at restart from the call log: about 8 s answered, from the recording.",
    ]


def test_unanswered_call_costs_the_fee_and_has_no_duration() -> None:
    fields, duration, basis = recovered_fields(_cfg(True), ROW, [], Known(False, 3.0))
    assert (duration, basis) == (0.0, "unanswered") and "duration_s" not in fields
    assert (fields["cost"], fields["billable_s"]) == ("0.010000", 0)  # charge_unanswered
    assert fields["summary"].endswith("Computed at restart from the call log: not answered.")


def test_without_rates_only_billable_seconds() -> None:
    fields, _, _ = recovered_fields(_cfg(False), ROW, [], Known(True, None, 61_200 / 1000))
    assert "cost" not in fields and fields["billable_s"] == 62
    assert fields["summary"].endswith("about 61 s answered, from the last event.")
