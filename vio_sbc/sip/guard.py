"""The SIP guard: who may talk to us at all, and answers for what nobody handles.

pjsua answers every INVITE it parses (`100 Trying`) before any Python hook runs, and
answers OPTIONS itself, so "say nothing to strangers" cannot be done from pjsua2.
`scripts/pjproject-patches/20-sip-guard.patch` adds three pjsip modules to pjsua-lib:

* an early one (before the transaction layer) that, for a request whose source is in
  no allowed network and which belongs to no dialog of ours, either swallows it
  (`sip.stranger_response: drop`; counted) or, in `reject` mode, answers `403` to
  everything but INVITE/ACK/CANCEL (INVITE goes on to the application's 403, so a
  stranger sees the same 403 for every request); a request of one of our dialogs, or
  an INVITE with Replaces, it puts to the dialog trust decider instead
  (21-dialog-trust.patch, `vio_sbc/sip/trust.py`);
* one just before pjsua's modules that answers REGISTER/SUBSCRIBE/PUBLISH/MESSAGE/
  REFER outside a dialog `405` + `Allow` (pjsua would drop REGISTER, accept a
  presence subscription and answer MESSAGE 200: things a phone does);
* a last one (after every pjsua module) that answers out-of-dialog requests nobody
  took: `481` for methods that only live in a dialog (BYE, CANCEL, INFO, ...),
  `501` for unknown methods; ACK gets nothing.

This module computes the allowed networks (pure: `allowed_networks`), pushes them
at start and whenever they change (a reload, a registrar seen at a new address),
sets the message limits (`sip.limits`, 23-sip-limits.patch: 413/400/488) and turns the
patches' counters into `vio_rejected_requests_total{reason}`.
"""

from __future__ import annotations

import ctypes
import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from vio_sbc.callcontrol.dialog import address_network, trunk_networks
from vio_sbc.callcontrol.limits import LIMITS, effective
from vio_sbc.cluster.worker import front_of
from vio_sbc.config.model import Config
from vio_sbc.sip import native

log = structlog.get_logger("vio_sbc.guard")

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
INSTALL = "vio_sip_guard_install"
# patch counter -> `reason` label of vio_rejected_requests_total
COUNTERS = {
    "vio_sip_guard_dropped": "stranger_dropped",
    "vio_sip_guard_refused": "stranger",
    "vio_sip_guard_405": "method_not_allowed",
    "vio_sip_guard_481": "no_dialog",
    "vio_sip_guard_501": "not_implemented",
}
MAX_NETS = 1024  # VIO_GUARD_MAX_NETS in the patch
MAX_PACKET = "vio_sip_max_pkt_len"  # PJSIP_MAX_PKT_LEN of the build (23-sip-limits)


def allowed_networks(cfg: Config, registrar_sources: Iterable[str]) -> tuple[IPNet, ...]:
    """Every source the switch knows, in a stable order without duplicates: each trunk's
    addresses (`inbound.allow`, outbound host and registrar when they are IP literals;
    `vio_sbc.callcontrol.dialog.trunk_networks`), then the addresses registrars
    answered from, then a cluster worker's front."""
    nets = [n for trunk in cfg.trunks.values() for n in trunk_networks(trunk)]
    nets.extend(n for n in map(address_network, registrar_sources) if n is not None)
    front = front_of(cfg)  # a cluster worker hears the carriers through its front
    nets.extend(n for n in (address_network(front.host if front else None),) if n is not None)
    return tuple(dict.fromkeys(nets))


def pack(nets: tuple[IPNet, ...]) -> tuple[Any, Any, Any]:
    """The C arrays `vio_sip_guard_set_allow` takes: families (4/6), 16-byte
    addresses, prefix lengths."""
    n = len(nets)
    fams = (ctypes.c_int * max(n, 1))(*(net.version for net in nets))
    addrs = (ctypes.c_ubyte * (16 * max(n, 1)))()
    for i, net in enumerate(nets):
        raw = net.network_address.packed
        addrs[16 * i:16 * i + len(raw)] = list(raw)
    prefixes = (ctypes.c_int * max(n, 1))(*(net.prefixlen for net in nets))
    return fams, addrs, prefixes


