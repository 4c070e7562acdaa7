"""The TCP guard: who may hold a SIP connection to us, how many, and for how long.

Stock pjsip accepts any TCP connection and keeps one that never sends a SIP message
for ever (its first-message timer is off, its idle timer only starts once a
transaction has used the connection), with a listen backlog of 5: one stranger
address held 1,040 of our file descriptors. `scripts/pjproject-patches/22-tcp-guard.patch`
adds a connection guard to pjsip's transport layer that the TCP listener calls at
accept (a TLS listener can call the same functions):

* a source in no trunk (the SIP guard's allow list) is closed at once, with a RST;
* a source with `max_connections_per_source` open connections has the next closed;
* a connection that sends no valid SIP message within `first_message_timeout_s`
  (CRLF keep-alives do not count), or that nothing uses for `idle_timeout_s`, is
  closed;
* new listeners get `backlog` (the kernel caps it at net.core.somaxconn).

`configure()` sets the globals before the transports are created (the backlog is
read then); `tick()` turns the patch's counters into `vio_tcp_connections_total{event}`.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

import structlog

from vio_sbc.config.model import TcpSettings
from vio_sbc.sip import native

log = structlog.get_logger("vio_sbc.guard")

SETTINGS = {  # patch global -> TcpSettings field
    "vio_tp_backlog": "backlog",
    "vio_tp_max_per_source": "max_connections_per_source",
    "vio_tp_idle_s": "idle_timeout_s",
    "vio_tp_first_msg_s": "first_message_timeout_s",
}
COUNTERS = {  # patch counter -> `event` label of vio_tcp_connections_total
    "vio_tp_refused_stranger": "refused_stranger",
    "vio_tp_refused_cap": "refused_per_source_cap",
    "vio_tp_closed_idle": "closed_idle",
    "vio_tp_closed_silent": "closed_no_first_message",
}


class TcpGuard:
    def __init__(self, count: Callable[[str, int], None], poll_s: float = 0.5) -> None:
        """`count(event, n)` adds to the metric (main thread)."""
        self._count = count
        self._seen = dict.fromkeys(COUNTERS, 0)
        self._poll_s = poll_s
        self._next = 0.0
        self.available = False

    def configure(self, tcp: TcpSettings) -> None:
        if native.symbol("vio_tp_accept") is None:
            log.warning("tcp_guard_unavailable", library=native.library_path(),
                        detail="TCP connections from any source are accepted and kept")
            return
        for symbol, key in SETTINGS.items():
            kind = ctypes.c_int if symbol == "vio_tp_backlog" else ctypes.c_uint
            native.symbol(symbol, kind).value = int(getattr(tcp, key))
        self.available = True
        log.info("tcp_guard", backlog=tcp.backlog,
                 max_connections_per_source=tcp.max_connections_per_source,
                 idle_timeout_s=tcp.idle_timeout_s,
                 first_message_timeout_s=tcp.first_message_timeout_s)

    def counts(self) -> dict[str, int]:
        if not self.available:
            return dict.fromkeys(COUNTERS.values(), 0)
        return {event: int(native.symbol(name, ctypes.c_ulong).value)
                for name, event in COUNTERS.items()}

    def tick(self) -> None:
        now = time.monotonic()
        if not self.available or now < self._next:
            return
        self._next = now + self._poll_s
        for name, value in zip(COUNTERS, self.counts().values(), strict=True):
            delta = value - self._seen[name]
            if delta > 0:
                self._seen[name] = value
                self._count(COUNTERS[name], delta)
