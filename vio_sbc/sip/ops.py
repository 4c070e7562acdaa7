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
from typing import TYPE_CHECKING, Any

import structlog

from vio_sbc.config import load_config
from vio_sbc.control import ControlServer, Request
from vio_sbc.errors import ConfigError
from vio_sbc.sip.outbound import OutboundRefused, OutboundRequest, OutboundResult

if TYPE_CHECKING:
    from vio_sbc.sip.switch import Softswitch

log = structlog.get_logger("vio_sbc.ops")


class Operations:
    def __init__(self, switch: Softswitch, control: ControlServer | None) -> None:
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
        else:
            req.send({"ok": False, "error": f"unknown op {req.op!r}"})

    def status(self) -> dict[str, Any]:
        sw = self.switch
        return {"config": sw.cfg.source, "uptime_s": round(time.time() - self.started, 1),
                "live_calls": len(sw.calls), "draining": sw.draining, "stats": dict(sw.stats),
                "trunks": sw.trunks.status(), "calls": live_calls(sw)}

    def reload(self, trigger: str) -> tuple[list[str], dict[str, list[str]]]:
        source = self.switch.cfg.source
        try:
            new = load_config(source)
        except ConfigError as exc:
            errors = [str(i) for i in exc.issues]
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


def live_calls(sw: Softswitch) -> list[dict[str, Any]]:
    """The live-call table of `vio-sbc status`, oldest first."""
    now = time.monotonic()
    out: list[dict[str, Any]] = []
    for call in sorted(sw.calls.values(), key=lambda c: c.created):
        route = call.route
        out.append({"id": call.id, "direction": call.direction,
                    "trunk": route.trunk.name if route else None,
                    "number": route.number.number if route else None,
                    "agent": route.agent.name if route else None,
                    "state": call.state.state.value, "caller": call.caller,
                    "callee": call.callee, "age_s": round(now - call.created, 1)})
    return out