def patch_problem(mode: str) -> str | None:
    """Why `mode` cannot run on the installed pjsua2 (None when it can)."""
    if mode == "drop" and native.symbol(INSTALL) is None:
        return (f"sip.stranger_response: drop needs the 20-sip-guard pjproject patch, which "
                f"{native.library_path()} lacks (rebuild with scripts/build-pjsua2.sh)")
    return None


class SipGuard:
    """Owned by the Softswitch; `install()` after libStart, `tick()` on the main thread.
    It is given plain callables: the running config, the registrar addresses seen, and
    where to count what the patch answered (`rejected(reason, n)`)."""

    def __init__(self, config: Callable[[], Config], sources: Callable[[], Iterable[str]],
                 rejected: Callable[[str, int], None], poll_s: float = 0.5,
                 log_every_s: float = 60.0):
        self.config = config
        self.sources = sources
        self.rejected = rejected
        self.poll_s = poll_s
        self.log_every_s = log_every_s
        self.installed = False
        self._pushed: tuple[IPNet, ...] | None = None
        self._counters = dict(COUNTERS)  # + the message limits' (install, 23-sip-limits)
        self._seen = dict.fromkeys(COUNTERS, 0)
        self._next_poll = 0.0
        self._next_log = 0.0
        self._unlogged: dict[str, int] = {}

    def install(self) -> None:
        mode = self.config().sip.stranger_response
        fn = native.symbol(INSTALL)
        if fn is None:  # reject mode on an unpatched build: pjsua's behaviour as is
            log.warning("sip_guard_unavailable", library=native.library_path(),
                        detail="no 405/501 for unhandled requests; OPTIONS/REGISTER from "
                               "strangers are not refused")
            return
        native.symbol("vio_sip_guard_drop", ctypes.c_int).value = int(mode == "drop")
        self._set_limits()
        self._push()
        status = fn()
        if status != 0:
            raise RuntimeError(f"{INSTALL}() failed with pj_status {status}")
        self.installed = True
        log.info("sip_guard_installed", stranger_response=mode,
                 allowed_networks=len(self._pushed or ()))

    def _set_limits(self) -> None:
        """sip.limits into the patch's globals (23-sip-limits; absent: not enforced)."""
        max_packet = native.symbol(MAX_PACKET, ctypes.c_int)
        if max_packet is None:
            log.warning("sip_limits_unavailable", library=native.library_path())
            return
        values = effective(self.config().sip.limits, int(max_packet.value))
        for lim in LIMITS:
            native.symbol(lim.symbol, ctypes.c_uint).value = values[lim.key]
            self._counters[lim.counter] = lim.reason
            self._seen[lim.counter] = 0
        log.info("sip_limits", max_packet=int(max_packet.value), **values)

    def _push(self) -> None:
        nets = allowed_networks(self.config(), self.sources())
        if nets == self._pushed:
            return
        if len(nets) > MAX_NETS:
            log.error("sip_guard_too_many_networks", networks=len(nets), max=MAX_NETS)
            nets = nets[:MAX_NETS]
        set_allow = native.symbol("vio_sip_guard_set_allow")
        set_allow.restype = ctypes.c_int
        if set_allow(len(nets), *pack(nets)) != len(nets):
            raise RuntimeError("vio_sip_guard_set_allow refused the allow list")
        if self._pushed is not None:
            log.info("sip_guard_allow_changed", allowed_networks=len(nets),
                     added=sorted(str(n) for n in set(nets) - set(self._pushed)),
                     removed=sorted(str(n) for n in set(self._pushed) - set(nets)))
        self._pushed = nets

    def tick(self) -> None:
        if not self.installed:
            return
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self.poll_s
        self._push()
        self._count(now)

    def counts(self) -> dict[str, int]:
        """The patch's counters by reason (all 0 when not installed)."""
        if not self.installed:
            return {reason: 0 for reason in self._counters.values()}
        return {reason: int(native.symbol(name, ctypes.c_ulong).value)
                for name, reason in self._counters.items()}

    def _count(self, now: float) -> None:
        counts = self.counts()
        for name, reason in self._counters.items():
            delta = counts[reason] - self._seen[name]
            if delta > 0:
                self._seen[name] = counts[reason]
                self.rejected(reason, delta)
                self._unlogged[reason] = self._unlogged.get(reason, 0) + delta
        if self._unlogged and now >= self._next_log:  # one line a minute at most
            self._next_log = now + self.log_every_s
            log.info("sip_guard_answered", **self._unlogged)
            self._unlogged = {}
