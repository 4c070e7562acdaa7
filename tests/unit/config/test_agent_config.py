"""Agent settings: intents, barge-in, endpointing, STT, TTS, each kind's typed options."""

from __future__ import annotations

import pytest

from tests.unit.config.common import REPO, errors, parse
from vio_sbc.config import load_config, parse_config_text
from vio_sbc.config.model import ScriptedOptions, WebSocketOptions

# --- agent settings: intents, barge-in, endpointing, STT, TTS --------------------------

AGENT = "agents:\n  receptionist:\n    kind: scripted\n"
AGENT_ERROR_CASES = [
    (AGENT + '    intents:\n      - {name: sales}\n',
     ['vio.yaml:5: agents.receptionist.intents[0]: an intent needs phrases or digits']),
    (AGENT + '    intents:\n      - {name: a, phrases: [Sales!]}\n',
     ["vio.yaml:5: agents.receptionist.intents[0].phrases[0]: phrase 'Sales!' must be "
      "words of letters (a-z and ')"]),
    (AGENT + '    intents:\n      - {name: a, digits: 12a}\n',
     ['vio.yaml:5: agents.receptionist.intents[0].digits: expected 1 to 8 DTMF digits '
      "(0-9, *, #), got string '12a'"]),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: transfer}\n",
     ['vio.yaml:5: agents.receptionist.intents[0]: action transfer needs a target']),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: transfer, target: 'bob'}\n",
     ['vio.yaml:5: agents.receptionist.intents[0].target: expected a sip: URI, tel: URI '
      "or +E.164 number, got 'bob'"]),
    (AGENT + "    intents:\n      - {name: a, digits: '1', action: park}\n",
     ["vio.yaml:5: agents.receptionist.intents[0].action: invalid value 'park' "
      '(expected one of: hangup, transfer)']),
    (AGENT + "    intents:\n      - {name: a, digits: '1'}\n      - {name: b, digits: '1'}\n",
     ["vio.yaml:6: agents.receptionist.intents[1]: digits '1' already used by intent "
      "'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [sales]}\n      - {name: b, phrases: '
             '[sales]}\n',
     ["vio.yaml:6: agents.receptionist.intents[1]: phrase 'sales' already used by "
      "intent 'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [x]}\n      - {name: a, phrases: [y]}\n',
     ["vio.yaml:6: agents.receptionist.intents[1]: duplicate intent name 'a'"]),
    (AGENT + '    intents:\n      - {name: a, phrases: [x], colour: red}\n',
     ["vio.yaml:5: agents.receptionist.intents[0].colour: unknown key 'colour' "
      '(expected one of: action, digits, name, phrases, reply, target)']),
    (AGENT + '    max_turns: 0\n',
     ['vio.yaml:4: agents.receptionist.max_turns: must be between 1 and 1000, got 0']),
    (AGENT + '    barge_in: {enabled: maybe}\n',
     ['vio.yaml:4: agents.receptionist.barge_in.enabled: expected true or false, got '
      "string 'maybe'"]),
    (AGENT + '    endpointing: {frame_ms: 25, stop_ms: 50}\n',
     ['vio.yaml:4: agents.receptionist.endpointing.frame_ms: invalid value 25 (expected '
      'one of: 10, 20, 30)',
      'vio.yaml:4: agents.receptionist.endpointing.stop_ms: must be between 100 and '
      '10000, got 50']),
    (AGENT + '    stt: {provider: whisper}\n',
     ["vio.yaml:4: agents.receptionist.stt.provider: invalid value 'whisper' (expected "
      'one of: pocketsphinx, none)']),
    (AGENT + "    tts: {provider: espeak, voice: ''}\n",
     ['vio.yaml:4: agents.receptionist.tts.voice: must not be empty']),
    (AGENT + '    intents: {a: 1}\n',
     ['vio.yaml:4: agents.receptionist.intents: expected a list, got a mapping']),
]


@pytest.mark.parametrize(("text", "expected"), AGENT_ERROR_CASES)
def test_agent_setting_errors_are_pinned(text: str, expected: list[str]) -> None:
    assert errors(text) == expected


def test_agent_settings_typed_and_defaults() -> None:
    from vio_sbc.config.model import BargeInSettings, Intent

    config = parse("""
        agents:
          receptionist:
            kind: scripted
            intents:
              - {name: human, phrases: [Talk  To Someone], digits: 0, action: transfer,
                 target: "sip:desk@127.0.0.1", reply: One moment.}
            barge_in: {enabled: false}
            endpointing: {frame_ms: 30, stop_ms: 800}
            tts: {voice: en-gb}
        """)
    agent = config.agents["receptionist"]
    assert agent.intents == (Intent("human", ("talk to someone",), "0", "One moment.",
                                    "transfer", "sip:desk@127.0.0.1"),)
    assert agent.barge_in == BargeInSettings(enabled=False, min_speech_ms=200)
    assert (agent.endpointing.frame_ms, agent.endpointing.stop_ms) == (30, 800)
    assert agent.endpointing.start_ms == 60
    assert agent.stt.provider == "pocketsphinx" and agent.tts.voice == "en-gb"
    assert agent.max_turns == 10 and agent.options == {}


def test_builtin_and_example_receptionist_have_intents() -> None:
    builtin = parse("").agents["receptionist"]
    assert [i.name for i in builtin.intents] == ["sales", "support", "goodbye"]
    assert builtin.intents[2].action == "hangup"
    example = load_config(REPO / "config" / "vio.yaml").agents["receptionist"]
    assert {i.name: i.digits for i in example.intents} == {
        "sales": "1", "support": "2", "operator": "0", "goodbye": "9"}


def test_agent_kind_options_are_typed() -> None:
    config = parse_config_text(
        "agents:\n"
        "  receptionist: {kind: scripted, transfer_digit: 0, transfer_to: '+14155550999'}\n"
        "  bot:\n"
        "    kind: websocket\n"
        "    url: wss://agents.example.com/twilio\n"
        "    parameters: {team: blue, tier: 2}\n"
        "    connect_timeout_s: 2.5\n"
        "    origin: https://vio.example.com:8443\n"
    )
    bot = config.agents["bot"]
    assert bot.kind == "websocket"
    assert bot.websocket == WebSocketOptions(url="wss://agents.example.com/twilio",
                                             parameters={"team": "blue", "tier": "2"},
                                             connect_timeout_s=2.5,
                                             origin="https://vio.example.com:8443")
    assert bot.options == {}
    receptionist = config.agents["receptionist"]
    assert receptionist.scripted == ScriptedOptions(transfer_digit="0",
                                                    transfer_to="+14155550999")
    assert receptionist.options == {}
    assert receptionist.websocket is None
