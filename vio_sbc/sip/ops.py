"""What a running server does for `vio-sbc status`, `reload`, `call-out` and SIGHUP.

`Operations` is a tick hook of the `Softswitch`: on the main thread it takes
requests from the control channel (`vio_sbc.control`) and a pending SIGHUP,
and answers them. A reload re-reads the config file the server was started
with; an invalid file keeps the running config and every error is logged and
returned.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from vio_sbc.callcontrol.outbound import OutboundRefused, OutboundRequest, OutboundResult
from vio_sbc.cluster.worker import as_worker, worker_index
from vio_sbc.config import load_config
from vio_sbc.config.loader import UNSET
from vio_sbc.config.model import Config
from vio_sbc.control import ControlServer, Request
from vio_sbc.errors import ConfigError

log = structlog.get_logger("vio_sbc.ops")
_UNSET = UNSET.split("{", 1)[0]  # "environment variable "
SERVER_ENV = (" in the server's environment (the one `vio-sbc run` was started with: a "
              "reload cannot see variables set since; restart the server with it set)")


class OpsHost(Protocol):
    """What the operations need of the switch (main thread)."""

    cfg: Config

    def status(self) -> dict[str, Any]:
        """Live calls, draining, counters, trunks and the live-call table."""

    def reload(self, new: Config) -> dict[str, list[str]]: ...

    def place_call(self, req: OutboundRequest,
                   on_result: Callable[[OutboundResult], None] | None = None) -> str: ...

    def hangup(self, call_id: str) -> bool:
        """Hang up a live call (False: no such call)."""


class Operations:
    def __init__(self, switch: OpsHost, control: ControlServer | None) -> None:
        self.switch = switch
        self.control = control
        self.reload_requested = False  # set by the SIGHUP handler
        self.started = time.time()

    def __call__(self) -> None:
        if self.reload_requested:
            self.reload_requested = False
            self.reload("SIGHUP")
        if self.control is None:
            return
        for req in self.control.pending():
            try:
                self.handle(req)
            except Exception as exc:
                log.exception("control_request_failed", op=req.op)
                req.send({"ok": False, "error": f"internal error: {exc}"})

    def handle(self, req: Request) -> None:
        if req.op == "status":
            req.send({"ok": True, **self.status()})
        elif req.op == "reload":
            errors, diff = self.reload("control")
            req.send({"ok": not errors, "errors": errors, "changes": diff})
        elif req.op == "call_out":
            self.call_out(req)
        elif req.op == "hangup":
            found = self.switch.hangup(str(req.args.get("call_id", "")))
            req.send({"ok": found} if found else {"ok": False, "error": "no such live call"})
        else:
            req.send({"ok": False, "error": f"unknown op {req.op!r}"})

    def status(self) -> dict[str, Any]:
        sw = self.switch
        return {"config": sw.cfg.source, "uptime_s": round(time.time() - self.started, 1),
                **sw.status()}

    def reload(self, trigger: str) -> tuple[list[str], dict[str, list[str]]]:
        source = self.switch.cfg.source
        worker = self.switch.cfg.cluster.worker if self.switch.cfg.cluster else None
        try:
            new = load_config(source)
            if worker is not None:  # a cluster worker re-applies its own view
                new = as_worker(new, worker_index(worker))
        except ValueError as exc:  # the reloaded cluster section has no such worker
            log.error("reload_failed", trigger=trigger, source=source, errors=[str(exc)])
            return [str(exc)], {}
        except ConfigError as exc:
            errors = [str(i) + SERVER_ENV if _UNSET in i.message else str(i)
                      for i in exc.issues]
            log.error("reload_failed", trigger=trigger, source=source, errors=errors)
            return errors, {}
        for w in new.warnings:
            log.warning("config_warning", warning=str(w))
        return [], self.switch.reload(new)

    def call_out(self, req: Request) -> None:
        a = req.args
        try:
            out = OutboundRequest(
                from_number=str(a["from"]), to_number=str(a["to"]),
                agent=str(a["agent"]) if a.get("agent") else None,
                variables={str(k): str(v) for k, v in (a.get("variables") or {}).items()},
                job_id=str(a["job_id"]) if a.get("job_id") else None,
                ring_timeout_s=float(a.get("ring_timeout_s", 45.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            req.send({"ok": False, "error": f"bad call_out request: {exc}"})
            return

        def done(result: OutboundResult) -> None:
            req.send({"ok": True, "result": dataclasses.asdict(result)})

        try:
            call_id = self.switch.place_call(out, done)
        except OutboundRefused as ref:
            log.warning("call_out_refused", from_number=out.from_number, status=ref.status,
                        detail=ref.detail)
            req.send({"ok": False, "refused": True, "status": ref.status, "reason": ref.reason,
                      "error": ref.detail})
            return
        req.send({"ok": True, "call_id": call_id}, final=False)
