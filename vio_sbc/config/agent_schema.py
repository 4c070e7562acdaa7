"""Schema of the typed agent settings: intents, barge-in, endpointing, STT and TTS.

Converters in the style of `vio_sbc.config.nodes`: each takes an `Item`, records
problems of nested keys in `Issues` (then raises `Reported`) or raises `Invalid`.
"""

from __future__ import annotations

import re
from typing import Any

from vio_sbc.config.model import (
    BargeInSettings,
    EndpointingSettings,
    Intent,
    SttSettings,
    TtsSettings,
)
from vio_sbc.config.nodes import (
    STR,
    Conv,
    Invalid,
    Issues,
    Item,
    Reported,
    boolean,
    choice,
    describe,
    int_choice,
    integer,
    list_items,
    nullable,
    section,
    str_value,
    string,
)

_PHRASE = re.compile(r"[a-z']+( [a-z']+)*")
_DIGITS = re.compile(r"[0-9*#]{1,8}")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_TARGET = re.compile(r"(sips?:\S+@\S+|sips?:\S+|tel:\+?[0-9]+|\+[1-9][0-9]{6,14})")


def _phrase(item: Item, issues: Issues) -> str:
    text = " ".join(str_value(item).lower().split())
    if not _PHRASE.fullmatch(text):
        raise Invalid(f"phrase {item.shown} must be words of letters (a-z and ')")
    return text


def _digits(item: Item, issues: Issues) -> str:
    text = str(item.node.value) if item.tag in (STR, "tag:yaml.org,2002:int") else ""
    if not _DIGITS.fullmatch(text):
        raise Invalid(f"expected 1 to 8 DTMF digits (0-9, *, #), got {describe(item)}")
    return text


def _target(item: Item, issues: Issues) -> str:
    text = str_value(item)
    if not _TARGET.fullmatch(text):
        raise Invalid(f"expected a sip: URI, tel: URI or +E.164 number, got {item.shown}")
    return text


def _phrases(item: Item, issues: Issues) -> tuple[str, ...]:
    out: list[str] = []
    failed = False
    for element in list_items(item):
        try:
            phrase = _phrase(element, issues)
        except Invalid as exc:
            issues.at(element, exc.message)
            failed = True
            continue
        if phrase in out:
            issues.at(element, f"duplicate phrase {element.shown}")
            failed = True
            continue
        out.append(phrase)
    if failed:
        raise Reported
    return tuple(out)


INTENT_SPEC: dict[str, Conv] = {
    "name": string(nonempty=True),
    "phrases": _phrases,
    "digits": nullable(_digits),
    "reply": nullable(string(nonempty=True)),
    "action": nullable(choice("hangup", "transfer")),
    "target": nullable(_target),
}


def _intent(item: Item, issues: Issues) -> Intent:
    sec = section(item, INTENT_SPEC, issues, required=("name",), null_ok=False)
    if sec is None:
        raise Reported
    v: dict[str, Any] = sec.values
    if "name" not in v:
        raise Reported
    if not _NAME.fullmatch(v["name"]):
        issues.at(sec.items["name"], f"intent name {sec.items['name'].shown} must be letters, "
                  "digits, '_' or '-'")
    if not v.get("phrases") and not v.get("digits") and "phrases" not in sec.items \
            and "digits" not in sec.items:
        issues.at(item, "an intent needs phrases or digits")
    if v.get("action") == "transfer" and not v.get("target") and "target" not in sec.items:
        issues.at(item, "action transfer needs a target")
    if v.get("target") and v.get("action") != "transfer" and "action" not in sec.items:
        issues.at(sec.items["target"], "target is only used with action: transfer")
    return Intent(**v)


def intents(item: Item, issues: Issues) -> tuple[Intent, ...]:
    out: list[Intent] = []
    names: dict[str, int] = {}
    digits: dict[str, str] = {}
    phrases: dict[str, str] = {}
    failed = False
    for element in list_items(item):
        try:
            intent = _intent(element, issues)
        except Invalid as exc:
            issues.at(element, exc.message)
            failed = True
            continue
        except Reported:
            failed = True
            continue
        if intent.name in names:
            issues.at(element, f"duplicate intent name {intent.name!r}")
            failed = True
        if intent.digits is not None:
            other = digits.setdefault(intent.digits, intent.name)
            if other != intent.name:
                issues.at(element, f"digits {intent.digits!r} already used by intent {other!r}")
                failed = True
        for phrase in intent.phrases:
            other = phrases.setdefault(phrase, intent.name)
            if other != intent.name:
                issues.at(element, f"phrase {phrase!r} already used by intent {other!r}")
                failed = True
        names[intent.name] = 1
        out.append(intent)
    if failed:
        raise Reported
    return tuple(out)


def _sub(spec: dict[str, Conv], cls: type[Any]) -> Conv:
    def conv(item: Item, issues: Issues) -> Any:
        sec = section(item, spec, issues)
        if sec is None:
            raise Reported
        return cls(**sec.values)

    return conv


barge_in = _sub({"enabled": boolean, "min_speech_ms": integer(0, 5000)}, BargeInSettings)
endpointing = _sub({
    "start_ms": integer(10, 2000),
    "stop_ms": integer(100, 10000),
    "aggressiveness": int_choice(0, 1, 2, 3),
    "frame_ms": int_choice(10, 20, 30),
}, EndpointingSettings)
stt = _sub({"provider": choice("pocketsphinx", "none")}, SttSettings)
tts = _sub({"provider": choice("espeak"), "voice": nullable(string(nonempty=True))},
           TtsSettings)

AGENT_EXTRA_SPEC: dict[str, Conv] = {
    "intents": intents,
    "fallback": string(nonempty=True),
    "goodbye": string(nonempty=True),
    "max_turns": integer(1, 1000),
    "barge_in": barge_in,
    "endpointing": endpointing,
    "stt": stt,
    "tts": tts,
}


def default_intents() -> tuple[Intent, ...]:
    """The built-in receptionist's intents (also in config/vio.yaml)."""
    return (
        Intent("sales", phrases=("sales", "pricing"), digits="1",
               reply="Our sales team is available weekdays from nine to five. "
                     "Anything else?"),
        Intent("support", phrases=("support", "help"), digits="2",
               reply="For support, please visit our help center. Anything else?"),
        Intent("goodbye", phrases=("goodbye", "bye"), digits="9",
               reply="Thank you for calling. Goodbye.", action="hangup"),
    )
