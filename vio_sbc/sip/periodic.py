"""What the softswitch checks once a second, and the readiness checks /readyz asks.

- `check_rtp`: end calls that have received no RTP for rtp.inactivity_timeout_s.
- `registrations`: each registering trunk's state, for /metrics and /readyz.
- `transport_ready` / `registrations_ready`: readiness checks, called on the HTTP
  thread with values the main thread replaced whole: they never touch pjsua2.
"""

from __future__ import annotations

from collections.abc import Mapping

from vio_sbc.calllog.store import CallLog
from vio_sbc.config.model import Config
from vio_sbc.rtp.inactivity import InactivityWatch
from vio_sbc.sip.calls import CallTable
from vio_sbc.trunks.registration import Registration, RegStatus


def check_rtp(table: CallTable, watch: InactivityWatch, calllog: CallLog, now: float) -> None:
    """End calls that have received no RTP for the watch's timeout."""
    for key in watch.keys() - table.calls.keys():
        watch.forget(key)
    for call in table:
        idle = watch.observe(call.id, call.rx_packets(), now)
        if idle is None:
            continue
        detail = f"no RTP received for {idle:.0f} s"
        call.log.warning("rtp_timeout", idle_s=round(idle, 1), timeout_s=watch.timeout_s)
        calllog.add_event(call.id, call.t_ms(), "rtp_timeout", detail)
        call.end("system")


def registrations(cfg: Config, regs: Mapping[str, Registration]) -> dict[str, bool]:
    """Trunk -> registered, for every trunk of `cfg` that registers."""
    return {name: reg.status is RegStatus.REGISTERED for name, reg in regs.items()
            if name in cfg.trunks and cfg.trunks[name].register.enabled}


def transport_ready(started: bool, draining: bool, cfg: Config) -> tuple[bool, str]:
    if not started:
        return False, "SIP endpoint not started"
    if draining:
        return False, "draining: not accepting new calls"
    return True, f"{'/'.join(cfg.sip.transports)} on {cfg.sip.listen}"


def registrations_ready(regs: Mapping[str, bool]) -> tuple[bool, str]:
    if not regs:
        return True, "no trunk registers"
    down = sorted(name for name, up in regs.items() if not up)
    if down:
        return False, f"not registered: {', '.join(down)}"
    return True, f"registered: {', '.join(sorted(regs))}"


def engine_ready(lag_s: float, max_lag_ms: int) -> tuple[bool, str]:
    """Ready while the agent engine is less than `max_lag_ms` late."""
    ms = 1000.0 * lag_s
    if ms >= max_lag_ms:
        return False, f"agent engine {ms:.0f} ms late (limit {max_lag_ms} ms)"
    return True, f"agent engine lag {ms:.0f} ms (limit {max_lag_ms} ms)"
