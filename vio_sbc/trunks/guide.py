"""Guided set-up of a carrier (pure): from the operator's answers, the trunk file to
write under the config's `include` and the steps to do on the carrier's side.

`vio-sbc connect twilio|pbx` (vio_sbc/cli/connect.py) asks the questions, checks the
file with the loader, writes it and checks what can be checked from here; this module
only turns answers into text. Strings are written as JSON strings (valid YAML, always
quoted), secrets as a quoted `${VAR}` reference, never their value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


def q(text: str) -> str:
    return json.dumps(text)


@dataclass(frozen=True, slots=True)
class Numbers:
    numbers: tuple[str, ...]
    direction: str = "both"
    agent: str | None = None

    def yaml(self, trunk: str) -> list[str]:
        agent = f", agent: {q(self.agent)}" if self.agent else ""
        return ["numbers:"] + [f"  {q(n)}: {{trunk: {q(trunk)}, direction: {self.direction}"
                               f"{agent}}}" for n in self.numbers]


@dataclass(frozen=True, slots=True)
class TwilioAnswers:
    name: str
    termination: str  # <name>.pstn.twilio.com
    username: str | None  # a credential list user (None: IP ACL only)
    password_env: str
    numbers: Numbers
    secure: bool = False
    cps: float = 1.0


@dataclass(frozen=True, slots=True)
class PbxAnswers:
    name: str
    host: str
    port: int
    transport: str
    username: str | None
    password_env: str
    register: bool
    allow: tuple[str, ...]
    numbers: Numbers
    country_code: str | None = "1"
    national_length: int | None = 10


def twilio_yaml(a: TwilioAnswers) -> str:
    lines = ["# Twilio Elastic SIP Trunking, written by `vio-sbc connect twilio`",
             "# (docs/twilio.md). The password comes from the server's environment.",
             "trunks:", f"  {q(a.name)}:", "    kind: twilio",
             "    inbound:", "      allow: twilio             # Twilio's signalling ranges"]
    if a.secure:
        lines.append("    secure: true                # TLS 5061 + SRTP (Secure Trunking)")
    lines += ["    outbound:", f"      host: {q(a.termination)}"]
    if a.username:
        lines += [f"      username: {q(a.username)}",
                  f'      password: "${{{a.password_env}}}"']
    lines += [f"      cps: {a.cps:g}", "      options_interval_s: 30"]
    return "\n".join(lines + a.numbers.yaml(a.name)) + "\n"


def pbx_yaml(a: PbxAnswers) -> str:
    lines = ["# A PBX trunk (FreePBX/Asterisk), written by `vio-sbc connect pbx`",
             "# (docs/trunks.md). The password comes from the server's environment.",
             "trunks:", f"  {q(a.name)}:", "    kind: byoc", "    inbound:",
             f"      allow: [{', '.join(q(x) for x in a.allow)}]"]
    if a.country_code:
        fmt = f"country_code: {q(a.country_code)}"
        if a.national_length:
            fmt += f", national_length: {a.national_length}"
        lines.append(f"    number_format: {{{fmt}}}")
    lines += ["    outbound:", f"      host: {q(a.host)}", f"      port: {a.port}",
              f"      transport: {a.transport}"]
    if a.username:
        lines += [f"      username: {q(a.username)}",
                  f'      password: "${{{a.password_env}}}"']
    lines.append("      options_interval_s: 30")
    if a.register:
        lines += ["    register:", "      enabled: true", "      expires: 300"]
    return "\n".join(lines + a.numbers.yaml(a.name)) + "\n"


def twilio_steps(a: TwilioAnswers, our_address: str) -> list[str]:
    port, transport = ("5061", ";transport=tls") if a.secure else ("5060", "")
    auth = (f"a Credential List with user {a.username!r} and the password you put in "
            f"{a.password_env}" if a.username else
            f"an IP Access Control List with {our_address}")
    steps = [
        "Twilio Console > Elastic SIP Trunking > Trunks > your trunk:",
        f"1. Origination: add the Origination SIP URI sip:{our_address}:{port}{transport}",
        f"2. Termination: the Termination SIP URI is {a.termination}; Authentication: "
        f"{auth}",
        "3. Caller ID: calls out must present a Twilio number of the account (or a "
        "verified caller ID) in E.164; vio-sbc sends the calling number",
        f"4. Numbers: assign {', '.join(a.numbers.numbers)} to the trunk",
    ]
    if a.secure:
        steps.append("5. General: enable Secure Trunking (TLS + SRTP)")
    return steps


def pbx_steps(a: PbxAnswers, our_address: str) -> list[str]:
    reg = ("Registration: Receive (vio-sbc registers)" if a.register else
           f"Registration: None; SIP Server {our_address}, port 5060")
    user = f"Username {a.username!r}, Secret: the value of {a.password_env}" \
        if a.username else "no authentication (IP-based)"
    return [
        "FreePBX > Connectivity > Trunks > Add Trunk > Add SIP (chan_pjsip) Trunk:",
        f"1. General: trunk name vio; pjsip Settings: {user}; Authentication: Inbound; {reg}",
        "2. Advanced: DTMF RFC 4733; codecs ulaw, alaw (g722 if wanted); Trust RPID/PAI yes",
        f"3. Inbound Routes: send {', '.join(a.numbers.numbers)} to PJSIP/${{EXTEN}}@vio "
        "(E.164, or national: number_format turns it into E.164)",
        "4. Outbound Routes: calls from the vio trunk's context to your carrier trunk",
        f"5. Firewall: trust {our_address}; it must reach {a.host} on {a.transport.upper()} "
        f"{a.port} and the RTP range",
    ]
