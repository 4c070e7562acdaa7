"""Dialog trust on pjsua2: the SIP guard asks, the pure table answers.

`scripts/pjproject-patches/21-dialog-trust.patch` makes the SIP guard put every
request that belongs to one of our calls (and every INVITE with `Replaces`) to a
decider before pjsua's handlers can act: a re-INVITE from another address would move
our RTP, a stranger's BYE end the call, a REFER make pjsua dial its `Refer-To`.
`DialogTrust` is that decider, a ctypes callback run by the guard on the main thread
(pjsip is polled there): it finds our call from the pjsua call id, classes the
source against it and answers from `vio_sbc.callcontrol.dialog` (the C side only
acts on the verdict). Refusals are counted in `vio_rejected_requests_total{reason}`
and logged (rate-limited per source): `refer_refused`, `replaces_refused`,
`in_dialog_refused`.

Second lines, for a library without the patch or a path it misses:
`refuse_transfer` / `refuse_replace` (the pjsua2 Call's onCallTransferRequest and
onCallReplaceRequest), and `ForeignCalls`, which hangs up at once any pjsua call
that is not one of ours (pjsua2 would hand its events to another call's object).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from vio_sbc.callcontrol.dialog import (
    Kind,
    SourceClass,
    Verdict,
    classify,
    decide,
    request_kind,
    trunk_networks,
)
from vio_sbc.callcontrol.routing import Route
from vio_sbc.cluster.worker import front_of
from vio_sbc.config.model import Config, IPNetwork
from vio_sbc.log import RateLimiter
from vio_sbc.ops.metrics import Metrics
from vio_sbc.sip import native

log = structlog.get_logger("vio_sbc.trust")

SET_DECIDER = "vio_sip_guard_set_decider"
Nets = tuple[IPNetwork, ...]


class TrustRequest(ctypes.Structure):
    """`vio_trust_req` of the patch (field for field)."""

    _fields_ = [
        ("method_id", ctypes.c_int), ("src_port", ctypes.c_int), ("call_id", ctypes.c_int),
        ("replaces", ctypes.c_int), ("method", ctypes.c_char_p), ("src_ip", ctypes.c_char_p),
        ("transport", ctypes.c_char_p), ("refer_to", ctypes.c_char_p),
        ("sip_call_id", ctypes.c_char_p),
    ]


DECIDER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(TrustRequest))


class TrustedCall(Protocol):
    """What the decider reads of a call (vio_sbc.sip.call.SbcCall)."""

    id: str
    pj_id: int
    source: str
    route: Route | None
    log: Any


@dataclass(frozen=True, slots=True)
class DialogRequest:
    """The facts the SIP guard extracted from one request."""

    method: str
    source: str
    source_port: int
    transport: str
    pj_call: int  # the pjsua call of the dialog (or the replaced one), -1 none
    replaces: bool
    refer_to: str
    sip_call_id: str

    @classmethod
    def from_c(cls, req: TrustRequest) -> DialogRequest:
        def text(raw: bytes | None) -> str:
            return (raw or b"").decode("utf-8", "replace")

        return cls(text(req.method), text(req.src_ip), int(req.src_port), text(req.transport),
                   int(req.call_id), bool(req.replaces), text(req.refer_to),
                   text(req.sip_call_id))


class DialogTrust:
    """The decider. `cfg` and `registrars` are read at every request (a reload or a
    registrar at a new address takes effect at once); `calls` is the switch's live
    calls by our id."""

    def __init__(self, cfg: Callable[[], Config], calls: Mapping[str, TrustedCall],
                 registrars: Callable[[], Mapping[str, str]], metrics: Metrics) -> None:
        self._cfg = cfg
        self._calls = calls
        self._registrars = registrars
        self._metrics = metrics
        self._by_pj: dict[int, TrustedCall] = {}
        self._nets_key: tuple[int, tuple[tuple[str, str], ...]] | None = None
        self._nets: tuple[dict[str, Nets], Nets] = ({}, ())
        self._log_limit = RateLimiter(burst=5, window=60.0)
        self._cb = DECIDER(self._on_request)  # kept for the process's life: C holds it
        self.installed = False

    # -- C side ------------------------------------------------------------------------
    def install(self) -> bool:
        fn = native.symbol(SET_DECIDER)
        if fn is None:
            log.warning("dialog_trust_unavailable", library=native.library_path(),
                        detail="in-dialog requests are not checked against the call's "
                               "peer; REFER and Replaces are refused by pjsua2 callbacks")
            return False
        fn.argtypes = [DECIDER]
        fn.restype = None
        fn(self._cb)
        self.installed = True
        asked = native.symbol("vio_sip_trust_asked", ctypes.c_ulong)
        spent = native.symbol("vio_sip_trust_ns", ctypes.c_ulonglong)
        self._metrics.gauge_fn("vio_dialog_trust_decisions", "Requests put to the dialog "
                               "trust decider (cumulative)", lambda: float(asked.value))
        self._metrics.gauge_fn("vio_dialog_trust_decider_seconds", "Time spent in the "
                               "decider, C to Python and back (cumulative)",
                               lambda: spent.value / 1e9)
        return True

    def uninstall(self) -> None:
        """Before libDestroy: the guard goes back to patch 20's behaviour."""
        fn = native.symbol(SET_DECIDER)
        if self.installed and fn is not None:
            fn(DECIDER())
            self.installed = False

    def _on_request(self, ptr: Any) -> int:
        try:
            return self.decide(DialogRequest.from_c(ptr.contents)).code
        except Exception:  # never raise into C; refuse what we could not judge
            log.exception("dialog_trust_failed")
            return 500

    # -- the decision ------------------------------------------------------------------
    def decide(self, req: DialogRequest) -> Verdict:
        call = self.call(req.pj_call)
        cfg = self._cfg()
        by_trunk, known = self._networks(cfg)
        own = known  # a dialog that is no call of ours: any trunk's address
        peer = None
        if call is not None:
            peer = call.source
            own = by_trunk.get(call.route.trunk.name, ()) if call.route is not None else ()
        front = front_of(cfg)
        if front is not None and call is not None and req.source == front.host:
            # a cluster worker: the front relays its dialogs' requests, each from a trunk's
            # address (it refuses strangers): the call's own trunk as far as we can tell
            source = SourceClass.TRUNK
        else:
            source = classify(req.source, peer, own, known)
        kind = request_kind(req.method, req.replaces, call is not None)
        verdict = decide(kind, source, cfg.sip.stranger_response)
        if verdict.refused:
            self.report(verdict, req, call, kind, source.value)
        return verdict

    def _networks(self, cfg: Config) -> tuple[dict[str, Nets], Nets]:
        """Each trunk's networks and all of them, recomputed when the config or the
        registrars' addresses change."""
        registrars = self._registrars()
        key = (id(cfg), tuple(registrars.items()))
        if key != self._nets_key:
            by_trunk = {t.name: trunk_networks(t, _registrar_ips(registrars, t.name))
                        for t in cfg.trunks.values()}
            self._nets = (by_trunk, tuple(n for nets in by_trunk.values() for n in nets))
            self._nets_key = key
        return self._nets

    def call(self, pj_call: int) -> TrustedCall | None:
        """Our live call on pjsua call `pj_call` (index rebuilt on a miss)."""
        if pj_call < 0:
            return None
        found = self._by_pj.get(pj_call)
        if found is None or self._calls.get(found.id) is not found or found.pj_id != pj_call:
            self._by_pj = {c.pj_id: c for c in self._calls.values() if c.pj_id >= 0}
            found = self._by_pj.get(pj_call)
        return found

    def report(self, verdict: Verdict, req: DialogRequest, call: TrustedCall | None,
               kind: Kind, source_class: str) -> None:
        self._metrics.reject(verdict.reason)
        ok, suppressed = self._log_limit.allow(f"{verdict.reason}:{req.source}")
        if not ok:
            return
        fields: dict[str, Any] = {
            "source": req.source, "source_port": req.source_port, "transport": req.transport,
            "source_class": source_class, "method": req.method, "sip_call_id": req.sip_call_id,
            "answer": verdict.status or "dropped", "suppressed": suppressed}
        if kind is Kind.REFER:
            fields["target"] = req.refer_to
        if req.replaces:
            fields["replaces_call"] = call.id if call is not None else None
        logger = call.log if call is not None and not req.replaces else log
        logger.warning(verdict.reason, **fields)  # the reason is the event's name


