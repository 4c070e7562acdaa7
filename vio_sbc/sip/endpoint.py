"""pjsua2 endpoint set-up for the softswitch: endpoint config, transports, codecs,
and the media/NAT settings every account shares (inbound and trunk accounts).

Called by `Softswitch.start()` on the main thread; nothing here keeps state. The TLS
listener and its certificate reload are vio_sbc/sip/tlsctl.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pjsua2 as pj
import structlog

from vio_sbc.callcontrol.srtp import SUITES, SrtpPolicy
from vio_sbc.config.model import Config
from vio_sbc.errors import VioError
from vio_sbc.sip.pjlog import StructlogWriter

log = structlog.get_logger("vio_sbc.sip")


class StartupError(VioError):
    pass


class VioEndpoint(pj.Endpoint):  # type: ignore[misc]
    """The pjsua2 Endpoint with the two endpoint-wide callbacks the switch uses: the
    account an incoming request goes to (the INVITE's SRTP needs, sip/inbound.py) and
    transport state (failed TLS certificate checks, sip/tlsctl.py). Main thread."""

    def __init__(self, select: Callable[[str, str, int], int],
                 transport_state: Callable[[Any], None]) -> None:
        super().__init__()
        self._select = select
        self._transport_state = transport_state

    def onSelectAccount(self, prm: Any) -> None:
        try:
            rdata = prm.rdata
            prm.accountIndex = self._select(str(rdata.srcAddress), str(rdata.wholeMsg),
                                            int(prm.accountIndex))
        except Exception:
            log.exception("select_account_failed")

    def onTransportState(self, prm: Any) -> None:
        try:
            self._transport_state(prm)
        except Exception:
            log.exception("transport_state_failed")


def endpoint_config(cfg: Config, writer: StructlogWriter) -> Any:
    """The EpConfig for libInit: main-thread-only SIP, null audio, our clock rate."""
    ec = pj.EpConfig()
    # Ask for more than any build has: pjsua clamps to its compile-time
    # PJSUA_MAX_CALLS, so the effective figure logged is the build's limit.
    # sip.max_calls is enforced by admission (503 beyond it).
    ec.uaConfig.maxCalls = 1 << 20
    ec.uaConfig.threadCnt = 0
    ec.uaConfig.mainThreadOnly = True
    ec.uaConfig.userAgent = cfg.sip.user_agent
    ec.medConfig.maxMediaPorts = 2 * cfg.sip.max_calls + 16
    ec.medConfig.clockRate = cfg.rtp.clock_rate
    ec.medConfig.sndClockRate = cfg.rtp.clock_rate
    ec.medConfig.noVad = True
    ec.medConfig.ecTailLen = 0
    ec.medConfig.quality = 4
    ec.logConfig.consoleLevel = cfg.log.pjsip_level
    ec.logConfig.level = cfg.log.pjsip_level
    ec.logConfig.msgLogging = 1 if cfg.log.sip_trace else 0
    ec.logConfig.writer = writer
    ec.logConfig.decor = 0
    return ec


def create_transports(ep: Any, cfg: Config) -> None:
    """One transport per `sip.transports` entry on `sip.listen`. On failure the
    endpoint is destroyed and StartupError raised."""
    host, port = cfg.sip.listen.host, cfg.sip.listen.port
    for kind in cfg.sip.transports:
        if kind == "tls":
            continue  # vio_sbc/sip/tlsctl.py
        tc = pj.TransportConfig()
        tc.port = port
        tc.boundAddress = host
        if cfg.sip.public_address:
            tc.publicAddress = cfg.sip.public_address
        ttype = pj.PJSIP_TRANSPORT_UDP if kind == "udp" else pj.PJSIP_TRANSPORT_TCP
        try:
            ep.transportCreate(ttype, tc)
        except pj.Error as exc:
            ep.libDestroy()
            raise StartupError(
                f"cannot listen on {kind} {cfg.sip.listen}: {exc.info()}"
            ) from exc


SRTP_USE = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
            "mandatory": pj.PJMEDIA_SRTP_MANDATORY}


def set_srtp(ac: Any, mode: SrtpPolicy) -> None:
    """SDES with our two suites (callcontrol/srtp.py), any signalling transport: the
    policy is ours (a plain-transport SRTP trunk gets a config warning)."""
    ac.mediaConfig.srtpUse = SRTP_USE[mode]
    ac.mediaConfig.srtpSecureSignaling = 0
    opt = pj.SrtpOpt()
    for name in SUITES:
        crypto = pj.SrtpCrypto()
        crypto.name = name
        opt.cryptos.append(crypto)
    opt.keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
    ac.mediaConfig.srtpOpt = opt


def account_config(cfg: Config, srtp: SrtpPolicy = "off") -> Any:
    """AccountConfig shared by the inbound account and trunk accounts (trunkside.py)."""
    ac = pj.AccountConfig()
    host = cfg.sip.public_address or cfg.sip.listen.host
    ac.idUri = f"sip:vio@{host}:{cfg.sip.listen.port}"
    ac.mediaConfig.transportConfig.port = cfg.rtp.port_min
    ac.mediaConfig.transportConfig.portRange = cfg.rtp.port_max - cfg.rtp.port_min
    ac.mediaConfig.transportConfig.boundAddress = cfg.sip.listen.host
    if cfg.sip.public_address:
        ac.mediaConfig.transportConfig.publicAddress = cfg.sip.public_address
    set_srtp(ac, srtp)
    ac.natConfig.iceEnabled = False
    ac.natConfig.sdpNatRewriteUse = 0
    ac.natConfig.contactRewriteUse = 0
    ac.natConfig.viaRewriteUse = 0
    ac.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
    return ac


def set_codecs(ep: Any, codecs: Sequence[str]) -> None:
    """Priority by position in `rtp.codecs`; every other codec disabled (0)."""
    wanted = [c.upper() for c in codecs]
    for ci in ep.codecEnum2():
        name = ci.codecId.split("/")[0].upper()
        prio = 255 - wanted.index(name) if name in wanted else 0
        ep.codecSetPriority(ci.codecId, prio)
