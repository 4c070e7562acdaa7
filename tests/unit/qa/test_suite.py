"""The QA suite plan: which source address, number and arguments each scenario gets
from a config, what is skipped and why; SIPp statistics parsing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vio_sbc.config import Config, parse_config_text
from vio_sbc.qa.suite import (
    BY_NAME,
    SUITE,
    Run,
    Skip,
    parse_stat_csv,
    plan,
    sipp_duration_ms,
    stranger_source,
    trunk_source,
)

ROOT = Path(__file__).resolve().parents[3]

FULL = """
agents:
  receptionist: {kind: scripted, greeting: Hi}
  brief: {kind: scripted, greeting: Hi, max_turns: 1}
trunks:
  twilio: {kind: twilio, inbound: {allow: [twilio]}}
  pbx: {kind: byoc, inbound: {allow: [127.0.0.2/32, 127.0.0.9/32]}}
  lab: {kind: byoc, inbound: {allow: [127.0.0.16/28]}}
numbers:
  "+14155550100": {trunk: pbx, direction: both}
  "+14155550099": {trunk: pbx, direction: outbound}
  "+14155550104": {trunk: pbx, direction: inbound, ring_seconds: 5}
  "+14155550105": {trunk: pbx, direction: inbound, agent: brief}
  "+14155554421": {trunk: lab, direction: inbound}
"""


def cfg(text: str) -> Config:
    return parse_config_text(textwrap.dedent(text), "vio.yaml", env={})


def by_name(items: list[Run | Skip]) -> dict[str, Run | Skip]:
    return {i.scenario.name: i for i in items}


def test_every_scenario_file_exists() -> None:
    for sc in SUITE:
        assert (ROOT / "sipp_scenarios" / sc.file).is_file(), sc.file


def test_full_plan_fills_addresses_and_numbers() -> None:
    p = by_name(plan(cfg(FULL), []))
    assert list(p) == [s.name for s in SUITE]
    assert all(isinstance(r, Run) for r in p.values())
    runs = {k: v for k, v in p.items() if isinstance(v, Run)}
    assert runs["speech_pcmu"].source == "127.0.0.2"
    assert runs["speech_pcmu"].number == "+14155550100"  # rings 0 s, agent does not hang up
    assert runs["cancel"].number == "+14155550104"
    assert runs["agent_hangup"].number == "+14155550105"
    assert runs["options"].number is None
    assert runs["stranger_403"].source == "127.0.0.10"  # .9 is allowed by pbx
    unknown = runs["unknown_404"].number
    assert unknown is not None and unknown.startswith("+1415555") and unknown not in (
        "+14155550100", "+14155550099", "+14155550104", "+14155550105", "+14155554421")


def test_missing_numbers_are_skipped_with_a_reason() -> None:
    c = cfg("""
        trunks: {pbx: {kind: byoc, inbound: {allow: [127.0.0.2/32]}}}
        numbers: {"+14155550100": {trunk: pbx}}
        sip: {transports: [udp]}
    """)
    p = by_name(plan(c, ["cancel", "agent_hangup", "tcp", "options"]))
    assert p["cancel"] == Skip(BY_NAME["cancel"],
                               "trunk pbx has no inbound number with ring_seconds > 0")
    assert p["agent_hangup"] == Skip(
        BY_NAME["agent_hangup"],
        "trunk pbx has no inbound number whose agent hangs up (scripted, max_turns <= 2)")
    assert p["tcp"] == Skip(BY_NAME["tcp"], "sip.transports has no tcp")
    assert isinstance(p["options"], Run)


def test_no_loopback_trunk() -> None:
    c = cfg("trunks: {t: {kind: twilio, inbound: {allow: [twilio]}}}")
    assert trunk_source(c) is None
    assert plan(c, ["options"]) == [Skip(BY_NAME["options"],
                                         "no trunk allows a 127.0.0.0/8 source")]


def test_subnet_source_and_stranger() -> None:
    c = cfg("trunks: {lab: {kind: byoc, inbound: {allow: [127.0.0.0/28]}}}")
    assert trunk_source(c) == ("lab", "127.0.0.1")
    assert stranger_source(c) == "127.0.0.16"


def test_unknown_scenario_name() -> None:
    with pytest.raises(KeyError):
        plan(cfg(FULL), ["nope"])


def test_example_config_runs_the_whole_suite() -> None:
    from vio_sbc.config import load_config

    p = plan(load_config(ROOT / "config" / "vio.yaml"), [])
    assert [i for i in p if isinstance(i, Skip)] == []


STAT = """StartTime;SuccessfulCall(C);FailedCall(C);ResponseTime1(C);
2026-11-25\t11:16:39;0;0;00:00:00:000000;
2026-11-25\t11:16:40;1;0;00:00:01:004500;
"""


def test_parse_stat_csv_takes_the_last_row() -> None:
    st = parse_stat_csv(STAT)
    assert st["SuccessfulCall(C)"] == "1" and st["FailedCall(C)"] == "0"
    assert sipp_duration_ms(st["ResponseTime1(C)"]) == 1004.5
    assert parse_stat_csv("") == {}
    assert sipp_duration_ms("") is None
    assert sipp_duration_ms("01:02:03:000001") == 3723000.001
