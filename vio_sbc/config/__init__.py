"""Typed configuration: `load_config(path)` -> `Config`, or `ConfigError` listing every issue."""

from vio_sbc.config.loader import load_config, parse_config_text
from vio_sbc.config.model import (
    AdmissionSettings,
    AgentConfig,
    Config,
    Direction,
    HostPort,
    HttpSettings,
    IPNetwork,
    LogSettings,
    NumberConfig,
    NumberFormat,
    RtpSettings,
    SipSettings,
    StorageSettings,
    TrunkConfig,
    TrunkInbound,
    WorkspaceSettings,
)

__all__ = [
    "AdmissionSettings",
    "AgentConfig",
    "Config",
    "Direction",
    "HostPort",
    "HttpSettings",
    "IPNetwork",
    "LogSettings",
    "NumberConfig",
    "NumberFormat",
    "RtpSettings",
    "SipSettings",
    "StorageSettings",
    "TrunkConfig",
    "TrunkInbound",
    "WorkspaceSettings",
    "load_config",
    "parse_config_text",
]
