"""The typed configuration: plain frozen dataclasses, validated once at load.

`vio_sbc.config.loader.load_config` builds a `Config` from YAML or raises
`ConfigError` listing every problem with file, line and key path.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Literal

from vio_sbc.errors import ConfigIssue

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Direction(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BOTH = "both"

    @property
    def allows_inbound(self) -> bool:
        return self in (Direction.INBOUND, Direction.BOTH)

    @property
    def allows_outbound(self) -> bool:
        return self in (Direction.OUTBOUND, Direction.BOTH)


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """Per-source limits on INVITEs (see vio_sbc/admission.py)."""

    rate: float = 20.0  # INVITEs per second per source address (trunks included)
    burst: int = 40  # INVITEs a source may send at once
    max_failures: int = 10  # refused attempts per unknown source within failure_window_s...
    failure_window_s: float = 60.0
    block_s: float = 300.0  # ...before it is blocked for this long


@dataclass(frozen=True, slots=True)
class SipSettings:
    listen: HostPort = HostPort("127.0.0.1", 5060)
    public_address: str | None = None  # advertised in Contact and SDP c=
    transports: tuple[Literal["udp", "tcp"], ...] = ("udp", "tcp")
    max_calls: int = 200  # concurrent calls; the pjsua2 build must allow at least this
    user_agent: str = "vio-sbc"
    # requests from unknown sources: "reject" answers 403 to every one, "drop"
    # answers nothing (pjsip-level guard, scripts/pjproject-patches/20-sip-guard.patch)
    stranger_response: Literal["reject", "drop"] = "reject"
    max_cps: float = 50.0  # new calls per second, all trunks together; 0 = no limit
    admission: AdmissionSettings = AdmissionSettings()


@dataclass(frozen=True, slots=True)
class RtpSettings:
    port_min: int = 20000
    port_max: int = 20999
    clock_rate: int = 8000  # conference bridge clock; 8000 is ~3x cheaper for narrowband
    codecs: tuple[str, ...] = ("PCMU", "PCMA", "G722")
    inactivity_timeout_s: float = 60.0
    # which source address:port a call's RTP may come from (vio_sbc/rtp/guard.py):
    # latch = the first packet's, strict = the SDP's, off = pjmedia's own switching
    source_check: Literal["latch", "strict", "off"] = "latch"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    dir: str = "var"
    recordings: bool = True
    retention_days: int | None = None  # `vio-sbc cleanup` deletes recordings older than this


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    default_agent: str = "receptionist"
    name: str = "default"
    platform_rate: PlatformRate | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """A scripted agent's intent: caller phrases or digits -> reply and action."""

    name: str
    phrases: tuple[str, ...] = ()
    digits: str | None = None
    reply: str | None = None
    action: Literal["hangup", "transfer"] | None = None
    target: str | None = None  # transfer target (SIP URI or number)


@dataclass(frozen=True, slots=True)
class BargeInSettings:
    enabled: bool = True
    min_speech_ms: int = 200  # caller speech needed before the agent's audio is cut


@dataclass(frozen=True, slots=True)
class EndpointingSettings:
    start_ms: int = 60      # voiced time before a turn starts
    stop_ms: int = 600      # unvoiced time before the caller's turn is over
    aggressiveness: int = 2  # webrtcvad 0..3
    frame_ms: int = 20      # VAD frame: 10, 20 or 30


@dataclass(frozen=True, slots=True)
class SttSettings:
    provider: Literal["pocketsphinx", "none"] = "pocketsphinx"


@dataclass(frozen=True, slots=True)
class TtsSettings:
    provider: Literal["espeak"] = "espeak"
    voice: str | None = None  # None: the agent's `voice`


