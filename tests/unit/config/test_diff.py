"""The reload diff: every setting that changed, by key path, values shown (secrets
never), positions ignored; and the split into applied / restart-required."""

from __future__ import annotations

import textwrap

from vio_sbc.cli.trunks import reload_summary
from vio_sbc.config.diff import Change, diff, split
from vio_sbc.config.loader import parse_config_text

BASE = """\
    sip: {listen: 127.0.0.1:5070, max_calls: 20}
    workspace: {default_agent: sales}
    agents:
      sales:
        kind: scripted
        greeting: Hello
        intents:
          - {name: buy, phrases: [buy], reply: Great}
          - {name: bye, phrases: [goodbye], action: hangup}
    trunks:
      pbx:
        kind: byoc
        inbound: {allow: [127.0.0.2/32]}
        outbound: {host: 127.0.0.4, username: u, password: "${PW}"}
    numbers:
      "+14155550100": {trunk: pbx, direction: both, agent: sales}
"""


def cfg(text: str = BASE, pw: str = "s3cret-one"):  # type: ignore[no-untyped-def]
    return parse_config_text(textwrap.dedent(text), "vio.yaml", env={"PW": pw})


def paths(changes: list[Change]) -> list[str]:
    return [str(c) for c in changes]


def test_same_config_no_changes() -> None:
    assert diff(cfg(), cfg()) == []


def test_lines_moved_are_no_change() -> None:
    moved = "# a comment\n\n" + textwrap.dedent(BASE)
    assert diff(cfg(), parse_config_text(moved, "vio.yaml", env={"PW": "s3cret-one"})) == []


def test_inbound_allow_added_network() -> None:
    new = cfg(BASE.replace("[127.0.0.2/32]", "[127.0.0.2/32, 127.0.0.1/32]"))
    assert paths(diff(cfg(), new)) == ["trunks.pbx.inbound.allow: +127.0.0.1/32"]


def test_replaced_list_shows_both_sides() -> None:
    new = cfg(BASE.replace("[127.0.0.2/32]", "[127.0.0.3/32]"))
    assert paths(diff(cfg(), new)) == ["trunks.pbx.inbound.allow: +127.0.0.3/32 -127.0.0.2/32"]


def test_numbers_added_removed_changed() -> None:
    new = cfg(BASE.replace('"+14155550100": {trunk: pbx, direction: both, agent: sales}',
                           '"+14155550100": {trunk: pbx, direction: inbound, agent: sales}\n'
                           '      "+14155550105": {trunk: pbx}'))
    assert paths(diff(cfg(), new)) == ["numbers.+14155550100.direction: 'both' -> 'inbound'",
                                       "numbers.+14155550105 (added)"]
    assert paths(diff(new, cfg())) == ["numbers.+14155550100.direction: 'inbound' -> 'both'",
                                       "numbers.+14155550105 (removed)"]


def test_agent_intent_by_index_and_scalar() -> None:
    new = cfg(BASE.replace("phrases: [goodbye]", "phrases: [goodbye, bye]")
              .replace("greeting: Hello", "greeting: Hi there"))
    assert paths(diff(cfg(), new)) == ["agents.sales.greeting: 'Hello' -> 'Hi there'",
                                       "agents.sales.intents[1].phrases: +'bye'"]


def test_secret_never_shown() -> None:
    changes = diff(cfg(), cfg(pw="s3cret-two"))
    assert paths(changes) == ["trunks.pbx.outbound.password: (secret)"]
    assert "s3cret" not in repr(changes)


def test_section_added_or_removed() -> None:
    no_out = cfg(BASE.replace("        outbound: {host: 127.0.0.4, username: u, "
                              "password: \"${PW}\"}\n", ""))
    assert paths(diff(cfg(), no_out)) == ["trunks.pbx.outbound (removed)"]
    assert paths(diff(no_out, cfg())) == ["trunks.pbx.outbound (added)"]


def test_split_restart_sections() -> None:
    new = cfg(BASE.replace("max_calls: 20", "max_calls: 30")
              .replace("greeting: Hello", "greeting: Hi"))
    applied, restart = split(diff(cfg(), new))
    assert paths(applied) == ["agents.sales.greeting: 'Hello' -> 'Hi'"]
    assert paths(restart) == ["sip.max_calls: 20 -> 30"]


def test_summary_lines() -> None:
    assert reload_summary({"applied": [], "restart_required": [], "accounts_added": []}) == [
        "reloaded (no changes)"]
    assert reload_summary({
        "applied": ["trunks.pbx.inbound.allow: +127.0.0.1/32"],
        "restart_required": ["sip.max_calls: 20 -> 30"],
        "accounts_added": [], "accounts_changed": ["pbx"], "accounts_removed": [],
    }) == ["reloaded: 1 change applied", "  trunks.pbx.inbound.allow: +127.0.0.1/32",
           "trunk accounts: changed pbx",
           "not applied, restart required (running values kept): 1",
           "  sip.max_calls: 20 -> 30"]


def test_summary_shows_what_a_reload_hook_did() -> None:
    assert reload_summary({"applied": ["dialer.enabled: False -> True"], "restart_required": [],
                           "dialer": ["started"]}) == [
        "reloaded: 1 change applied", "  dialer.enabled: False -> True", "dialer: started"]


def test_dialer_is_applied_cluster_waits() -> None:
    new = cfg(BASE + "    dialer: {enabled: true}\n")
    applied, restart = split(diff(cfg(), new))
    assert (paths(applied), restart) == (["dialer.enabled: False -> True"], [])
