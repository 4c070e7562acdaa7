"""RTP inactivity: which calls have received no RTP packet for `timeout_s`.

Pure: the SIP main loop feeds it each call's received-packet counter (pjsua2's
`getStreamStat(idx).rtcp.rxStat.pkt`, counted by pjmedia for every RTP packet
accepted) once a second, and ends the calls it names.
"""

from __future__ import annotations


class InactivityWatch:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._seen: dict[str, tuple[int, float]] = {}  # key -> (packets, last change)
        self._fired: set[str] = set()

    def observe(self, key: str, packets: int | None, now: float) -> float | None:
        """Record `key`'s packet counter; None while not watched (media not active,
        call held). Returns the idle seconds the first time they reach the timeout,
        else None (each call is reported once)."""
        last = self._seen.get(key)
        if packets is None or last is None or packets != last[0]:
            self._seen[key] = (-1 if packets is None else packets, now)
            return None
        idle = now - last[1]
        if idle >= self.timeout_s and key not in self._fired:
            self._fired.add(key)
            return idle
        return None

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)
        self._fired.discard(key)

    def keys(self) -> set[str]:
        return set(self._seen)
