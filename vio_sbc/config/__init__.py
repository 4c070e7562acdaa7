"""Typed configuration: `load_config(path)` -> `Config`, or `ConfigError` listing every issue."""

from vio_sbc.config.loader import load_config, parse_config_text
from vio_sbc.config.model import (
    AgentConfig,
    Config,
    Direction,
    HostPort,
    IPNetwork,
    LogSettings,
    NumberConfig,
    NumberFormat,
    RtpSettings,
    SipSettings,
    StorageSettings,
    TrunkConfig,
    TrunkInbound,
    TrunkOutbound,
    TrunkRegister,
    WorkspaceSettings,
)

__all__ = [
    "AgentConfig",
    "Config",
    "Direction",
    "HostPort",
    "IPNetwork",
    "LogSettings",
    "NumberConfig",
    "NumberFormat",
    "RtpSettings",
    "SipSettings",
    "StorageSettings",
    "TrunkConfig",
    "TrunkInbound",
    "TrunkOutbound",
    "TrunkRegister",
    "WorkspaceSettings",
    "load_config",
    "parse_config_text",
]
