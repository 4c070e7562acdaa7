"""Typed configuration: `load_config(path)` -> `Config`, or `ConfigError` listing every issue.

Adding a setting (one declaration; the section spec, required keys and defaults follow):
1. add a field to its section's dataclass (model.py, agents.py, trunks.py, rates.py) with the
   converter in its metadata: `x_s: float = field(default=1.0, metadata=setting(number(lo=0)))`;
2. document the key in docs/ (tests/unit/config/test_fields.py fails on an undocumented key).
A new section: a dataclass of settings plus a `Config` field with `setting(sub(ThatClass))`.

Modules: nodes.py (located YAML, generic converters, `section`), values.py (leaf value types
and their converters: host:port, E.164, SIP URI, money), fields.py (`setting`, the specs
generated from the model), model.py (`Config` and the top-level sections, re-exporting every
config type), agents.py, trunks.py, numbers.py, rates.py (and summary), secret_schema.py
(`${ENV}` or `*_file` secrets), yamlerrors.py (syntax errors people can act on), loader.py
(files, includes, `${VAR}`, cross-references).
"""

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
    TrunkOutbound,
    TrunkRegister,
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
    "TrunkOutbound",
    "TrunkRegister",
    "WorkspaceSettings",
    "load_config",
    "parse_config_text",
]
