"""The `agents:` section: each agent's settings, declared once with their converters.

Keys every agent has are `AgentConfig` fields. Keys of one kind are typed too:
`websocket` (`WebSocketOptions`: url, origin, parameters, connect_timeout_s, account_sid;
`fallback` is the agent's) and the scripted agent's transfer digit
(`ScriptedOptions`). Other keys stay free-form in `AgentConfig.options` (the echo
agent's `max_turn_ms`, the tone agent's `hz`...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from vio_sbc.config.fields import read, read_pairs, setting, sub
from vio_sbc.config.nodes import (
    INT,
    STR,
    Invalid,
    Issues,
    Item,
    Reported,
    Section,
    boolean,
    choice,
    construct,
    describe,
    entries,
    int_choice,
    integer,
    list_items,
    list_of,
    nullable,
    number,
    str_value,
    string,
)
from vio_sbc.config.values import dtmf_digit, str_mapping, transfer_target, ws_origin, ws_url

BUILTIN_AGENT_NAME = "receptionist"
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
    text = str(item.node.value) if item.tag in (STR, INT) else ""
    if not _DIGITS.fullmatch(text):
        raise Invalid(f"expected 1 to 8 DTMF digits (0-9, *, #), got {describe(item)}")
    return text


def _target(item: Item, issues: Issues) -> str:
    text = str_value(item)
    if not _TARGET.fullmatch(text):
        raise Invalid(f"expected a sip: URI, tel: URI or +E.164 number, got {item.shown}")
    return text


_phrases = list_of(_phrase, unique=True, noun="phrase")


@dataclass(frozen=True, slots=True)
class Intent:
    """A scripted agent's intent: caller phrases or digits -> reply and action."""

    name: str = field(metadata=setting(string(nonempty=True)))
    phrases: tuple[str, ...] = field(default=(), metadata=setting(_phrases))
    digits: str | None = field(default=None, metadata=setting(nullable(_digits)))
    reply: str | None = field(default=None, metadata=setting(nullable(string(nonempty=True))))
    action: Literal["hangup", "transfer"] | None = field(
        default=None, metadata=setting(nullable(choice("hangup", "transfer"))))
    target: str | None = field(default=None, metadata=setting(nullable(_target)))  # transfer


def _intent(item: Item, issues: Issues) -> Intent:
    intent, sec = read(Intent, item, issues, null_ok=False)
    if intent is None or sec is None:
        raise Reported
    if not _NAME.fullmatch(intent.name):
        issues.at(sec.items["name"], f"intent name {sec.items['name'].shown} must be letters, "
                  "digits, '_' or '-'")
    if not intent.phrases and not intent.digits and "phrases" not in sec.items \
            and "digits" not in sec.items:
        issues.at(item, "an intent needs phrases or digits")
    if intent.action == "transfer" and not intent.target and "target" not in sec.items:
        issues.at(item, "action transfer needs a target")
    if intent.target and intent.action != "transfer" and "action" not in sec.items:
        issues.at(sec.items["target"], "target is only used with action: transfer")
    return intent


def intents(item: Item, issues: Issues) -> tuple[Intent, ...]:
    out: list[Intent] = []
    names: set[str] = set()
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
        names.add(intent.name)
        out.append(intent)
    if failed:
        raise Reported
    return tuple(out)


@dataclass(frozen=True, slots=True)
class BargeInSettings:
    enabled: bool = field(default=True, metadata=setting(boolean))
    # caller speech needed before the agent's audio is cut
    min_speech_ms: int = field(default=200, metadata=setting(integer(0, 5000)))


@dataclass(frozen=True, slots=True)
class EndpointingSettings:
    start_ms: int = field(default=60, metadata=setting(integer(10, 2000)))  # voiced, to start
    stop_ms: int = field(default=600, metadata=setting(integer(100, 10000)))  # unvoiced, to end
    aggressiveness: int = field(default=2, metadata=setting(int_choice(0, 1, 2, 3)))  # webrtcvad
    frame_ms: int = field(default=20, metadata=setting(int_choice(10, 20, 30)))  # VAD frame


@dataclass(frozen=True, slots=True)
class SttSettings:
    provider: Literal["pocketsphinx", "none"] = field(
        default="pocketsphinx", metadata=setting(choice("pocketsphinx", "none")))


@dataclass(frozen=True, slots=True)
class TtsSettings:
    provider: Literal["espeak"] = field(default="espeak", metadata=setting(choice("espeak")))
    voice: str | None = field(  # None: the agent's `voice`
        default=None, metadata=setting(nullable(string(nonempty=True))))


DEFAULT_WS_FALLBACK = "Sorry, our assistant is not available right now. Please call again later."
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32


@dataclass(frozen=True, slots=True)
class WebSocketOptions:
    """A `websocket` agent's keys (docs/agents.md): the Twilio Media Streams server."""

    url: str = field(metadata=setting(ws_url))
    # the Origin header of the handshake (servers with allowed origins); None: none sent
    origin: str | None = field(default=None, metadata=setting(nullable(ws_origin)))
    parameters: dict[str, str] = field(default_factory=dict, metadata=setting(str_mapping))
    connect_timeout_s: float = field(default=5.0, metadata=setting(number(lo=0.1, hi=60)))
    account_sid: str = field(default=DEFAULT_ACCOUNT_SID,
                             metadata=setting(string(nonempty=True)))
    fallback: str = DEFAULT_WS_FALLBACK  # the agent's `fallback` when given