@dataclass(frozen=True, slots=True)
class AgentConfig:
    name: str
    kind: Literal["scripted", "echo", "tone", "websocket"]
    greeting: str | None = None
    voice: str = "en-us"
    intents: tuple[Intent, ...] = ()
    fallback: str = "Sorry, I did not catch that. Could you repeat?"
    goodbye: str = "Thank you for calling. Goodbye."
    max_turns: int = 10
    barge_in: BargeInSettings = BargeInSettings()
    endpointing: EndpointingSettings = EndpointingSettings()
    stt: SttSettings = SttSettings()
    tts: TtsSettings = TtsSettings()
    # kind-specific settings not modelled above are kept as plain data
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How a trunk's national numbers become E.164.

    `country_code` (e.g. "1", "44"): with `national_prefix` ("0"), a number
    starting with the prefix becomes +<cc><rest>; with `national_length`
    (10 for NANP), a bare national number of that length becomes +<cc><number>.
    `international_prefix` ("00", "011") is replaced by "+".
    """

    country_code: str | None = None
    national_prefix: str | None = None
    national_length: int | None = None
    international_prefix: str = "00"


@dataclass(frozen=True, slots=True)
class TrunkInbound:
    allow: tuple[IPNetwork, ...] = ()
    allow_preset: str | None = None  # "twilio" when the preset was used


@dataclass(frozen=True, slots=True)
class TrunkOutbound:
    """Where and how outbound INVITEs (and OPTIONS pings) go for a trunk."""

    host: str
    port: int = 5060
    transport: Literal["udp", "tcp"] = "udp"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # digest (401/407), never logged
    realm: str = "*"  # "*": answer any realm's challenge
    from_domain: str | None = None  # host part of From/P-Asserted-Identity (default: host)
    caller_id: str | None = None  # E.164 sent instead of the calling number (None: the number)
    max_calls: int = 10  # concurrent outbound calls on the trunk
    cps: float = 1.0  # new outbound calls per second (token bucket, burst max(1, cps))
    options_interval_s: float = 30.0  # OPTIONS health ping period; 0 turns it off
    options_timeout_s: float = 5.0  # no answer within this: the ping failed
    options_down_after: int = 2  # consecutive failed pings before the trunk is down

    @property
    def uri_host(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def target(self, user: str) -> str:
        """Request-URI for `user` (an E.164 number) on this trunk."""
        tp = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{user}@{self.uri_host}{tp}"


@dataclass(frozen=True, slots=True)
class TrunkRegister:
    """REGISTER towards the trunk (registrar and credentials default to `outbound`)."""

    enabled: bool = False
    expires: int = 300
    registrar: str | None = None  # sip:host[:port][;transport=tcp] (default: outbound host)
    contact_user: str | None = None  # user part of our Contact (default: outbound.username)
    aor: str | None = None  # address of record (default: sip:<username>@<registrar host>)
    retry_min_s: float = 2.0  # first retry after a failure; doubles up to retry_max_s
    retry_max_s: float = 300.0
    forbidden_retry_s: float = 900.0  # retry after 403 (bad credentials): slower


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    name: str
    kind: Literal["byoc", "twilio"]
    inbound: TrunkInbound = TrunkInbound()
    outbound: TrunkOutbound | None = None
    register: TrunkRegister = TrunkRegister()
    number_format: NumberFormat = NumberFormat()
    ring_seconds: float = 0.0  # send 180 and wait this long before answering
    recording: bool = True
    rates: Rates | None = None
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class NumberConfig:
    number: str  # E.164
    trunk: str
    direction: Direction = Direction.BOTH
    agent: str | None = None  # None: the workspace default agent answers
    ring_seconds: float | None = None  # overrides the trunk's
    recording: bool | None = None
    file: str = ""
    line: int = 0


# --- call-log settings: rates, platform rate, summary (issue 4) --------------------------


@dataclass(frozen=True, slots=True)
class Increment:
    """Billing increment "FIRST/NEXT" in seconds: the first block, then each next block."""

    first_s: int = 60
    next_s: int = 60

    def __str__(self) -> str:
        return f"{self.first_s}/{self.next_s}"


@dataclass(frozen=True, slots=True)
class DirectionRate:
    """A rate for one direction; in a prefix entry, None fields inherit the trunk's."""

    per_minute: Decimal | None = None
    increment: Increment | None = None
    connection_fee: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PrefixRate:
    prefix: str  # digits, without "+"
    inbound: DirectionRate | None = None
    outbound: DirectionRate | None = None


@dataclass(frozen=True, slots=True)
class Rates:
    """A trunk's `rates:` table (carrier cost)."""

    currency: str = "USD"
    inbound: DirectionRate | None = None
    outbound: DirectionRate | None = None
    prefixes: tuple[PrefixRate, ...] = ()
    charge_unanswered: bool = False  # unanswered attempts pay the connection fee


@dataclass(frozen=True, slots=True)
class PlatformRate:
    """`workspace.platform_rate`: agent/platform cost per answered minute, billed per
    started second, in the trunk's currency (`currency` applies to trunks without rates)."""

    per_minute: Decimal
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class SummarySettings:
    provider: Literal["extractive", "openai"] = "extractive"
    url: str | None = None  # OpenAI-compatible base URL or full .../chat/completions URL
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: Literal["debug", "info", "warning", "error"] = "info"
    sip_trace: bool = False
    pjsip_level: int = 1


@dataclass(frozen=True, slots=True)
class DialerSettings:
    """The outbound dialer run inside `vio-sbc run` (see docs/dialer.md)."""

    enabled: bool = False
    lease_s: float = 60.0  # a dead process's claimed job is resolved after this
    poll_s: float = 0.1  # how often the main loop looks for due jobs
    ring_timeout_s: float = 45.0
    refused_retry_s: float = 5.0  # re-queue delay when place_call refuses with 503
    clock_offset_s: float = 0.0  # added to the wall clock; a testing aid for windows


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The operator endpoint (/healthz, /readyz, /metrics); off when absent."""

    listen: HostPort = HostPort("127.0.0.1", 8089)


@dataclass(frozen=True, slots=True)
class Config:
    sip: SipSettings
    rtp: RtpSettings
    storage: StorageSettings
    workspace: WorkspaceSettings
    agents: dict[str, AgentConfig]
    trunks: dict[str, TrunkConfig]
    numbers: dict[str, NumberConfig]
    log: LogSettings = LogSettings()
    dialer: DialerSettings = DialerSettings()
    summary: SummarySettings = SummarySettings()
    source: str = ""  # path of the main file
    secrets: tuple[str, ...] = ()  # resolved ${ENV} values, for log redaction
    warnings: tuple[ConfigIssue, ...] = ()  # valid but suspicious (printed by `check`)
    http: HttpSettings | None = None

    def agent_for(self, number: NumberConfig) -> tuple[AgentConfig, bool]:
        """The agent answering `number`, and whether it is the workspace default."""
        if number.agent is not None:
            return self.agents[number.agent], False
        return self.agents[self.workspace.default_agent], True

