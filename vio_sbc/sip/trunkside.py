"""Trunk accounts on pjsua2: registration with backoff, OPTIONS health, hot apply.

One pjsua2 `Account` per trunk with an `outbound:` section carries the
trunk's digest credentials (answering 401/407 for REGISTER and INVITE) and,
when `register.enabled`, its registration (registrarUri empty otherwise).
pjsua refreshes a registration before expiry; a failed REGISTER is retried by
us (`vio_sbc.trunks.registration`: exponential backoff with jitter, slower on
403). The source address of a registrar's 2xx is remembered so INVITEs from
it are attributed to the trunk. All methods run on the main thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pjsua2 as pj
import structlog

from vio_sbc import log as vlog
from vio_sbc.cluster.worker import front_of
from vio_sbc.config.model import Config, TrunkConfig
from vio_sbc.config.values import transport_param, uri_host
from vio_sbc.sip.endpoint import account_config as sip_account_config
from vio_sbc.sip.message import source_ip
from vio_sbc.trunks.bucket import TokenBucket
from vio_sbc.trunks.health import Health, ping_ok
from vio_sbc.trunks.registration import Registration, refresh_margin_s

Incoming = Callable[[Any, Any], None]  # onIncomingCall(account, prm) of the switch
LiveCalls = Callable[[str, str | None], int]  # live calls on a trunk (of a direction)

log = structlog.get_logger("vio_sbc.trunks")


class TrunkAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, mgr: TrunkManager, trunk: str) -> None:
        super().__init__()
        self.mgr = mgr
        self.trunk = trunk
        self.generation = 0  # bumped on every modify: stale retry timers do nothing

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self.mgr.incoming(self, prm)
        except Exception:
            log.exception("incoming_call_failed", trunk=self.trunk)

    def onRegState(self, prm: Any) -> None:
        try:
            self.mgr.on_reg_state(self, int(prm.code), str(prm.reason), int(prm.expiration),
                                  prm.rdata)
        except Exception:
            log.exception("reg_state_failed", trunk=self.trunk)

    def onSendRequest(self, prm: Any) -> None:
        try:
            self.mgr.on_ping_result(self.trunk, int(prm.e.body.tsxState.tsx.statusCode))
        except Exception:
            log.exception("options_result_failed", trunk=self.trunk)


def registrar_uri(trunk: TrunkConfig) -> str:
    out = trunk.outbound
    assert out is not None
    if trunk.register.registrar:
        return trunk.register.registrar
    return out.uri


def account_id(trunk: TrunkConfig) -> str:
    """The account's URI: the address of record when registering."""
    out = trunk.outbound
    assert out is not None
    if trunk.register.aor:
        return trunk.register.aor
    user = out.username or "vio"
    host = uri_host(registrar_uri(trunk)) if trunk.register.enabled else (
        out.from_domain or out.host)
    return f"sip:{user}@{host}"


