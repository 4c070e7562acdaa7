"""OPTIONS health of a trunk: `unknown` until the first ping is answered (or fails), up
until `down_after` consecutive pings fail, up again on the first answered ping. Any SIP
response counts as alive (the peer is there and talking SIP); only a timeout or transport
error counts as a failure."""

from __future__ import annotations

from dataclasses import dataclass


def ping_ok(status: int) -> bool:
    """Did a ping answered with `status` reach a live SIP peer? (408/503 from our own
    stack mean timeout / transport failure: pjsip reports those when nothing answered.)"""
    return 100 <= status <= 699 and status not in (408, 503)


@dataclass(slots=True)
class Health:
    trunk: str
    down_after: int = 2
    up: bool = True
    failures: int = 0
    last_status: int = 0
    last_ok_at: float | None = None
    # a ping has been answered or has failed: before, `up` only means "not known down"
    # (calls are not refused on a trunk never pinged yet)
    checked: bool = False

    def result(self, status: int, now: float) -> bool | None:
        """Record a ping result; returns the new `up` if it changed, else None."""
        self.checked = True
        self.last_status = status
        if ping_ok(status):
            self.failures = 0
            self.last_ok_at = now
            if not self.up:
                self.up = True
                return True
            return None
        self.failures += 1
        if self.up and self.failures >= self.down_after:
            self.up = False
            return False
        return None

    def as_dict(self) -> dict[str, object]:
        return {"up": self.up, "checked": self.checked, "failures": self.failures,
                "last_status": self.last_status, "last_ok_at": self.last_ok_at,
                "state": ("up" if self.checked else "unknown") if self.up else "down"}
