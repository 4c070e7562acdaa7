"""The effective limits of the pjsua2 build: a 4-call build must never pass for a server."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    version: str
    library: str
    max_calls: int
    max_conf_ports: int


def _lib(pj: Any) -> ctypes.CDLL:
    return ctypes.CDLL(pj._pjsua2.__file__)


def effective_limits(pj: Any, ep: Any) -> Limits:
    """Limits of the running, initialised library (after `libInit`)."""
    lib = _lib(pj)
    return Limits(
        version=ep.libVersion().full,
        library=pj._pjsua2.__file__,
        max_calls=int(lib.pjsua_call_get_max_count()),
        max_conf_ports=int(lib.pjsua_conf_get_max_ports()),
    )


def read_limits() -> Limits:
    """Probe the build's compile-time call limit in this process (creates and
    destroys an Endpoint: do not call inside a running server)."""
    import pjsua2 as pj

    ep = pj.Endpoint()
    ep.libCreate()
    try:
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = 1 << 20  # clamped by the build's PJSUA_MAX_CALLS
        cfg.uaConfig.threadCnt = 0
        cfg.medConfig.maxMediaPorts = 4096
        cfg.medConfig.threadCnt = 0
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.level = 0
        ep.libInit(cfg)
        return effective_limits(pj, ep)
    finally:
        ep.libDestroy()


def check_limits(lim: Limits, need_calls: int, need_ports: int) -> str | None:
    """Why this build cannot serve the configuration, or None when it can."""
    if lim.max_calls < need_calls:
        return (
            f"pjsua2 {lim.version} at {lim.library} allows {lim.max_calls} concurrent calls, "
            f"sip.max_calls is {need_calls}: this is not a server build of pjsua2 "
            f"(the PyPI wheels stop at 4); run `make install` to build one"
        )
    if lim.max_conf_ports < need_ports:
        return (
            f"pjsua2 {lim.version} at {lim.library} has {lim.max_conf_ports} conference ports, "
            f"{need_ports} are needed for {need_calls} calls"
        )
    return None
