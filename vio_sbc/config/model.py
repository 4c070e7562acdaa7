"""The typed configuration: plain frozen dataclasses, validated once at load.

Every setting is declared once, as a dataclass field whose metadata holds the
converter that reads its YAML key (`vio_sbc.config.fields`); the section specs the
loader checks are generated from these fields. This module holds the top-level
sections and `Config`, and re-exports the section types of agents.py, trunks.py,
rates.py and values.py, so `vio_sbc.config.model` names every config type.

`vio_sbc.config.loader.load_config` builds a `Config` from YAML or raises
`ConfigError` listing every problem with file, line and key path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vio_sbc.config.agents import (
    AgentConfig,
    BargeInSettings,
    EndpointingSettings,
    Intent,
    ScriptedOptions,
    SttSettings,
    TtsSettings,
    WebSocketOptions,
)
from vio_sbc.config.fields import setting, sub
from vio_sbc.config.http import ConsoleSettings, HttpSettings, build_http
from vio_sbc.config.nodes import (
    INT,
    STR,
    Issues,
    Item,
    boolean,
    choice,
    int_choice,
    integer,
    list_of,
    nullable,
    number,
    string,
)
from vio_sbc.config.numbers import Direction, NumberConfig
from vio_sbc.config.rates import (
    DirectionRate,
    PlatformRate,
    PrefixRate,
    Rates,
    SummarySettings,
    build_summary,
)
from vio_sbc.config.tls import CertInfo, TlsSettings, build_tls
from vio_sbc.config.trunks import (
    NumberFormat,
    TrunkConfig,
    TrunkInbound,
    TrunkMedia,
    TrunkOutbound,
    TrunkRegister,
)
from vio_sbc.config.values import (
    HostPort,
    Increment,
    IPNetwork,
    database_url,
    hostname,
    listen,
    ports,
    word_choice,
)
from vio_sbc.errors import ConfigIssue

__all__ = [
    "AdmissionSettings", "AgentConfig", "BargeInSettings", "CertInfo", "ClusterSettings",
    "Config", "ConsoleSettings", "DialerSettings",
    "Direction", "DirectionRate", "EndpointingSettings", "HostPort", "HttpSettings",
    "IPNetwork", "Increment", "Intent", "LogSettings", "MediaSettings", "MessageLimits",
    "NumberConfig",
    "NumberFormat", "PlatformRate", "PrefixRate", "Rates", "RtpSettings", "ScriptedOptions",
    "SipSettings", "StorageSettings", "SttSettings", "SummarySettings", "TcpSettings",
    "TlsSettings", "TrunkConfig", "TrunkInbound", "TrunkMedia", "TrunkOutbound", "TrunkRegister",
    "TtsSettings", "WebSocketOptions", "WorkspaceSettings",
]


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """Per-source limits on INVITEs (see vio_sbc/callcontrol/admission.py)."""

    # INVITEs per second per source address (trunks included), and at once
    rate: float = field(default=20.0, metadata=setting(number(positive=True)))
    burst: int = field(default=40, metadata=setting(integer(lo=1)))
    # refused attempts per unknown source within failure_window_s before a block_s block
    max_failures: int = field(default=10, metadata=setting(integer(lo=1)))
    failure_window_s: float = field(default=60.0, metadata=setting(number(positive=True)))
    block_s: float = field(default=300.0, metadata=setting(number(positive=True)))


def _stranger(item: Item, issues: Issues) -> str:
    """`reject` (403, the minimal answer) or `drop` (no answer at all; needs the
    20-sip-guard pjproject patch, checked at start). `403` is the older spelling of
    `reject`."""
    if item.node.value == "403" and item.tag in (INT, STR):
        return "reject"
    return str(choice("reject", "drop")(item, issues))


@dataclass(frozen=True, slots=True)
class TcpSettings:
    """Accepted SIP-over-TCP connections (the 22-tcp-guard pjproject patch). A source in
    no trunk is closed at accept, whatever these say."""

    # listen() backlog: holds a carrier's reconnect burst (pjsip's default is 5)
    backlog: int = field(default=1024, metadata=setting(integer(1, 65535)))
    # connections from one source address at a time; the next is closed at accept
    max_connections_per_source: int = field(default=32, metadata=setting(integer(1, 65535)))
    # a connection no transaction or dialog uses is closed after this (pjsip's 600)
    idle_timeout_s: int = field(default=600, metadata=setting(integer(1, 86400)))
    # a new connection must send a valid SIP message within this (pjsip: never)
    first_message_timeout_s: int = field(default=10, metadata=setting(integer(1, 3600)))


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """What one request may carry (the 23-sip-limits pjproject patch); answers in
    vio_sbc/callcontrol/limits.py."""

    # bytes of the whole message; pjsip's buffer (4000) is the ceiling either way
    max_message_bytes: int = field(default=4000, metadata=setting(integer(512, 65535)))
    max_headers: int = field(default=64, metadata=setting(integer(8, 1000)))
    sdp_max_media: int = field(default=8, metadata=setting(integer(1, 64)))
    # payload types on one m= line (pjmedia keeps 32 and drops the rest unseen)
    sdp_max_formats: int = field(default=32, metadata=setting(integer(1, 256)))


@dataclass(frozen=True, slots=True)
class SipSettings:
    listen: HostPort = field(default=HostPort("127.0.0.1", 5060), metadata=setting(listen))
    # advertised in Contact and SDP c=
    public_address: str | None = field(default=None, metadata=setting(nullable(hostname)))
    transports: tuple[Literal["udp", "tcp", "tls"], ...] = field(
        default=("udp", "tcp"),
        metadata=setting(list_of(choice("udp", "tcp", "tls"), nonempty=True, unique=True)))
    # the TLS listener (`tls` in transports): its port, certificate, key and trust
    tls: TlsSettings = field(default=TlsSettings(), metadata=setting(build_tls))
    # concurrent calls; the pjsua2 build must allow at least this
    max_calls: int = field(default=200, metadata=setting(integer(lo=1)))
    user_agent: str = field(default="vio-sbc", metadata=setting(string(nonempty=True)))
    # requests from unknown sources: "reject" answers 403 to every one, "drop"
    # answers nothing (pjsip-level guard, scripts/pjproject-patches/20-sip-guard.patch)
    stranger_response: Literal["reject", "drop"] = field(default="reject",
                                                         metadata=setting(_stranger))
    # new calls per second, all trunks together; 0 = no limit
    max_cps: float = field(default=50.0, metadata=setting(number(lo=0)))
    # a blind transfer (REFER) without its final NOTIFY by then has failed (408)
    transfer_timeout_s: float = field(default=30.0, metadata=setting(number(lo=1, hi=600)))
    admission: AdmissionSettings = field(default=AdmissionSettings(),
                                         metadata=setting(sub(AdmissionSettings)))
    tcp: TcpSettings = field(default=TcpSettings(), metadata=setting(sub(TcpSettings)))
    limits: MessageLimits = field(default=MessageLimits(),
                                  metadata=setting(sub(MessageLimits)))


@dataclass(frozen=True, slots=True)
class RtpSettings:
    ports: tuple[int, int] = field(default=(20000, 20999), metadata=setting(ports))
    # conference bridge clock; 8000 is ~3x cheaper for narrowband
    clock_rate: int = field(default=8000, metadata=setting(int_choice(8000, 16000)))
    codecs: tuple[str, ...] = field(
        default=("PCMU", "PCMA", "G722"),
        metadata=setting(list_of(choice("PCMU", "PCMA", "G722"), nonempty=True, unique=True)))
    inactivity_timeout_s: float = field(default=60.0, metadata=setting(number(positive=True)))
    # which source address:port a call's RTP may come from (vio_sbc/rtp/guard.py):
    # latch = the first packet's, strict = the SDP's, off = pjmedia's own switching
    source_check: Literal["latch", "strict", "off"] = field(
        default="latch", metadata=setting(word_choice("latch", "strict", "off")))

    @property
    def port_min(self) -> int:
        return self.ports[0]

    @property
    def port_max(self) -> int:
        return self.ports[1]


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The media plane's own health (vio_sbc/agent/engine.py)."""

    # /readyz answers not ready while the agent engine is this late (milliseconds):
    # a dispatcher stops sending calls before the audio breaks
    ready_max_lag_ms: int = field(default=250, metadata=setting(integer(10, 60000)))
    # speech recognition in this many worker processes, off the media process's GIL
    # (0: one thread of the media process)
    stt_processes: int = field(default=1, metadata=setting(integer(0, 16)))
    # caller turns waiting for or in decoding at once; beyond that a turn is shed
    # (not understood, counted in vio_stt_shed) rather than queued behind
    stt_queue: int = field(default=32, metadata=setting(integer(1, 10000)))


