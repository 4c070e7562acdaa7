"""The softswitch: pjsua2 endpoint, transports, the inbound account and main loop.

All SIP work happens on the thread that calls `run()` (threadCnt=0,
mainThreadOnly): pjsua2 callbacks, timers, call-log bookkeeping and control
frames from the agent engine. Media runs on the bridge's clock thread.
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import itertools
import queue
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj
import structlog

from vio_sbc.admission import Admission, Decision
from vio_sbc.agent.engine import Engine, PipelineFactory, Session
from vio_sbc.agent.frames import Frame, HangupRequest, Interrupt, TranscriptLine, TransferRequest
from vio_sbc.agent.latency import turn_latencies
from vio_sbc.agent.pipeline import AgentKit
from vio_sbc.agent.processor import Processor
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.agent.turns import TurnParams, VadTurnDetector
from vio_sbc.agent.wsagent import WebSocketAgent, ws_options
from vio_sbc.agent.wsbridge import WsBridge
from vio_sbc.callstate import Event
from vio_sbc.config.model import Config
from vio_sbc.errors import SipRefusal, VioError
from vio_sbc.log import RateLimiter
from vio_sbc.ops.http import Health, db_writable
from vio_sbc.ops.metrics import Metrics, reject_reason
from vio_sbc.records import CallRecords, EndFacts
from vio_sbc.routing import (
    Route,
    StrangerRefusal,
    request_uri_user,
    route_inbound,
    trunks_for_source,
)
from vio_sbc.rtp.guard import RtpGuard
from vio_sbc.rtp.inactivity import InactivityWatch
from vio_sbc.sip.call import SbcCall
from vio_sbc.sip.limits import Limits, check_limits, effective_limits
from vio_sbc.sip.message import (
    SipParseError,
    addr_uri,
    datagram_length_problem,
    parse_request,
    source_ip,
)
from vio_sbc.sip.outbound import OutboundRequest, OutboundResult
from vio_sbc.sip.outcall import place_call
from vio_sbc.sip.pjlog import StructlogWriter, stdout_to_stderr
from vio_sbc.sip.stats import MediaStats
from vio_sbc.sip.trunkside import TrunkManager
from vio_sbc.sip.xfer import start_transfer
from vio_sbc.store.calllog import CallLog
from vio_sbc.summary.extractive import CallFacts
from vio_sbc.trunks.registration import RegStatus

if TYPE_CHECKING:
    from vio_sbc.dialer.engine import Dialer

log = structlog.get_logger("vio_sbc.sip")


class StartupError(VioError):
    pass


class InboundAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, switch: Softswitch) -> None:
        super().__init__()
        self.switch = switch

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self.switch.incoming(self, prm)
        except Exception:
            log.exception("incoming_call_failed")


class Softswitch:
    def __init__(self, cfg: Config, calllog: CallLog | None = None, *,
                 standalone: bool = False) -> None:
        """`standalone`: a one-off endpoint (`vio-sbc call-out` with no server running):
        no trunk registration and no OPTIONS pings."""
        self.cfg = cfg
        self.calllog = calllog or CallLog(Path(cfg.storage.dir) / "vio.db")
        self.records = CallRecords(cfg, self.calllog)
        self.tts = EspeakTts()
        self._kit: AgentKit | None = None  # built by start(): recognisers checked there
        self.control: queue.SimpleQueue[tuple[Session, Frame]] = queue.SimpleQueue()
        self.engine = Engine(lambda s, f: self.control.put((s, f)))
        self.calls: dict[str, SbcCall] = {}
        self.hangup_after_playout: dict[str, SbcCall] = {}
        self.transfer_after_playout: dict[str, tuple[SbcCall, str]] = {}
        self.ws_bridge = WsBridge()  # its thread starts with the first websocket call
        self._reap: list[SbcCall] = []
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.draining = False
        self.stranger_log = RateLimiter(burst=3, window=60.0)
        self.ep: Any = None
        self._log_writer: StructlogWriter | None = None
        self.acc: InboundAccount | None = None
        self.limits: Limits | None = None
        self.stats = {"invites": 0, "answered": 0, "refused": 0, "strangers": 0, "shed": 0,
                      "malformed": 0}
        self.malformed_log = RateLimiter(burst=3, window=60.0)
        self.admission = Admission(cfg.sip.admission, cfg.sip.max_cps, time.monotonic())
        self._next_expiry = 0.0
        self.rtp_watch = InactivityWatch(cfg.rtp.inactivity_timeout_s)
        self.metrics = Metrics()
        self.rtp_guard = RtpGuard(self.metrics.registry)  # rtp.source_check
        self.health = Health()
        self.health.add_check("sip_transport", self._transport_ready)
        self.health.add_check("call_log", db_writable(self.calllog.path))
        self._registrations: dict[str, bool] = {}  # trunk -> registered (main thread writes)
        self.health.add_check("trunk_registrations", self._registrations_ready)
        self.media_stats = MediaStats()
        self.trunks = TrunkManager(self, register=not standalone, ping=not standalone)
        self.tick_hooks: list[Callable[[], None]] = []  # run on the main thread every tick
        self.dialer: Dialer | None = None  # set by `vio-sbc run` when dialer.enabled

    # -- life cycle --------------------------------------------------------
    @property
    def kit(self) -> AgentKit:
        assert self._kit is not None, "Softswitch.start() builds the agent kit"
        return self._kit

    def start(self) -> None:
        cfg = self.cfg
        try:
            self._kit = AgentKit(cfg.agents, cfg.rtp.clock_rate, self.tts)
        except VioError as exc:  # e.g. an intent phrase the recogniser cannot know
            raise StartupError(f"agents: {exc}") from exc
        ep = pj.Endpoint()
        with stdout_to_stderr():
            ep.libCreate()
        self.ep = ep
        self._log_writer = StructlogWriter(trace=cfg.log.sip_trace)
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
        ec.logConfig.writer = self._log_writer
        ec.logConfig.decor = 0
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
        host, port = cfg.sip.listen.host, cfg.sip.listen.port
        for kind in cfg.sip.transports:
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
        ep.libStart()
        ep.audDevManager().setNullDev()
        self._set_codecs()
        self.acc = InboundAccount(self)
        self.acc.create(self._account_config(), True)
        self.trunks.apply(cfg)
        prompts = self.kit.warm(cfg.agents)  # every scripted prompt cached before any call
        for agent in cfg.agents.values():
            if agent.kind == "websocket":
                self.tts.render(ws_options(agent)[3], cfg.rtp.clock_rate, agent.voice)
        self.kit.start()
        self.engine.start()
        log.info("agents_ready", prompts=prompts, recognisers=sorted(
            name for name, stt in self.kit.recognisers.items() if stt is not None))
        self.records.start()
        log.info("listening", sip=str(cfg.sip.listen), transports=list(cfg.sip.transports),
                 rtp_ports=f"{cfg.rtp.port_min}-{cfg.rtp.port_max}")

    def _account_config(self) -> Any:
        cfg = self.cfg
        ac = pj.AccountConfig()
        host = cfg.sip.public_address or cfg.sip.listen.host
        ac.idUri = f"sip:vio@{host}:{cfg.sip.listen.port}"
        ac.mediaConfig.transportConfig.port = cfg.rtp.port_min
        ac.mediaConfig.transportConfig.portRange = cfg.rtp.port_max - cfg.rtp.port_min
        ac.mediaConfig.transportConfig.boundAddress = cfg.sip.listen.host
        if cfg.sip.public_address:
            ac.mediaConfig.transportConfig.publicAddress = cfg.sip.public_address
        ac.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
        ac.natConfig.iceEnabled = False
        ac.natConfig.sdpNatRewriteUse = 0
        ac.natConfig.contactRewriteUse = 0
        ac.natConfig.viaRewriteUse = 0
        ac.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        return ac

    def _set_codecs(self) -> None:
        wanted = [c.upper() for c in self.cfg.rtp.codecs]
        for ci in self.ep.codecEnum2():
            name = ci.codecId.split("/")[0].upper()
            prio = 255 - wanted.index(name) if name in wanted else 0
            self.ep.codecSetPriority(ci.codecId, prio)

    def run(self, should_stop: Callable[[], bool], grace_s: float = 30.0) -> None:
        """Serve until `should_stop()`; then drain (503 to new calls) up to `grace_s`."""
        drain_deadline: float | None = None
        while True:
            self.ep.libHandleEvents(10)
            self._tick()
            self.media_stats.maybe_log(self)
            if drain_deadline is None and should_stop():
                self.draining = True
                if self.dialer is not None:
                    self.dialer.drain()
                drain_deadline = time.monotonic() + grace_s
                log.info("draining", live_calls=len(self.calls), grace_s=grace_s)
            if drain_deadline is not None:
                if not self.calls:
                    break
                if time.monotonic() >= drain_deadline:
                    log.info("grace_expired", live_calls=len(self.calls))
                    break

    def shutdown(self) -> None:
        ep = self.ep
        if ep is None:
            return
        for call in list(self.calls.values()):
            call.hangup_side = call.hangup_side or "system"
        ep.hangupAllCalls()
        end = time.monotonic() + 1.0
        while time.monotonic() < end and self.calls:
            ep.libHandleEvents(10)
            self._tick()
        for call in list(self.calls.values()):  # no answer to our BYE: close the rows anyway
            self.call_ended(call, 500, "shutdown")
        self._tick()
        ep.audDevManager().setNoDev()
        self._timers.clear()  # timers may hold calls: none may outlive libDestroy
        self.engine.stop()
        if self._kit is not None:
            self._kit.stop()
        self.ws_bridge.stop()
        self.records.stop()  # finalise recordings, finish queued summaries
        self._reap.clear()
        self.calls.clear()
        self.trunks.shutdown()
        if self.acc is not None:
            self.acc.shutdown()
            self.acc = None
        gc.collect()
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
            self._expire_blocks(now)
            self._check_rtp(now)
            self.rtp_guard.poll(self.calls.values())
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
        for call in self.calls.values():
            call.sync_tx()
        for cid, call in list(self.hangup_after_playout.items()):
            if call.session is None or not call.session.playing:
                del self.hangup_after_playout[cid]
                call.end("agent")
        for cid, (call, target) in list(self.transfer_after_playout.items()):
            if call.session is None or not call.session.playing:
                del self.transfer_after_playout[cid]
                start_transfer(call, target)
        for hook in (self.trunks.tick, *self.tick_hooks):
            try:
                hook()
            except Exception:
                log.exception("tick_hook_failed")
        if self.dialer is not None:
            self.dialer.tick(time.time())
        if self._reap:
            reap, self._reap = self._reap, []
            for call in reap:
                call.release_media()
            del reap

    def _control(self, sess: Session, frame: Frame) -> None:
        call = self.calls.get(sess.call_id)
        if isinstance(frame, TranscriptLine):
            self.calllog.add_event(sess.call_id, frame.start_ms, f"say:{frame.speaker}", frame.text)
            self.records.transcript(sess.call_id, frame.speaker, frame.start_ms, frame.end_ms,
                                    frame.text)
        elif isinstance(frame, HangupRequest) and call is not None:
            call.hangup_reason = call.hangup_reason or frame.reason
            call.log.info("hangup_requested", reason=frame.reason)
            self.calllog.add_event(call.id, call.t_ms(), "hangup_request", frame.reason)
            self.hangup_after_playout[call.id] = call
        elif isinstance(frame, Interrupt):
            self.calllog.add_event(sess.call_id, frame.t_ms, "barge_in", "")
            log.info("barge_in", call_id=sess.call_id, t_ms=frame.t_ms)
        elif isinstance(frame, TransferRequest) and call is not None:
            self.transfer_after_playout[call.id] = (call, frame.target)

    # -- calls ---------------------------------------------------------------
    def build_pipeline(self, route: Route) -> Sequence[Processor] | PipelineFactory:
        agent = route.agent
        if agent.kind == "websocket":  # the remote agent does its own barge-in (`clear`)
            ep = agent.endpointing
            params = TurnParams(start_ms=ep.start_ms, stop_ms=ep.stop_ms,
                                aggressiveness=ep.aggressiveness)
            return [VadTurnDetector(params, ep.frame_ms),
                    WebSocketAgent(agent, self.tts, self.ws_bridge)]
        return self.kit.pipeline(agent)

    # -- outbound and reload (vio_sbc/sip/outcall.py, vio_sbc/sip/trunkside.py) ----------
    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str:
        """Place one outbound call; returns the call-log id; on_result is called on the
        main thread when the call ends (answered and hung up, or failed). Raises
        OutboundRefused (no INVITE sent) when admission refuses. Main thread only."""
        return place_call(self, req, on_result)

    def outbound_capacity(self, trunk: str) -> tuple[int, int]:
        """(live outbound calls on the trunk, trunk max_calls) for the dialer's pacing."""
        t = self.cfg.trunks.get(trunk)
        return (self.trunks.live_calls(trunk, "outbound"),
                t.outbound.max_calls if t is not None and t.outbound is not None else 0)

    def reload(self, new: Config) -> dict[str, list[str]]:
        """Apply a validated config without touching live calls (they keep the route
        they started with). sip/rtp/storage/log need a restart and are kept."""
        old = self.cfg
        self.kit.refresh(new.agents)  # raises (nothing applied) if a recogniser can't be built
        self.kit.warm(new.agents)
        kept = [k for k in ("sip", "rtp", "storage", "log") if getattr(old, k) != getattr(new, k)]
        self.cfg = dataclasses.replace(new, sip=old.sip, rtp=old.rtp, storage=old.storage,
                                       log=old.log)
        diff = self.trunks.apply(self.cfg)
        numbers = sorted(n for n in {*old.numbers, *new.numbers}
                         if old.numbers.get(n) != new.numbers.get(n))
        diff = {**diff, "numbers": numbers, "restart_required": kept}
        log.info("config_reloaded", source=new.source, live_calls=len(self.calls), **diff)
        return diff

    def incoming(self, acc: InboundAccount, prm: Any) -> None:
        self.stats["invites"] += 1
        rdata = prm.rdata
        src = source_ip(rdata.srcAddress)
        try:
            req = parse_request(rdata.wholeMsg)
        except SipParseError as exc:
            call = SbcCall(self, acc, prm.callId, source=src, transport="udp", sip_call_id="",
                           caller="", callee="")
            self._refuse(call, 400, "Bad Request")
            log.warning("invite_unparseable", source=src, error=str(exc))
            return
        call = SbcCall(
            self, acc, prm.callId, source=src, transport=req.transport,
            sip_call_id=req.call_id, caller=addr_uri(req.header("from") or ""),
            callee=req.uri,
        )
        bad_length = (datagram_length_problem(rdata.wholeMsg, req.headers)
                      if req.transport == "udp" else None)
        if bad_length:
            self.stats["malformed"] += 1
            if self.malformed_log.allow(src)[0]:
                log.warning("invite_malformed", source=src, error=bad_length)
            self.metrics.reject("malformed")
            self._refuse(call, 400, "Bad Request")
            return
        now = time.monotonic()
        trusted = bool(trunks_for_source(self.cfg, src, self.trunks.sources()))
        decision = self.admission.check_source(src, now, trusted)
        if not decision.admitted:
            self._shed_source(call, src, trusted, decision)
            return
        try:
            if self.draining:
                raise SipRefusal(503, "draining: not accepting new calls")
            if len(self.calls) >= self.cfg.sip.max_calls:
                raise SipRefusal(503, f"sip.max_calls ({self.cfg.sip.max_calls}) reached")
            route = route_inbound(self.cfg, src, req.uri, self.trunks.sources())
            over = self.admission.take_call(now)
            if not over.admitted:
                raise SipRefusal(503, f"sip.max_cps ({self.cfg.sip.max_cps:g}) exceeded",
                                 retry_after=over.retry_after)
        except StrangerRefusal as ref:
            self.stats["strangers"] += 1
            self.metrics.reject("stranger")
            self.admission.failed(src, now)
            self._log_blocks()
            ok, suppressed = self.stranger_log.allow(src)
            if ok:
                log.warning("stranger_refused", source=src, request_uri=req.uri,
                            status=ref.status, suppressed=suppressed)
            self._refuse(call, ref.status, ref.reason)
            return
        except SipRefusal as ref:
            self.stats["refused"] += 1
            self.metrics.reject(reject_reason(ref.status, ref.detail))
            self.metrics.call_finished("refused")
            trunks = trunks_for_source(self.cfg, src, self.trunks.sources())
            call.logged = True
            self.calllog.open_call(self._row(call, trunk=trunks[0].name if trunks else None,
                                             status="refused"))
            end = self.records.finish(EndFacts(
                call.id, "inbound", trunks[0] if trunks else None,
                request_uri_user(call.callee), False, 0.0,
                CallFacts("refused", final_status=ref.status, final_reason=ref.reason)))
            self.calllog.update_call(call.id, final_status=ref.status, final_reason=ref.reason,
                                     ended_at=time.time(), **end)
            call.log.info("call_refused", source=src, request_uri=req.uri, status=ref.status,
                          detail=ref.detail)
            headers = ({"Retry-After": str(ref.retry_after or 30)} if ref.status == 503
                       else None)
            self._refuse(call, ref.status, ref.reason, headers)
            return
        self.calls[call.id] = call
        call.route = route
        call.log = call.log.bind(trunk=route.trunk.name, number=route.number.number,
                                 agent=route.agent.name)
        call.logged = True
        self.calllog.open_call(self._row(call, trunk=route.trunk.name, status="received",
                                         number=route.number.number, agent=route.agent.name,
                                         default_agent=int(route.default_agent)))
        self.records.opened(call.id)
        call.log.info("call_received", source=src, caller=call.caller,
                      default_agent=route.default_agent, transport=req.transport)
        self.stats["answered"] += 1
        ring = route.number.ring_seconds
        if ring is None:
            ring = route.trunk.ring_seconds
        if ring > 0:
            call.ring()
            self.later(ring, call.accept)
        else:
            call.accept()

    def _shed_source(self, call: SbcCall, src: str, trusted: bool, decision: Decision) -> None:
        """A source over its rate or blocked: no route lookup, no call row, no log line
        per request. Strangers get the same 403 as always (no hint); a trunk gets 503
        with Retry-After."""
        self.stats["shed"] += 1
        self.metrics.reject(decision.verdict.value)
        self._log_blocks()
        if trusted:
            self._refuse(call, 503, "Service Unavailable",
                         {"Retry-After": str(decision.retry_after)})
        else:
            self._refuse(call, 403, "Forbidden")

    def _log_blocks(self) -> None:
        for b in self.admission.drain_started():
            log.warning("source_blocked", source=b.source, reason=b.reason,
                        block_s=self.cfg.sip.admission.block_s)

    def _expire_blocks(self, now: float) -> None:
        for b in self.admission.expire(now):
            log.info("source_unblocked", source=b.source, reason=b.reason,
                     refused_while_blocked=b.refused)

    def _transport_ready(self) -> tuple[bool, str]:
        """For /readyz (HTTP thread): reads two attributes only."""
        if self.ep is None:
            return False, "SIP endpoint not started"
        if self.draining:
            return False, "draining: not accepting new calls"
        return True, f"{'/'.join(self.cfg.sip.transports)} on {self.cfg.sip.listen}"

    def _update_gauges(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for call in self.calls.values():
            key = ("inbound", call.route.trunk.name if call.route else "")
            counts[key] = counts.get(key, 0) + 1
        self.metrics.set_active(counts)
        self.metrics.blocked_sources.set(self.admission.blocked_count)
        regs = {name: reg.status is RegStatus.REGISTERED
                for name, reg in self.trunks.regs.items()
                if name in self.cfg.trunks and self.cfg.trunks[name].register.enabled}
        for name, up in regs.items():
            self.metrics.set_registration(name, up)
        self._registrations = regs  # replaced whole: the HTTP thread reads a snapshot

    def _registrations_ready(self) -> tuple[bool, str]:
        regs = self._registrations
        if not regs:
            return True, "no trunk registers"
        down = sorted(name for name, up in regs.items() if not up)
        if down:
            return False, f"not registered: {', '.join(down)}"
        return True, f"registered: {', '.join(sorted(regs))}"

    def _check_rtp(self, now: float) -> None:
        """End calls that have received no RTP for rtp.inactivity_timeout_s."""
        for key in self.rtp_watch.keys() - self.calls.keys():
            self.rtp_watch.forget(key)
        for call in list(self.calls.values()):
            idle = self.rtp_watch.observe(call.id, call.rx_packets(), now)
            if idle is None:
                continue
            detail = f"no RTP received for {idle:.0f} s"
            call.log.warning("rtp_timeout", idle_s=round(idle, 1),
                             timeout_s=self.cfg.rtp.inactivity_timeout_s)
            self.calllog.add_event(call.id, call._t_ms(), "rtp_timeout", detail)
            call.end("system")

    def _refuse(self, call: SbcCall, status: int, reason: str,
                headers: dict[str, str] | None = None) -> None:
        """Final answer from inside onIncomingCall: pjsua frees the call slot at once
        and reports no state change, so the object is only kept until the next tick."""
        call.state.fire(Event.REFUSE)
        try:
            call.respond(status, reason, headers)
        finally:
            self._reap.append(call)

    def _row(self, call: SbcCall, **fields: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": call.id, "sip_call_id": call.sip_call_id, "direction": "inbound",
            "caller": call.caller, "callee": call.callee, "source": call.source,
            "transport": call.transport, "received_at": time.time(),
        }
        row.update(fields)
        return row

    def call_ended(self, call: SbcCall, status: int, reason: str) -> None:
        self.calls.pop(call.id, None)
        self.hangup_after_playout.pop(call.id, None)
        self.transfer_after_playout.pop(call.id, None)
        now = time.time()
        if call.logged:
            fields: dict[str, Any] = {"ended_at": now, "hangup_side": call.hangup_side}
            st = call.state.state.value
            if call.state.was_answered:
                fields.update(status="ended", final_status=200, final_reason="OK")
                if call.answered_at:
                    fields["duration_s"] = round(now - call.answered_at, 3)
            elif st in ("refused", "cancelled"):
                fields.update(status=st)
                if status:
                    fields.update(final_status=status, final_reason=reason)
            if call.session is not None:
                s = call.session
                fields.update(rx_frames=s.rx_frames, tx_frames=s.tx_frames,
                              tx_audio_frames=s.tx_audio_frames,
                              rx_voiced_frames=_voiced(s))
            fields.update(call.end_fields)  # e.g. an outbound call's outcome (outcall.py)
            fields.update(self._records_end(call, status, reason, fields))
            self.calllog.update_call(call.id, **fields)
            self.metrics.call_finished(str(fields.get("status") or st))
            if call.session is not None and fields.get("duration_s"):
                self.metrics.frames(call.session.rx_frames, float(fields["duration_s"]))
            call.log.info(
                "call_ended", status=fields.get("status"), hangup_side=call.hangup_side,
                duration_s=fields.get("duration_s"), rx_frames=fields.get("rx_frames"),
                tx_audio_frames=fields.get("tx_audio_frames"),
                turn_latency_ms=turn_latencies(call.session.turn_ends, call.session.burst_starts)
                if call.session is not None else [],
                **self.rtp_guard.ended(call, self.calllog),
            )
        self._reap.append(call)

    def _records_end(self, call: SbcCall, status: int, reason: str,
                     fields: dict[str, Any]) -> dict[str, Any]:
        """Cost, summary and recording close-out for the call row. The rate prefix is
        matched on the destination: our number inbound, the callee outbound."""
        route, out = call.route, call.direction == "outbound"
        answered = call.state.was_answered
        st = fields.get("status") or call.state.state.value
        fields_status: tuple[int | None, str | None] = (
            fields.get("final_status"), fields.get("final_reason"))
        if out and not answered:
            st, fields_status = "unanswered", (status, reason)
        xfer = call.transfer.summary if call.transfer and call.transfer.outcome else None
        facts = CallFacts(st, call.hangup_side, call.hangup_reason, xfer, *fields_status,
                          duration_s=fields.get("duration_s"))
        number = call.callee if out else (route.number.number if route else call.callee)
        return self.records.finish(EndFacts(
            call.id, call.direction, route.trunk if route else None, number, answered,
            float(fields.get("duration_s") or 0.0), facts))


def _voiced(s: Session) -> int:
    for p in s.pipeline:
        if isinstance(p, VadTurnDetector):
            return p.voiced_frames
    return 0
