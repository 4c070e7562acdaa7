"""RTP source check: which address a call's RTP may come from, and what was dropped.

pjmedia latches a stream's remote address to where RTP comes from, and after
PJMEDIA_RTP_NAT_PROBATION_CNT (10) packets from another address switches the
stream and the transport to it: ten packets between two of the carrier's (20 ms
apart) take a call's audio both ways. Our pjproject patch
(scripts/pjproject-patches/10-rtp-source-check.patch) adds a policy read for every
packet, the C global `vio_rtp_source_check`:

* `off` (0): pjmedia's stock behaviour;
* `latch` (1): the first accepted packet's address:port is kept for the stream's
  life (a NATed PBX may send from another address than its SDP's); packets from
  any other address are dropped, never switched to;
* `strict` (2): only the SDP's address:port is accepted.

Dropped packets are counted per call (`vio_call_rtp_drops`: by source, and pjmedia's
own discards of malformed packets) and are not counted as received, so a stranger
spraying RTP cannot keep a dead call alive past `rtp.inactivity_timeout_s`.

The pure part (policy values, drop arithmetic, the message when the library lacks
the patch) is separate from the ctypes access so it is unit-tested without pjsua2.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("vio_sbc.rtp")

POLICIES: dict[str, int] = {"off": 0, "latch": 1, "strict": 2}
SYMBOL = "vio_rtp_source_check"
COUNTERS = "vio_call_rtp_drops"


def policy_value(name: str) -> int:
    """The C value of a policy name; ValueError names the valid ones."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown RTP source policy {name!r} (expected one of: {', '.join(POLICIES)})"
        ) from None


def missing_patch(policy: str, library: str, present: bool) -> str | None:
    """Why the server cannot start with `policy`, or None. `off` needs nothing."""
    if present or policy == "off":
        return None
    return (f"rtp.source_check is {policy!r} but pjsua2 at {library} lacks {SYMBOL} "
            f"(scripts/pjproject-patches/10-rtp-source-check.patch): run `make install` "
            f"to build the patched library, or set rtp.source_check: off")


@dataclass(frozen=True, slots=True)
class RtpDrops:
    """RTP packets a call's audio stream dropped: `by_source` (our policy) and
    `malformed` (pjmedia's discards: bad version, CSRC/extension/padding beyond
    the packet, duplicates)."""

    by_source: int = 0
    malformed: int = 0

    @property
    def total(self) -> int:
        return self.by_source + self.malformed

    def since(self, earlier: RtpDrops) -> RtpDrops:
        """The drops after `earlier` (a counter never goes down; a reset reads 0)."""
        return RtpDrops(max(0, self.by_source - earlier.by_source),
                        max(0, self.malformed - earlier.malformed))

    def log_fields(self) -> dict[str, int]:
        return {"rtp_dropped_source": self.by_source, "rtp_dropped_malformed": self.malformed}

    def event_text(self) -> str:
        return f"source={self.by_source} malformed={self.malformed}"


class RtpGuard:
    """The switch's handle on the patch: sets the policy, reads a call's counters and
    turns them into a log field set, a call event and Prometheus counts."""

    def __init__(self, registry: Any = None) -> None:
        self.policy = "off"
        self._fn: Any = None
        self._counter: Any = None
        self._reported: dict[str, RtpDrops] = {}  # call id -> drops already counted
        self._receiving: set[str] = set()  # calls whose stream has accepted RTP
        if registry is not None:
            from prometheus_client import Counter

            self._counter = Counter(
                "vio_rtp_dropped_packets", "RTP packets dropped, by reason (source: from an "
                "address rtp.source_check refuses; malformed: discarded by pjmedia)",
                ["reason"], registry=registry)
            for reason in ("source", "malformed"):
                self._counter.labels(reason)

    def apply(self, policy: str) -> str | None:
        """Set the policy in the loaded library; the refusal message when it lacks
        the patch (and the policy needs it), else None."""
        from vio_sbc.sip import native

        value = policy_value(policy)
        flag = native.symbol(SYMBOL, ctypes.c_int)
        why = missing_patch(policy, native.library_path(), flag is not None)
        if why:
            return why
        if flag is not None:
            flag.value = value
        fn = native.symbol(COUNTERS)
        if fn is not None:
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint),
                           ctypes.POINTER(ctypes.c_uint)]
        self._fn = fn
        self.policy = policy
        log.info("rtp_source_check", policy=policy, patched=flag is not None)
        return None

    def read(self, pj_call_id: int, med_idx: int) -> RtpDrops | None:
        """The call's counters (main thread; they outlive the stream until the call
        slot is reused, so they are readable in the DISCONNECTED callback)."""
        if self._fn is None or pj_call_id < 0:
            return None
        src, bad = ctypes.c_uint(0), ctypes.c_uint(0)
        if self._fn(pj_call_id, med_idx, ctypes.byref(src), ctypes.byref(bad)) != 0:
            return None
        return RtpDrops(int(src.value), int(bad.value))

    def count(self, call_id: str, drops: RtpDrops) -> RtpDrops:
        """Add what is new since the last count of this call to the metrics; returns it."""
        new = drops.since(self._reported.get(call_id, RtpDrops()))
        self._reported[call_id] = drops
        if self._counter is not None:
            if new.by_source:
                self._counter.labels("source").inc(new.by_source)
            if new.malformed:
                self._counter.labels("malformed").inc(new.malformed)
        return new

    def forget(self, call_id: str) -> None:
        self._reported.pop(call_id, None)
        self._receiving.discard(call_id)

    # -- the switch's hooks (main thread) ------------------------------------------
    def poll(self, calls: Any) -> None:
        """Once a second: metrics follow live calls; a call's first accepted RTP
        (`rtp_receiving`: from then on `latch` holds its source) and its first drops
        are logged once each (the totals come with `call_ended`)."""
        for call in calls:
            if call.id not in self._receiving and (call.rx_packets() or 0) > 0:
                self._receiving.add(call.id)
                call.log.info("rtp_receiving", policy=self.policy)
            drops = self._read_call(call)
            if drops is None or not drops.total:
                continue
            first = call.id not in self._reported
            self.count(call.id, drops)
            if first:
                call.log.warning("rtp_dropped", policy=self.policy, **drops.log_fields())

    def ended(self, call: Any, calllog: Any) -> dict[str, int]:
        """Fields for the `call_ended` line; a `rtp_dropped` call event when any."""
        drops = self._read_call(call)
        if drops is None:
            self.forget(call.id)
            return {}
        self.count(call.id, drops)
        self.forget(call.id)
        if drops.total:
            calllog.add_event(call.id, call.t_ms(), "rtp_dropped", drops.event_text())
        return drops.log_fields()

    def _read_call(self, call: Any) -> RtpDrops | None:
        if call.media_index is None:
            return None
        try:
            return self.read(int(call.getId()), int(call.media_index))
        except Exception:  # a pjsua2 call object already gone
            return None