def _registrar_ips(registrars: Mapping[str, str], trunk: str) -> tuple[str, ...]:
    return tuple(ip for ip, name in registrars.items() if name == trunk)


# -- second lines (pjsua2 callbacks) ------------------------------------------------------
def refuse_transfer(call: TrustedCall, metrics: Metrics, prm: Any) -> None:
    """onCallTransferRequest: a far-end REFER the guard did not stop. 603, no new call."""
    prm.statusCode = 603
    metrics.reject("refer_refused")
    call.log.warning("refer_refused", target=str(prm.dstUri), answer=603, by="pjsua2")


def refuse_replace(call: TrustedCall, metrics: Metrics, prm: Any) -> None:
    """onCallReplaceRequest (on the call an INVITE wants to replace): 403."""
    prm.statusCode = 403
    prm.reason = "Forbidden"
    metrics.reject("replaces_refused")
    call.log.warning("replaces_refused", source=str(prm.rdata.srcAddress), answer=403,
                     by="pjsua2")


class ForeignCalls:
    """Hangs up any pjsua call that is not one of ours, at once (every main-loop tick).

    pjsua creates calls on its own (a REFER's new leg, a Replaces): such a call has no
    Call object of ours; pjsua2 even lends it the object of the call it came from, so
    that object's id (and every event) would move to the stranger leg. Its user data
    is cleared first (pjsua2 then ignores it), then it is hung up through pjsua's C API.
    Cost while nothing is foreign: one `pjsua_call_get_count()` per tick."""

    def __init__(self, calls: Mapping[str, TrustedCall], lib: Any = None) -> None:
        self._calls = calls
        lib = lib or native.library()
        self._count = lib.pjsua_call_get_count
        self._count.restype = ctypes.c_uint
        self._enum = lib.pjsua_enum_calls
        self._active = lib.pjsua_call_is_active
        self._set_data = lib.pjsua_call_set_user_data
        self._set_data.argtypes = [ctypes.c_int, ctypes.c_void_p]
        self._hangup = lib.pjsua_call_hangup
        self._hangup.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self._max = int(lib.pjsua_call_get_max_count())
        self.hung_up = 0

    def tick(self) -> None:
        self.sweep()

    def sweep(self) -> list[int]:
        """Hang up the foreign calls; returns their pjsua ids."""
        if int(self._count()) <= len(self._calls):
            return []
        ids = (ctypes.c_int * self._max)()
        n = ctypes.c_uint(self._max)
        if self._enum(ids, ctypes.byref(n)) != 0:
            return []
        ours = {c.pj_id for c in self._calls.values()}
        foreign = [i for i in ids[:n.value] if i not in ours and self._active(i)]
        for pj_id in foreign:
            self._set_data(pj_id, None)
            status = self._hangup(pj_id, 603, None, None)
            self.hung_up += 1
            log.error("foreign_call_hung_up", pj_call=pj_id, status=status,
                      detail="a pjsua call the softswitch did not create")
        return foreign