class TrunkManager:
    """The trunk accounts. It reaches the switch only through the callables it is
    given: the running config, a timer, onIncomingCall, and the live-call count."""

    def __init__(self, config: Callable[[], Config], later: Callable[[float, Callable[[], None]],
                 None], incoming: Incoming, live_calls: LiveCalls, *, register: bool = True,
                 ping: bool = True) -> None:
        self.config = config
        self.later = later
        self.incoming = incoming
        self._live = live_calls
        self.do_register = register
        self.do_ping = ping
        self.accounts: dict[str, TrunkAccount] = {}
        self.applied: dict[str, TrunkConfig] = {}
        self.retiring: dict[str, TrunkAccount] = {}
        self.regs: dict[str, Registration] = {}
        self.health: dict[str, Health] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.registrar_sources: dict[str, str] = {}  # registrar IP -> trunk
        self._next_ping: dict[str, float] = {}
        self._pending: dict[str, float] = {}  # trunk -> deadline of its outstanding ping
        self.noverify_transport: int | None = None  # TLS without server checks (tlsctl.py)

    # -- accounts ----------------------------------------------------------------
    def account_config(self, trunk: TrunkConfig) -> Any:
        out = trunk.outbound
        assert out is not None
        cfg = self.config()
        ac = sip_account_config(cfg, trunk.media.srtp)
        ac.idUri = account_id(trunk)
        if out.transport == "tls" and not out.verify_server and self.noverify_transport is not None:
            ac.sipConfig.transportId = self.noverify_transport  # sip/tlsctl.py
        reg = trunk.register
        if reg.enabled and self.do_register:
            ac.regConfig.registrarUri = registrar_uri(trunk)
            ac.regConfig.timeoutSec = reg.expires
            ac.regConfig.retryIntervalSec = 0  # retries are ours (backoff with jitter)
            ac.regConfig.firstRetryIntervalSec = 0
            ac.regConfig.delayBeforeRefreshSec = refresh_margin_s(reg.expires)
            ac.regConfig.registerOnAdd = True
            ac.regConfig.dropCallsOnFail = False
            front = front_of(cfg)
            if front is not None:  # the cluster registers once, for the front's address
                user = reg.contact_user or out.username or "vio"
                ac.sipConfig.contactForced = (f"<sip:{user}@{front}"
                                              f"{transport_param(out.transport)}>")
            elif reg.contact_user:
                host = cfg.sip.public_address or cfg.sip.listen.host
                port = cfg.sip.tls.port if out.transport == "tls" else cfg.sip.listen.port
                ac.sipConfig.contactForced = (f"<{out.scheme}:{reg.contact_user}@{host}:"
                                              f"{port}{transport_param(out.transport)}>")
        else:
            ac.regConfig.registrarUri = ""
            ac.regConfig.registerOnAdd = False
        front = front_of(cfg)
        if front is not None:  # a worker's requests leave through the cluster's front
            ac.sipConfig.proxies.append(f"sip:{front};lr")
        if out.username and out.password:
            ac.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", out.realm, out.username, 0, out.password))
        return ac

    def apply(self, cfg: Config) -> dict[str, list[str]]:
        """Bring accounts in line with `cfg`; returns the names of trunks whose account was
        added, changed (outbound or register differ) or removed. Live calls are
        untouched: a removed trunk's account goes when its calls end."""
        vlog.redactor.set((*cfg.secrets, *(t.outbound.password for t in cfg.trunks.values()
                                          if t.outbound and t.outbound.password)))
        wanted = {n: t for n, t in cfg.trunks.items() if t.outbound is not None}
        diff: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
        for name in list(self.accounts):
            if name not in wanted:
                diff["removed"].append(name)
                self._retire(name)
        for name, trunk in wanted.items():
            old = self.applied.get(name)
            if old is not None and name in self.accounts and (
                    old.outbound, old.register, old.media) == (
                    trunk.outbound, trunk.register, trunk.media):
                self.applied[name] = trunk  # inbound/routing changes need no account change
                continue
            assert trunk.outbound is not None
            self.buckets[name] = TokenBucket.for_cps(trunk.outbound.cps)
            self.health.setdefault(name, Health(name))
            self.health[name].down_after = trunk.outbound.options_down_after
            self._next_ping[name] = time.monotonic()
            reg = self.regs.setdefault(name, Registration(name))
            if name in self.accounts:
                diff["changed"].append(name)
                self._modify(name, old, trunk)
            else:
                diff["added"].append(name)
                self._create(name, trunk)
            if trunk.register.enabled and self.do_register:
                reg.attempt()
            elif old is not None and old.register.enabled:
                reg.unregistered()
            self.applied[name] = trunk
        return diff

    def _create(self, name: str, trunk: TrunkConfig) -> None:
        acc = TrunkAccount(self, name)
        self.accounts[name] = acc
        acc.create(self.account_config(trunk), False)
        log.info("trunk_account_created", trunk=name, uri=account_id(trunk),
                 registrar=registrar_uri(trunk) if trunk.register.enabled else None)

    def _modify(self, name: str, old: TrunkConfig | None, trunk: TrunkConfig) -> None:
        acc = self.accounts[name]
        acc.generation += 1
        if old is not None and old.register.enabled and not trunk.register.enabled:
            try:
                acc.setRegistration(False)
            except pj.Error as exc:
                log.warning("unregister_failed", trunk=name, error=exc.info())
        acc.modify(self.account_config(trunk))
        log.info("trunk_account_modified", trunk=name)

    def _retire(self, name: str) -> None:
        acc = self.accounts.pop(name)
        self.applied.pop(name, None)
        self.buckets.pop(name, None)
        self.health.pop(name, None)
        self._pending.pop(name, None)
        self.regs.pop(name, None)
        for ip in [ip for ip, t in self.registrar_sources.items() if t == name]:
            del self.registrar_sources[ip]
        acc.generation += 1
        self.retiring[name] = acc
        log.info("trunk_retiring", trunk=name, live_calls=self.live_calls(name))

    def live_calls(self, trunk: str, direction: str | None = None) -> int:
        return self._live(trunk, direction)

    # -- registration ------------------------------------------------------------
    def on_reg_state(self, acc: TrunkAccount, code: int, reason: str, expires: int,
                     rdata: Any) -> None:
        name = acc.trunk
        reg = self.regs.get(name)
        trunk = self.applied.get(name)
        if reg is None or trunk is None or self.accounts.get(name) is not acc:
            log.info("trunk_unregistered", trunk=name, code=code)
            return
        now = time.time()
        if 200 <= code < 300 and expires > 0:
            src = source_ip(str(rdata.srcAddress)) if rdata is not None else ""
            if src:
                self.registrar_sources[src] = name
            reg.registered(code, reason, expires, now)
            log.info("trunk_registered", trunk=name, code=code, expires_s=expires,
                     registrar_source=src, t=now)
        elif 200 <= code < 300:
            reg.unregistered()
            log.info("trunk_unregistered", trunk=name, code=code)
        else:
            delay = reg.failed(trunk.register, code, reason, now)
            log.warning("trunk_registration_failed", trunk=name, code=code, reason=reason,
                        failures=reg.failures, retry_in_s=round(delay, 2),
                        next_retry_at=reg.next_retry_at)
            gen = acc.generation
            self.later(delay, lambda: self._retry(acc, gen))

    def _retry(self, acc: TrunkAccount, gen: int) -> None:
        if acc.generation != gen or self.accounts.get(acc.trunk) is not acc:
            return
        reg = self.regs.get(acc.trunk)
        if reg is not None:
            reg.attempt()
        log.info("trunk_registering", trunk=acc.trunk)
        try:
            acc.setRegistration(True)
        except pj.Error as exc:
            self.on_reg_state(acc, 503, exc.info(), 0, None)

    def sources(self) -> Mapping[str, str]:
        return self.registrar_sources

    # -- OPTIONS health ----------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        for name, deadline in list(self._pending.items()):
            if now >= deadline:
                del self._pending[name]
                self._ping_done(name, 408)
        for name, acc in list(self.retiring.items()):
            if self.live_calls(name) == 0:
                del self.retiring[name]
                acc.shutdown()
                log.info("trunk_removed", trunk=name)
        if not self.do_ping:
            return
        for name, trunk in self.applied.items():
            out = trunk.outbound
            if out is None or out.options_interval_s <= 0 or name in self._pending:
                continue
            if now < self._next_ping.get(name, 0.0):
                continue
            self._next_ping[name] = now + out.options_interval_s
            self._ping(name, out.uri, out.options_timeout_s)

    def _ping(self, name: str, uri: str, timeout_s: float) -> None:
        prm = pj.SendRequestParam()
        prm.method = "OPTIONS"
        prm.txOption.targetUri = uri
        self._pending[name] = time.monotonic() + timeout_s
        try:
            self.accounts[name].sendRequest(prm)
        except pj.Error as exc:
            del self._pending[name]
            log.warning("options_send_failed", trunk=name, error=exc.info())
            self._ping_done(name, 503)

    def on_ping_result(self, name: str, code: int) -> None:
        """Any SIP answer, even a late one, shows the peer is alive. A failure pjsip
        reports (its own 408 comes ~32 s after the ping on UDP) counts only while a ping
        is outstanding: ours already timed out after options_timeout_s."""
        if name not in self._pending and not ping_ok(code):
            return
        self._pending.pop(name, None)
        self._ping_done(name, code)

    def _ping_done(self, name: str, code: int) -> None:
        health = self.health.get(name)
        if health is None:
            return
        changed = health.result(code, time.time())
        if changed is False:
            log.warning("trunk_down", trunk=name, last_status=code, failures=health.failures)
        elif changed is True:
            log.info("trunk_up", trunk=name, last_status=code)

    def is_down(self, trunk: str) -> bool:
        h = self.health.get(trunk)
        return h is not None and not h.up

    # -- status and shutdown -------------------------------------------------------
    def status(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for name, trunk in sorted(self.config().trunks.items()):
            reg = self.regs.get(name)
            health = self.health.get(name)
            ob = trunk.outbound
            out.append({
                "trunk": name, "kind": trunk.kind,
                "outbound": f"{ob.uri_host}/{ob.transport}" if ob else None,
                "srtp": trunk.media.srtp,
                "registration": reg.as_dict() if reg and trunk.register.enabled else None,
                "health": health.as_dict() if health and ob and ob.options_interval_s > 0
                else None,
                "live_calls": self.live_calls(name),
                "live_outbound": self.live_calls(name, "outbound"),
                "max_calls": ob.max_calls if ob else 0,
            })
        return out

    def shutdown(self) -> None:
        for acc in [*self.accounts.values(), *self.retiring.values()]:
            acc.generation += 1
            acc.shutdown()
        self.accounts.clear()
        self.retiring.clear()