@dataclass(frozen=True, slots=True)
class StorageSettings:
    dir: str = field(default="var", metadata=setting(string(nonempty=True)))
    recordings: bool = field(default=True, metadata=setting(boolean))
    # `vio-sbc cleanup` deletes recordings older than this
    retention_days: int | None = field(default=None, metadata=setting(nullable(integer(lo=1))))
    # postgresql://USER@HOST:PORT/DBNAME: call log and dialer queue shared by a cluster's
    # workers (docs/cluster.md); absent: SQLite files in `dir`. Recordings stay in `dir`.
    database: str | None = field(default=None, metadata=setting(nullable(database_url)))
    # the database user's password, never logged: password: ${ENV}, or password_file: PATH
    password: str | None = field(default=None, repr=False, metadata=setting(None, secret=True))


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """A Kamailio front and N vio-sbc workers on loopback (`vio-sbc cluster`, see
    docs/cluster.md). Worker i (1..N) listens on `first_worker` + i - 1, at
    `sip.listen`'s port, and is named `w<i>`."""

    front: HostPort = field(default=HostPort("127.0.0.1", 5060), metadata=setting(listen))
    workers: int = field(default=2, metadata=setting(integer(1, 64)))
    first_worker: str = field(default="127.0.0.11", metadata=setting(hostname))
    # the front's OPTIONS to each worker; a worker failing one is out of the set
    probe_interval_s: int = field(default=2, metadata=setting(integer(1, 60)))
    # Kamailio's own processes: UDP receivers (`children`)
    children: int = field(default=4, metadata=setting(integer(1, 64)))

    def worker_address(self, i: int) -> str:
        """Worker i's IP (1-based)."""
        import ipaddress

        return str(ipaddress.ip_address(self.first_worker) + (i - 1))

    def worker_names(self) -> list[str]:
        return [f"w{i}" for i in range(1, self.workers + 1)]
    # this process's name, set by `vio-sbc run --worker I` (not a YAML key)
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    name: str = field(default="default", metadata=setting(string(nonempty=True)))
    default_agent: str = field(default="receptionist", metadata=setting(string(nonempty=True)))
    platform_rate: PlatformRate | None = field(
        default=None, metadata=setting(sub(PlatformRate, null_ok=False)))


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata=setting(choice("debug", "info", "warning", "error")))
    # console: human-readable lines; json: one JSON object a line; auto: console on a
    # terminal, JSON when stdout is a pipe or file
    format: Literal["auto", "console", "json"] = field(
        default="auto", metadata=setting(choice("auto", "console", "json")))
    sip_trace: bool = field(default=False, metadata=setting(boolean))
    pjsip_level: int = field(default=1, metadata=setting(integer(0, 6)))


