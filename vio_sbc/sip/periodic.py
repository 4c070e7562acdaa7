"""What the softswitch checks once a second and what /readyz asks it.

- `check_rtp`: end calls that have received no RTP for rtp.inactivity_timeout_s.
- `update_gauges`: active calls, blocked sources and trunk registrations for
  /metrics, and the registration snapshot `/readyz` reads.
- `transport_ready` / `registrations_ready`: readiness checks, called on the
  HTTP thread: they read attributes only, never pjsua2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vio_sbc.trunks.registration import RegStatus

if TYPE_CHECKING:
    from vio_sbc.sip.switch import Softswitch


def check_rtp(sw: Softswitch, now: float) -> None:
    """End calls that have received no RTP for rtp.inactivity_timeout_s."""
    for key in sw.rtp_watch.keys() - sw.calls.keys():
        sw.rtp_watch.forget(key)
    for call in list(sw.calls.values()):
        idle = sw.rtp_watch.observe(call.id, call.rx_packets(), now)
        if idle is None:
            continue
        detail = f"no RTP received for {idle:.0f} s"
        call.log.warning("rtp_timeout", idle_s=round(idle, 1),
                         timeout_s=sw.cfg.rtp.inactivity_timeout_s)
        sw.calllog.add_event(call.id, call._t_ms(), "rtp_timeout", detail)
        call.end("system")


def update_gauges(sw: Softswitch) -> None:
    counts: dict[tuple[str, str], int] = {}
    for call in sw.calls.values():
        key = (call.direction, call.route.trunk.name if call.route else "")
        counts[key] = counts.get(key, 0) + 1
    sw.metrics.set_active(counts)
    sw.metrics.blocked_sources.set(sw.admission.blocked_count)
    regs = {name: reg.status is RegStatus.REGISTERED
            for name, reg in sw.trunks.regs.items()
            if name in sw.cfg.trunks and sw.cfg.trunks[name].register.enabled}
    for name, up in regs.items():
        sw.metrics.set_registration(name, up)
    sw.registrations = regs  # replaced whole: the HTTP thread reads a snapshot


def transport_ready(sw: Softswitch) -> tuple[bool, str]:
    """For /readyz (HTTP thread): reads two attributes only."""
    if sw.ep is None:
        return False, "SIP endpoint not started"
    if sw.draining:
        return False, "draining: not accepting new calls"
    return True, f"{'/'.join(sw.cfg.sip.transports)} on {sw.cfg.sip.listen}"


def registrations_ready(sw: Softswitch) -> tuple[bool, str]:
    regs = sw.registrations
    if not regs:
        return True, "no trunk registers"
    down = sorted(name for name, up in regs.items() if not up)
    if down:
        return False, f"not registered: {', '.join(down)}"
    return True, f"registered: {', '.join(sorted(regs))}"