@dataclass(frozen=True, slots=True)
class ScriptedOptions:
    """A scripted agent's transfer digit: `transfer_digit` transfers to `transfer_to`."""

    transfer_digit: str | None = field(default=None, metadata=setting(dtmf_digit))
    transfer_to: str | None = field(default=None, metadata=setting(transfer_target))
    transfer_say: str = field(default="Please hold while I transfer your call.",
                              metadata=setting(string()))
    transfer_failed: str = field(default="Sorry, I could not transfer your call.",
                                 metadata=setting(string(nonempty=True)))
    # a spoken intent that ends or transfers the call (vio_sbc/agent/confirm.py): below
    # min_confidence it is not understood, below confirm_below the agent asks first.
    # 0/0: off (every match acts) until calibrated on calls; the bench's are 0.35/0.65
    min_confidence: float = field(default=0.0, metadata=setting(number(0, 1)))
    confirm_below: float = field(default=0.0, metadata=setting(number(0, 1)))
    confirm_hangup: str = field(default="Did you want to end the call? Please say yes or no.",
                                metadata=setting(string(nonempty=True)))
    confirm_transfer: str = field(
        default="Did you want to be transferred? Please say yes or no.",
        metadata=setting(string(nonempty=True)))
    not_confirmed: str = field(default="All right. How else can I help?",
                               metadata=setting(string(nonempty=True)))


@dataclass(frozen=True, slots=True)
class AgentConfig:
    name: str
    kind: Literal["scripted", "echo", "tone", "websocket"] = field(
        metadata=setting(choice("scripted", "echo", "tone", "websocket")))
    greeting: str | None = field(default=None, metadata=setting(nullable(string())))
    voice: str = field(default="en-us", metadata=setting(string(nonempty=True)))
    intents: tuple[Intent, ...] = field(default=(), metadata=setting(intents))
    fallback: str = field(default="Sorry, I did not catch that. Could you repeat?",
                          metadata=setting(string(nonempty=True)))
    goodbye: str = field(default="Thank you for calling. Goodbye.",
                         metadata=setting(string(nonempty=True)))
    max_turns: int = field(default=10, metadata=setting(integer(1, 1000)))
    barge_in: BargeInSettings = field(default=BargeInSettings(),
                                      metadata=setting(sub(BargeInSettings)))
    endpointing: EndpointingSettings = field(default=EndpointingSettings(),
                                             metadata=setting(sub(EndpointingSettings)))
    stt: SttSettings = field(default=SttSettings(), metadata=setting(sub(SttSettings)))
    tts: TtsSettings = field(default=TtsSettings(), metadata=setting(sub(TtsSettings)))
    websocket: WebSocketOptions | None = None  # kind websocket
    scripted: ScriptedOptions = ScriptedOptions()  # kind scripted
    # keys no field declares are kept as plain data
    options: dict[str, object] = field(default_factory=dict)


def _kind_options(kind: str, item: Item, sec: Section, issues: Issues) -> dict[str, Any]:
    """The typed options of `kind`, read from the agent's keys no AgentConfig field
    declares (`sec.extras`); the rest of those are kept as `options`."""
    declared: dict[str, Any] = {}
    if kind == "websocket":
        if "url" not in sec.extras:
            issues.add(item.file, item.key_line, item.path,
                       "missing required key 'url' for a websocket agent")
        fallback = sec.values.get("fallback")
        ws, sub_sec = read_pairs(WebSocketOptions, sec.extras, issues,
                                 fixed={"fallback": fallback} if fallback else None)
        declared = {"websocket": ws}
    elif kind == "scripted":
        opts, sub_sec = read_pairs(ScriptedOptions, sec.extras, issues)
        declared = {"scripted": opts or ScriptedOptions()}
    else:
        return {"options": _plain(sec.extras, issues)}
    return {**declared, "options": _plain(sub_sec.extras, issues)}


def _plain(extras: dict[str, Item], issues: Issues) -> dict[str, object]:
    options: dict[str, object] = {}
    for key, extra in extras.items():
        try:
            options[key] = construct(extra.node)
        except yaml.YAMLError as exc:
            issues.at(extra, f"cannot read value: {exc}")
    return options


def build_agents(item: Item, issues: Issues) -> list[tuple[str, Item, AgentConfig | None]]:
    """(name, item, agent or None if unusable) for each agent defined."""
    out: list[tuple[str, Item, AgentConfig | None]] = []
    for name, child in entries(item, issues) or []:
        agent, sec = read(AgentConfig, child, issues, extras=True, null_ok=False,
                          fixed={"name": name})
        if agent is not None and sec is not None:
            agent = replace(agent, **_kind_options(agent.kind, child, sec, issues))
        out.append((name, child, agent))
    return out


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


def builtin_agent() -> AgentConfig:
    """The agent used when the config has no `agents:` section."""
    return AgentConfig(name=BUILTIN_AGENT_NAME, kind="scripted",
                       greeting="Thanks for calling. How can I help?",
                       intents=default_intents())
