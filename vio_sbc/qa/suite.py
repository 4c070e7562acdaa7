"""The inbound SIPp suite as data, and how a config fills in its addresses and numbers.

Pure: no sockets, no processes. `plan(cfg, names)` turns scenario names into
`Run`s (the SIPp arguments for this config) or `Skip`s (what the config lacks);
`parse_stat_csv` reads SIPp's `-trace_stat` file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from vio_sbc.config.model import Config, NumberConfig

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
Need = Literal["none", "answered", "ringing", "agent_hangup", "unknown", "any"]
Source = Literal["trunk", "stranger"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    file: str
    checks: str
    need: Need = "answered"
    source: Source = "trunk"
    transport: Literal["u1", "t1"] = "u1"
    extra: tuple[str, ...] = ()
    timeout_s: int = 40


SUITE: tuple[Scenario, ...] = (
    Scenario("options", "uac_options.xml", "OPTIONS answered 200", need="none"),
    Scenario("speech_pcmu", "uac_speech_pcmu.xml",
             "PCMU speech + RFC 4733 digit; 200 answers PCMU; caller BYE"),
    Scenario("speech_pcma", "uac_speech_pcma.xml",
             "PCMA speech + RFC 4733 digit; 200 answers PCMA; caller BYE"),
    Scenario("speech_dtmf", "uac_speech_dtmf.xml",
             "Debian g711a.pcap speech + digit 1; offer order kept"),
    Scenario("echo_audio", "uac_echo_audio.xml",
             "agent audio reaches the caller (echoed back by SIPp)",
             extra=("-rtp_echo", "-d", "3000")),
    Scenario("hold_resume", "uac_hold_resume.xml",
             "re-INVITE sendonly -> recvonly, then sendrecv; call kept"),
    Scenario("cancel", "uac_cancel.xml", "CANCEL while ringing: 200 + 487", need="ringing"),
    Scenario("agent_hangup", "uac_agent_hangup.xml",
             "agent ends the call: BYE from the server within 30 s", need="agent_hangup"),
    Scenario("long_call", "uac_long_call.xml", "20 s call with speech stays up",
             extra=("-set", "reps", "3")),
    Scenario("stranger_403", "uac_expect_403.xml", "source in no trunk's allow list: 403",
             need="any", source="stranger"),
    Scenario("unknown_404", "uac_expect_404.xml", "number not in the config: 404",
             need="unknown"),
    Scenario("tcp", "uac_echo_audio.xml", "call over TCP", transport="t1",
             extra=("-d", "1000")),
)
BY_NAME = {s.name: s for s in SUITE}


@dataclass(frozen=True, slots=True)
class Run:
    scenario: Scenario
    source: str
    number: str | None
    args: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Skip:
    scenario: Scenario
    reason: str


def trunk_source(cfg: Config) -> tuple[str, str] | None:
    """(trunk name, a loopback address it allows) for the first trunk that has one."""
    for trunk in cfg.trunks.values():
        for net in trunk.inbound.allow:
            if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(LOOPBACK):
                continue
            host = net.network_address if net.prefixlen == 32 else net.network_address + 1
            return trunk.name, str(host)
    return None


def stranger_source(cfg: Config) -> str | None:
    """A loopback address no trunk allows."""
    nets = [n for t in cfg.trunks.values() for n in t.inbound.allow if n.version == 4]
    for last in range(9, 255):
        ip = ipaddress.ip_address(f"127.0.0.{last}")
        if not any(ip in n for n in nets):
            return str(ip)
    return None


def _ring(cfg: Config, num: NumberConfig) -> float:
    return num.ring_seconds if num.ring_seconds is not None else cfg.trunks[num.trunk].ring_seconds


def _hangs_up(cfg: Config, num: NumberConfig) -> bool:
    agent, _ = cfg.agent_for(num)
    return agent.kind == "scripted" and agent.max_turns <= 2  # typed since agent-stt


def pick_number(cfg: Config, trunk: str, need: Need) -> str | None:
    inbound = sorted((n for n in cfg.numbers.values()
                      if n.trunk == trunk and n.direction.allows_inbound),
                     key=lambda n: n.number)
    if need == "ringing":
        found = [n for n in inbound if _ring(cfg, n) > 0]
    elif need == "agent_hangup":
        found = [n for n in inbound if _hangs_up(cfg, n) and _ring(cfg, n) == 0]
    elif need == "unknown":
        if not inbound:
            return None
        base = inbound[0].number
        for i in range(10000):
            cand = base[: -4] + f"{(int(base[-4:]) + 4321 + i) % 10000:04d}"
            if cand not in cfg.numbers:
                return cand
        return None
    else:
        found = ([n for n in inbound if _ring(cfg, n) == 0 and not _hangs_up(cfg, n)]
                 or [n for n in inbound if _ring(cfg, n) == 0])
    return found[0].number if found else None


def plan(cfg: Config, names: Sequence[str]) -> list[Run | Skip]:
    """The runs for `names` (all of SUITE when empty); unknown names raise KeyError."""
    chosen = [BY_NAME[n] for n in names] if names else list(SUITE)
    ts = trunk_source(cfg)
    out: list[Run | Skip] = []
    for sc in chosen:
        if sc.transport == "t1" and "tcp" not in cfg.sip.transports:
            out.append(Skip(sc, "sip.transports has no tcp"))
            continue
        if ts is None:
            out.append(Skip(sc, "no trunk allows a 127.0.0.0/8 source"))
            continue
        trunk, src = ts
        if sc.source == "stranger":
            stranger = stranger_source(cfg)
            if stranger is None:
                out.append(Skip(sc, "every 127.0.0.x is allowed by a trunk"))
                continue
            src = stranger
        number = None
        if sc.need != "none":
            number = pick_number(cfg, trunk, "answered" if sc.need == "any" else sc.need)
            if number is None:
                what = {"ringing": "with ring_seconds > 0",
                        "agent_hangup": "whose agent hangs up (scripted, max_turns <= 2)"}
                out.append(Skip(sc, f"trunk {trunk} has no inbound number "
                                    f"{what.get(sc.need, '')}".rstrip()))
                continue
        out.append(Run(sc, src, number))
    return out


def parse_stat_csv(text: str) -> dict[str, str]:
    """The last row of SIPp's `-trace_stat` CSV as {column: value}."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return {}
    head = lines[0].rstrip(";").split(";")
    row = lines[-1].rstrip(";").split(";")
    return dict(zip(head, row, strict=False))


def sipp_duration_ms(value: str) -> float | None:
    """SIPp's `HH:MM:SS:uuuuuu` as milliseconds."""
    parts = value.split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    h, m, s, us = (int(p) for p in parts)
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000