@dataclass(frozen=True, slots=True)
class DialerSettings:
    """The outbound dialer run inside `vio-sbc run` (see docs/dialer.md). Pacing and
    concurrency per trunk come from the trunk's `outbound` section."""

    enabled: bool = field(default=False, metadata=setting(boolean))
    # a dead process's claimed job is resolved after this
    lease_s: float = field(default=60.0, metadata=setting(number(1, 3600)))
    # how often the main loop looks for due jobs
    poll_s: float = field(default=0.1, metadata=setting(number(0.01, 10)))
    ring_timeout_s: float = field(default=45.0, metadata=setting(number(1, 600)))
    # re-queue delay when place_call refuses with 503
    refused_retry_s: float = field(default=5.0, metadata=setting(number(0, 3600)))
    # added to the wall clock; a testing aid for windows
    clock_offset_s: float = field(default=0.0, metadata=setting(number()))


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. The fields with a `setting` are the top-level sections
    (`agents`, `trunks` and `numbers` are read by the loader: they refer to each other
    and may come from included files)."""

    sip: SipSettings = field(default=SipSettings(), metadata=setting(sub(SipSettings)))
    rtp: RtpSettings = field(default=RtpSettings(), metadata=setting(sub(RtpSettings)))
    storage: StorageSettings = field(default=StorageSettings(),
                                     metadata=setting(sub(StorageSettings)))
    media: MediaSettings = field(default=MediaSettings(), metadata=setting(sub(MediaSettings)))
    workspace: WorkspaceSettings = field(default=WorkspaceSettings(),
                                         metadata=setting(sub(WorkspaceSettings)))
    agents: dict[str, AgentConfig] = field(default_factory=dict, metadata=setting(None))
    trunks: dict[str, TrunkConfig] = field(default_factory=dict, metadata=setting(None))
    numbers: dict[str, NumberConfig] = field(default_factory=dict, metadata=setting(None))
    log: LogSettings = field(default=LogSettings(), metadata=setting(sub(LogSettings)))
    dialer: DialerSettings = field(default=DialerSettings(),
                                   metadata=setting(sub(DialerSettings)))
    summary: SummarySettings = field(default=SummarySettings(),
                                     metadata=setting(build_summary))
    http: HttpSettings | None = field(default=None, metadata=setting(build_http))
    cluster: ClusterSettings | None = field(default=None,
                                            metadata=setting(sub(ClusterSettings, null_ok=False)))
    source: str = ""  # path of the main file
    secrets: tuple[str, ...] = ()  # resolved ${ENV} values and *_file secrets, for redaction
    warnings: tuple[ConfigIssue, ...] = ()  # valid but suspicious (printed by `check`)

    def agent_for(self, number: NumberConfig) -> tuple[AgentConfig, bool]:
        """The agent answering `number`, and whether it is the workspace default."""
        if number.agent is not None:
            return self.agents[number.agent], False
        return self.agents[self.workspace.default_agent], True
