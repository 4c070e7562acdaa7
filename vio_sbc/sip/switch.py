"""The softswitch: the composition of the pjsua2 adapter, its life cycle (start, run,
reload, shutdown), timers and the main loop. It sits at the top of the house: no
module of vio_sbc imports it but the command line.

All SIP work happens on the thread that calls `run()` (threadCnt=0,
mainThreadOnly): pjsua2 callbacks, timers, call-log bookkeeping and control
frames from the agent engine. Media runs on the bridge's clock thread.

The rooms it wires, each reaching it only through the narrow protocol it declares
(the Softswitch satisfies them all): call.py (`CallHost`: one call), inbound.py
(`InboundHost`: an INVITE in, `vio_sbc.callcontrol.inbound` decides), outcall.py
(`OutcallHost`: placing a call, `vio_sbc.callcontrol.outbound` admits), callend.py
(`EndHost`: closing a call's row, `vio_sbc.callcontrol.outcome` decides), calls.py
(the live calls), ops.py (`OpsHost`: control socket and SIGHUP); trunkside.py and
guard.py take plain callables. The dialer reaches it as an `Originator`.
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import itertools
import queue
import time
from collections.abc import Callable, Mapping
from typing import Any

import pjsua2 as pj
import structlog

from vio_sbc import log as vlog
from vio_sbc.agent.engine import Engine, Session
from vio_sbc.agent.frames import Frame, HangupRequest, Interrupt, TranscriptLine, TransferRequest
from vio_sbc.agent.pipeline import AgentKit
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.agent.wsbridge import WsBridge
from vio_sbc.callcontrol.admission import Admission
from vio_sbc.callcontrol.outbound import OutboundRequest, OutboundResult
from vio_sbc.callcontrol.outcome import Outcome
from vio_sbc.callcontrol.routing import Route
from vio_sbc.calllog import CallLog, dialect_for
from vio_sbc.calllog.records import CallRecords
from vio_sbc.config import diff as config_diff
from vio_sbc.config.model import Config
from vio_sbc.errors import VioError
from vio_sbc.log import RateLimiter
from vio_sbc.ops.http import Health
from vio_sbc.ops.metrics import Metrics
from vio_sbc.rtp.guard import RtpGuard
from vio_sbc.rtp.inactivity import InactivityWatch
from vio_sbc.sip import inbound, periodic
from vio_sbc.sip.call import AfterPlayout, SbcCall
from vio_sbc.sip.callend import end_call
from vio_sbc.sip.calls import CallTable
from vio_sbc.sip.endpoint import StartupError as StartupError
from vio_sbc.sip.endpoint import (
    VioEndpoint,
    account_config,
    create_transports,
    endpoint_config,
    set_codecs,
)
from vio_sbc.sip.guard import SipGuard, patch_problem
from vio_sbc.sip.inbound import InboundAccounts
from vio_sbc.sip.limits import Limits, check_limits, effective_limits
from vio_sbc.sip.outcall import place_call
from vio_sbc.sip.pjlog import StructlogWriter, stdout_logged
from vio_sbc.sip.stats import MediaStats, watch_media
from vio_sbc.sip.tcpguard import TcpGuard
from vio_sbc.sip.tlsctl import TlsControl
from vio_sbc.sip.trunkside import TrunkManager
from vio_sbc.sip.trust import DialogTrust, ForeignCalls

log = structlog.get_logger("vio_sbc.sip")


class Softswitch:
    def __init__(self, cfg: Config, calllog: CallLog | None = None, *,
                 standalone: bool = False) -> None:
        """`standalone`: a one-off endpoint (`vio-sbc call-out` with no server running):
        no trunk registration and no OPTIONS pings."""
        self.cfg = cfg
        self.metrics = Metrics()
        self.calllog = calllog or CallLog(
            dialect_for(cfg), worker=cfg.cluster.worker if cfg.cluster is not None else None)
        self.calllog.on_error = lambda _: self.metrics.calllog_write_errors.inc()
        self.records = CallRecords(cfg, self.calllog)
        self.tts = EspeakTts()
        self.ws_bridge = WsBridge()  # its thread starts with the first websocket call
        self._kit: AgentKit | None = None  # built by start(): recognisers checked there
        self.control: queue.SimpleQueue[tuple[Session, Frame]] = queue.SimpleQueue()
        self.engine = Engine(lambda s, f: self.control.put((s, f)),
                             on_lag=self.metrics.engine_lag.observe)
        self.table = CallTable()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.draining = False
        self.stranger_log = RateLimiter(burst=3, window=60.0)
        self.malformed_log = RateLimiter(burst=3, window=60.0)
        self.ep: Any = None
        self._log_writer: StructlogWriter | None = None
        self.inbound_accounts = InboundAccounts(self.incoming)  # one per SRTP mode
        self.tls = TlsControl()  # the TLS listener and its certificate (sip/tlsctl.py)
        self.limits: Limits | None = None
        self.stats = {"invites": 0, "answered": 0, "refused": 0, "strangers": 0, "shed": 0,
                      "malformed": 0}
        self.admission = Admission(cfg.sip.admission, cfg.sip.max_cps, time.monotonic())
        self._next_expiry = 0.0
        self.rtp_watch = InactivityWatch(cfg.rtp.inactivity_timeout_s)
        self.rtp_guard = RtpGuard(self.metrics.registry)  # rtp.source_check
        self.media_stats = MediaStats()
        self.trunks = TrunkManager(lambda: self.cfg, self.later, self.incoming, self.table.live,
                                   register=not standalone, ping=not standalone)
        # trunk -> registered (main thread writes); not registered until the first tick
        # says so, or /readyz would answer ready before any registration was tried
        self.registrations: dict[str, bool] = {
            n: False for n, t in cfg.trunks.items() if t.outbound and t.register.enabled}
        self.health = Health()
        self.health.add_check("sip_transport", lambda: periodic.transport_ready(
            self.ep is not None, self.draining, self.cfg))
        self.health.add_check("call_log", self.calllog.check)
        self.health.add_check("trunk_registrations",
                              lambda: periodic.registrations_ready(self.registrations))
        self.tick_hooks: list[Callable[[], None]] = []  # run on the main thread every tick
        self.on_drain: list[Callable[[], None]] = []  # told once when draining starts
        # told of each applied reload; what a hook changed joins the reload's changes
        self.on_reload: list[Callable[[Config], Mapping[str, list[str]] | None]] = []
        # pjsip-level stranger drop and 405/501 (sip/guard.py)
        self.guard = SipGuard(lambda: self.cfg, self.trunks.sources,
                              lambda reason, n: self.metrics.rejected.labels(reason).inc(n))
        self.tick_hooks.append(self.guard.tick)
        # in-dialog requests, REFER and Replaces (sip/trust.py, callcontrol/dialog.py)
        self.trust = DialogTrust(lambda: self.cfg, self.table.calls, self.trunks.sources,
                                 self.metrics)
        self.foreign: ForeignCalls | None = None  # needs libInit (the build's call count)
        self.tcp_guard = TcpGuard(lambda event, n: self.metrics.tcp.labels(event).inc(n))
        self.tick_hooks.append(self.tcp_guard.tick)

    @property
    def calls(self) -> dict[str, SbcCall]:
        """The live calls by call id (the table's dict; main thread)."""
        return self.table.calls

    # -- life cycle --------------------------------------------------------
    @property
    def kit(self) -> AgentKit:
        assert self._kit is not None, "Softswitch.start() builds the agent kit"
        return self._kit

    def start(self) -> None:
        cfg = self.cfg
        try:
            self._kit = AgentKit(cfg.agents, cfg.rtp.clock_rate, self.tts,
                                 stt_queue=cfg.media.stt_queue,
                                 stt_processes=cfg.media.stt_processes,
                                 ws_bridge=self.ws_bridge)
        except VioError as exc:  # e.g. an intent phrase the recogniser cannot know
            raise StartupError(f"agents: {exc}") from exc
        if why_not := patch_problem(cfg.sip.stranger_response):
            raise StartupError(why_not)
        ep = VioEndpoint(self._select_account, self.tls.on_transport_state)
        with stdout_logged():
            ep.libCreate()
        self.ep = ep
        self._log_writer = StructlogWriter(trace=cfg.log.sip_trace)
        ec = endpoint_config(cfg, self._log_writer)
        ep.libInit(ec)
        self.limits = effective_limits(pj, ep)
        log.info("pjsua2_limits", version=self.limits.version, library=self.limits.library,
                 max_calls=self.limits.max_calls, max_conf_ports=self.limits.max_conf_ports,
                 configured_max_calls=cfg.sip.max_calls)
        why = check_limits(self.limits, cfg.sip.max_calls, ec.medConfig.maxMediaPorts)
        why = why or self.rtp_guard.apply(cfg.rtp.source_check)
        if why:
            ep.libDestroy()
            raise StartupError(why)
        self.tcp_guard.configure(cfg.sip.tcp)  # before the listener: its backlog
        create_transports(ep, cfg)
        self.tls.start(ep, cfg, self.metrics)  # StartupError (endpoint destroyed) on failure
        ep.libStart()
        self.guard.install()
        if self.guard.installed:
            self.trust.install()
        self.foreign = ForeignCalls(self.table.calls)
        self.tick_hooks.append(self.foreign.tick)
        ep.audDevManager().setNullDev()
        set_codecs(ep, cfg.rtp.codecs)
        self.inbound_accounts.create(lambda mode: account_config(cfg, mode))
        self.trunks.noverify_transport = self.tls.noverify_id
        self.trunks.apply(cfg)
        prompts = self.kit.warm(cfg.agents)  # every prompt cached before any call
        self.kit.start()
        watch_media(self.metrics, self.health, self.engine, self.kit.worker,
                    lambda: self.cfg.media.ready_max_lag_ms)
        self.engine.start()
        log.info("agents_ready", prompts=prompts, recognisers=sorted(
            name for name, stt in self.kit.recognisers.items() if stt is not None))
        self.records.start()
        log.info("listening", sip=str(cfg.sip.listen), transports=list(cfg.sip.transports),
                 rtp_ports=f"{cfg.rtp.port_min}-{cfg.rtp.port_max}")

    def run(self, should_stop: Callable[[], bool], grace_s: float = 30.0) -> None:
        """Serve until `should_stop()`; then drain (503 to new calls) up to `grace_s`."""
        drain_deadline: float | None = None
        while True:
            self.ep.libHandleEvents(10)
            self._tick()
            self.media_stats.maybe_log(self.table, self.engine)
            if drain_deadline is None and should_stop():
                self.draining = True
                for hook in self.on_drain:
                    hook()
                drain_deadline = time.monotonic() + grace_s
                log.info("draining", live_calls=len(self.table), grace_s=grace_s)
            if drain_deadline is not None:
                if not self.table:
                    break
                if time.monotonic() >= drain_deadline:
                    log.info("grace_expired", live_calls=len(self.table))
                    break

    def shutdown(self) -> None:
        ep = self.ep
        if ep is None:
            return
        for call in self.table:
            call.hangup_side = call.hangup_side or "system"
        if self.foreign is not None:
            self.foreign.tick()  # first: pjsua2 would lend such a leg one of our objects
        ep.hangupAllCalls()
        end = time.monotonic() + 1.0
        while time.monotonic() < end and self.table:
            ep.libHandleEvents(10)
            self._tick()
        for call in self.table:  # no answer to our BYE: close the rows anyway
            self.ended(call, 500, "shutdown")
        self._tick()
        ep.audDevManager().setNoDev()
        self._timers.clear()  # timers may hold calls: none may outlive libDestroy
        self.engine.stop()
        if self._kit is not None:
            self._kit.stop()
        self.ws_bridge.stop()
        self.records.stop()  # finalise recordings, finish queued summaries
        self.table.clear()
        self.trunks.shutdown()
        self.inbound_accounts.shutdown()
        gc.collect()
        self.trust.uninstall()
        ep.libDestroy()
        self.ep = None
        if self._log_writer is not None:
            self._log_writer.close()
        self.calllog.flush()
        self.calllog.close()
        log.info("stopped", **self.stats)

    # -- timers and control frames -------------------------------------------
    def later(self, delay_s: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._seq), fn))

    def _tick(self) -> None:
        now = time.monotonic()
        self.health.beat()
        if now >= self._next_expiry:
            self._next_expiry = now + 1.0
            inbound.expire_blocks(self.admission, now)
            periodic.check_rtp(self.table, self.rtp_watch, self.calllog, now)
            self.rtp_guard.poll(self.table.calls.values())
            self._update_gauges()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            try:
                fn()
            except Exception:
                log.exception("timer_failed")
        while True:
            try:
                sess, frame = self.control.get_nowait()
            except queue.Empty:
                break
            self._control(sess, frame)
        self.table.tick()
        for hook in (self.trunks.tick, *self.tick_hooks):
            try:
                hook()
            except Exception:
                log.exception("tick_hook_failed")
        self.table.reap()

    def _update_gauges(self) -> None:
        self.metrics.set_active(self.table.by_direction_and_trunk())
        self.metrics.blocked_sources.set(self.admission.blocked_count)
        regs = periodic.registrations(self.cfg, self.trunks.regs)
        for name, up in regs.items():
            self.metrics.set_registration(name, up)
        self.registrations = regs  # replaced whole: the HTTP thread reads a snapshot

    def _control(self, sess: Session, frame: Frame) -> None:
        call = self.table.get(sess.call_id)
        if isinstance(frame, TranscriptLine):
            self.calllog.add_event(sess.call_id, frame.start_ms, f"say:{frame.speaker}", frame.text)
            self.records.transcript(sess.call_id, frame.speaker, frame.start_ms, frame.end_ms,
                                    frame.text)
        elif isinstance(frame, HangupRequest) and call is not None:
            call.hangup_reason = call.hangup_reason or frame.reason
            call.log.info("hangup_requested", reason=frame.reason)
            self.calllog.add_event(call.id, call.t_ms(), "hangup_request", frame.reason)
            call.pending_action = AfterPlayout("hangup")  # a hangup overrides a pending transfer
        elif isinstance(frame, Interrupt):
            self.calllog.add_event(sess.call_id, frame.t_ms, "barge_in", "")
            log.info("barge_in", call_id=sess.call_id, t_ms=frame.t_ms)
        elif isinstance(frame, TransferRequest) and call is not None:
            if call.pending_action is None or call.pending_action.action != "hangup":
                call.pending_action = AfterPlayout("transfer", frame.target)

    # -- what the rooms call (CallHost, InboundHost, OutcallHost, EndHost, OpsHost) ------
    def open_session(self, call_id: str, route: Route) -> Session:
        return self.engine.session(call_id, self.cfg.rtp.clock_rate,
                                   self.kit.pipeline(route.agent))

    def incoming(self, acc: Any, prm: Any) -> None:
        """onIncomingCall of the inbound account and every trunk account."""
        inbound.incoming(self, acc, prm)

    def registrars(self) -> Mapping[str, str]:
        return self.trunks.sources()

    def _select_account(self, src: str, msg: str, chosen: int) -> int:
        """Endpoint.onSelectAccount: an INVITE's account by the SRTP it needs."""
        return self.inbound_accounts.select(self.cfg, self.registrars(), src, msg, chosen)

    def ended(self, call: SbcCall, status: int, reason: str) -> Outcome | None:
        return end_call(self, call, status, reason)

    def forget(self, call: SbcCall) -> None:
        self.table.forget(call)

    def status(self) -> dict[str, Any]:
        return {"live_calls": len(self.table), "draining": self.draining,
                "stats": dict(self.stats), "trunks": self.trunks.status(),
                "tls": self.tls.status(),
                "calls": self.table.listing()}

    # -- outbound and reload -------------------------------------------------------
    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str:
        """Place one outbound call; returns the call-log id; on_result is called on the
        main thread when the call ends (answered and hung up, or failed). Raises
        OutboundRefused (no INVITE sent) when admission refuses. Main thread only."""
        return place_call(self, req, on_result)

    def hangup(self, call_id: str) -> bool:
        """Hang up the live call `call_id` (its row says hangup by `system`); an outbound
        call still ringing ends as `no_answer`, like at its ring timeout."""
        call = self.table.get(call_id)
        if call is None:
            return False
        call.log.info("hangup_by_operator")
        if call.direction == "outbound" and call.answered_at is None:
            call.timed_out = True
            call.end("system", 487)
        else:
            call.end("system")
        return True

    def outbound_capacity(self, trunk: str) -> tuple[int, int]:
        """(live outbound calls on the trunk, trunk max_calls) for the dialer's pacing."""
        t = self.cfg.trunks.get(trunk)
        return (self.table.live(trunk, "outbound"),
                t.outbound.max_calls if t is not None and t.outbound is not None else 0)

    def reload(self, new: Config) -> dict[str, list[str]]:
        """Apply a validated config without touching live calls (they keep the route
        they started with). The sections read once at start (`RESTART_SECTIONS`: sip,
        rtp, storage, log, http, summary, cluster) keep their running values. Returns
        every change found, by key path (`vio_sbc.config.diff`): `applied`,
        `restart_required`, and the trunk accounts added, modified or removed."""
        old = self.cfg
        self.kit.refresh(new.agents)  # raises (nothing applied) if a recogniser can't be built
        self.kit.warm(new.agents)
        applied, restart = config_diff.split(config_diff.diff(old, new))
        self.cfg = dataclasses.replace(new, **{k: getattr(old, k)
                                               for k in config_diff.RESTART_SECTIONS})
        if self.tls.reload_from(self.ep, old, new):  # new certificate files: installed
            applied += [c for c in restart if c.path.startswith("sip.tls")]
            restart = [c for c in restart if not c.path.startswith("sip.tls")]
            self.cfg = dataclasses.replace(self.cfg, sip=dataclasses.replace(
                old.sip, tls=new.sip.tls))
        self.records.cfg = self.cfg  # recording flags, rates and the platform rate
        accounts = self.trunks.apply(self.cfg)
        scrub = vlog.redactor.scrub  # the new config's secrets (set by apply)
        diff = {"applied": [scrub(str(c)) for c in applied],
                "restart_required": [scrub(str(c)) for c in restart],
                **{f"accounts_{k}": v for k, v in accounts.items()}}
        for hook in self.on_reload:
            diff.update(hook(self.cfg) or {})
        log.info("config_reloaded", source=new.source, live_calls=len(self.table), **diff)
        return diff
