"""`vio-sbc check --limits`: the limits the server enforces for this config, as figures.

What the SIP guard holds every request to (`sip.limits`, capped by the build's receive
buffer), what the TCP guard allows (`sip.tcp`, the backlog capped by the kernel), and
the build's call and conference-port counts. Every figure docs/security.md quotes for
them is printed here.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from vio_sbc.callcontrol.limits import LIMITS, effective
from vio_sbc.config.model import Config

SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


def _build_packet_limit() -> tuple[int | None, str]:
    try:
        from vio_sbc.sip import native

        sym = native.symbol("vio_sip_max_pkt_len", ctypes.c_int)
        return (int(sym.value) if sym is not None else None), native.library_path()
    except Exception as exc:  # no pjsua2 here: the config figures only
        return None, f"pjsua2 not loadable ({exc})"


def limits_lines(cfg: Config) -> list[str]:
    packet, library = _build_packet_limit()
    values = effective(cfg.sip.limits, packet if packet is not None else 1 << 30)
    lines = [f"pjsua2: {library}"]
    if packet is None:
        lines.append("  (no 23-sip-limits patch: message limits are not enforced)")
    else:
        lines.append(f"  receive buffer (PJSIP_MAX_PKT_LEN): {packet} bytes; a UDP datagram "
                     "that fills it is answered 413")
    for lim in LIMITS:
        lines.append(f"sip.limits.{lim.key}: {values[lim.key]} -> {lim.status} "
                     f"{lim.reason_phrase} (reason {lim.reason})")
    tcp = cfg.sip.tcp
    try:
        kernel = int(SOMAXCONN.read_text())
    except (OSError, ValueError):
        kernel = None
    backlog = min(tcp.backlog, kernel) if kernel else tcp.backlog
    lines += [
        f"sip.tcp.backlog: {tcp.backlog} (in effect {backlog}; net.core.somaxconn {kernel})",
        f"sip.tcp.max_connections_per_source: {tcp.max_connections_per_source}",
        f"sip.tcp.idle_timeout_s: {tcp.idle_timeout_s}",
        f"sip.tcp.first_message_timeout_s: {tcp.first_message_timeout_s}",
        "sip.tcp: a source in no trunk is closed at accept",
    ]
    return lines
