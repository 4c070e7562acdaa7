"""`vio-sbc run`: the server's composition root.

Builds the softswitch from a validated config, wires what plugs into it (control
socket and SIGHUP, crash recovery of the call log, the dialer, the HTTP endpoint),
runs the main loop and shuts everything down in order.
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from vio_sbc.cli.common import EXIT_INVALID, load_or_report

if TYPE_CHECKING:
    from vio_sbc.config.model import Config
    from vio_sbc.control import ControlServer
    from vio_sbc.dialer.engine import Dialer
    from vio_sbc.ops.http import WebApp
    from vio_sbc.sip.switch import Softswitch


def cmd_run(args: argparse.Namespace) -> int:
    from vio_sbc import log as vlog

    cfg = load_or_report(args.config, "invalid, not starting")
    if cfg is None:
        return EXIT_INVALID
    if getattr(args, "worker", None) is not None:  # one worker of `vio-sbc cluster run`
        from vio_sbc.cluster.worker import as_worker

        try:
            cfg = as_worker(cfg, args.worker)
        except ValueError as exc:
            print(f"{args.config}: --worker {args.worker}: {exc}", file=sys.stderr)
            return EXIT_INVALID
    vlog.redactor.set(cfg.secrets)
    vlog.configure(cfg.log.level, fmt=cfg.log.format)
    import structlog

    from vio_sbc.sip.switch import Softswitch, StartupError

    logger = structlog.get_logger("vio_sbc")
    received: list[str] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        # No logging here: the handler runs between bytecodes of the main thread, which
        # may be inside the log writer's lock (deadlock seen: SIGTERM ignored for good).
        received.append(signal.Signals(signum).name)

    def _should_stop() -> bool:
        if received and len(received) != stop_logged[0]:
            stop_logged[0] = len(received)
            logger.info("signal", signal=received[-1])
        return bool(received)

    stop_logged = [0]

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    from vio_sbc.fileperm import loose_files, private_dir

    private_dir(cfg.storage.dir)  # 0700 when we create it, whatever the umask
    if loose := loose_files(cfg.storage.dir):
        logger.warning("storage_permissions_loose", entries=len(loose),
                       first=[str(e) for e in loose[:5]], storage=cfg.storage.dir)
    switch = Softswitch(cfg)
    from vio_sbc.control import ControlError, ControlServer, socket_path
    from vio_sbc.sip.ops import Operations

    ctl = ControlServer(socket_path(cfg.storage.dir))
    try:
        ctl.start()
    except (ControlError, OSError) as exc:
        print(f"vio-sbc: control socket: {exc}", file=sys.stderr)
        return 1
    ops = Operations(switch, ctl)
    switch.tick_hooks.append(ops)

    def _on_hup(signum: int, _frame: FrameType | None) -> None:
        ops.reload_requested = True  # applied by the main loop, never inside the handler

    signal.signal(signal.SIGHUP, _on_hup)
    for warning in cfg.warnings:
        logger.warning("config_warning", warning=str(warning))
    if switch.calllog.interrupted_on_start:
        logger.warning("calls_interrupted", count=switch.calllog.interrupted_on_start)
        from vio_sbc.calllog.recovery import recover_interrupted

        recover_interrupted(cfg, switch.calllog)  # their cost and summary (docs/calllog.md)
    try:
        switch.start()
    except StartupError as exc:
        logger.error("startup_failed", error=str(exc))
        print(f"vio-sbc: {exc}", file=sys.stderr)
        ctl.stop()
        return 1
    dialers = DialerSwitch(switch)
    switch.on_reload.append(dialers.follow)
    if cfg.dialer.enabled:
        dialers.start(cfg)
    http_ops = None
    if cfg.http is not None:
        from vio_sbc.ops.http import OpsServer

        try:
            http_ops = OpsServer(cfg.http.listen.host, cfg.http.listen.port, switch.health,
                                 switch.metrics, web_console(switch, ctl, cfg))
        except OSError as exc:
            switch.shutdown()
            ctl.stop()
            dialers.close()
            print(f"vio-sbc: cannot listen on http {cfg.http.listen}: {exc.strerror}",
                  file=sys.stderr)
            return 1
        http_ops.start()
        logger.info("http_listening", http=str(cfg.http.listen),
                    console=f"http://{cfg.http.listen}/" if cfg.http.console else None)
    logger.info("ready", **ready_fields(cfg, args.config))
    try:
        switch.run(_should_stop, grace_s=args.grace)
    finally:
        if http_ops is not None:
            http_ops.stop()
        switch.shutdown()
        ctl.stop()
        dialers.close()
    return 0


def web_console(switch: Softswitch, ctl: ControlServer, cfg: Config) -> WebApp | None:
    """The console app on the HTTP endpoint when `http.console` is set: it reads the
    config in force and asks the main thread (status, reload) over the control queue."""
    if cfg.http is None or cfg.http.console is None or cfg.http.console.token is None:
        return None
    from vio_sbc.console.app import Console
    from vio_sbc.control import Request

    class Host:
        def config(self) -> Config:
            return switch.cfg

        def request(self, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
            req = Request(op=op, args=dict(args))
            ctl.requests.put(req)
            try:
                return req.replies.get(timeout=15.0)
            except queue.Empty:
                return None

    console = Console(Host(), cfg.http.console.token)

    def app(method: str, target: str, headers: dict[str, str],
            body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        r = console.handle(method, target, headers, body)
        return r.status, r.ctype, r.headers, r.body

    return app


def ready_fields(cfg: Config, config: str) -> dict[str, str]:
    """The `ready` line: where the server listens and how to place a test call."""
    out = {"sip": f"{cfg.sip.listen} ({'/'.join(cfg.sip.transports)})"}
    if cfg.http is not None:
        out["http"] = f"http://{cfg.http.listen}"
        if cfg.http.console is not None:
            out["console"] = f"http://{cfg.http.listen}/ (token: http.console.token)"
    inbound = [n for n in sorted(cfg.numbers.values(), key=lambda n: n.number)
               if n.direction.allows_inbound and cfg.trunks.get(n.trunk) is not None
               and cfg.trunks[n.trunk].inbound.allow]
    if inbound:
        num = inbound[0]
        source = str(cfg.trunks[num.trunk].inbound.allow[0].network_address)
        out["test_call"] = (f"cd sipp_scenarios && sipp {cfg.sip.listen} -sf "
                            f"uac_speech_pcmu.xml -s {num.number} -i {source} -mi {source} "
                            f"-m 1; then: vio-sbc calls -c {config} --limit 1")
    else:
        out["test_call"] = ("no number accepts inbound calls from a trunk with "
                            "inbound.allow: add one (docs/trunks.md)")
    return out


class DialerSwitch:
    """The dialer of `vio-sbc run`, which a reload turns on and off (`dialer.enabled`).

    It places calls through the switch (an `Originator`), is ticked by its main loop,
    stops claiming when the switch drains and follows its reloads; its queue depth is
    a gauge read at scrape time. Turned off, it stops claiming and the calls in
    progress finish; turned on again, it claims again."""

    def __init__(self, switch: Softswitch) -> None:
        self.switch = switch
        self.dialer: Dialer | None = None
        self.cfg: Config | None = None

    def start(self, cfg: Config) -> None:
        import time

        from vio_sbc.dialer.api import queue_depth, start_dialer

        self.cfg = cfg
        dialer = self.dialer = start_dialer(self.switch, cfg, self.switch.calllog.get)
        self.switch.tick_hooks.append(lambda: dialer.tick(time.time()))
        self.switch.on_drain.append(dialer.drain)
        self.switch.metrics.gauge_fn("vio_dialer_queue_depth",
                                     "Dialer jobs waiting to be placed",
                                     lambda: queue_depth(self.cfg or cfg))

    def follow(self, new: Config) -> dict[str, list[str]]:
        from vio_sbc.dialer.api import follow

        self.cfg = new
        if self.dialer is None:
            if not new.dialer.enabled:
                return {}
            self.start(new)
            return {"dialer": ["started"]}
        self.dialer.settings = new.dialer
        follow(self.dialer, new)
        if new.dialer.enabled == (not self.dialer.draining) or self.switch.draining:
            return {}
        if new.dialer.enabled:
            self.dialer.draining = False
            return {"dialer": ["resumed"]}
        self.dialer.drain()
        return {"dialer": ["stopped (calls in progress finish)"]}

    def close(self) -> None:
        if self.dialer is not None:
            self.dialer.close()
