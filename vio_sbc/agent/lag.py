"""The engine's lag as readiness sees it: the worst lag measured over a sliding window.

Pure (times are passed in). The engine thread calls `observe(lag, now)` each time it
measures; any thread calls `current(now, busy_since)`. The state is one tuple replaced
whole, so a reader on another thread never sees half an update.
"""

from __future__ import annotations

WINDOW_S = 2.0


class LagWindow:
    """Worst lag of the current window and of the one before it (a window is WINDOW_S
    long, so `current` covers the last one to two windows)."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._state: tuple[float, float, float] | None = None  # start, worst, previous

    def observe(self, lag: float, now: float) -> None:
        st = self._state
        if st is None:
            self._state = (now, lag, 0.0)
            return
        start, worst, previous = st
        if now - start >= 2 * self.window_s:
            self._state = (now, lag, 0.0)  # nothing measured in a whole window
        elif now - start >= self.window_s:
            self._state = (now, lag, worst)
        elif lag > worst:
            self._state = (start, lag, previous)

    def current(self, now: float, busy_since: float = 0.0) -> float:
        """The worst lag measured in the last one to two windows (0 when nothing was
        measured for two windows: an idle engine is not late), or `now - busy_since`
        when that is larger: an engine busy since then without measuring (stuck in a
        frame) is at least that late. `busy_since` 0: idle."""
        st = self._state
        lag = 0.0
        if st is not None and now - st[0] < 2 * self.window_s:
            lag = max(st[1], st[2])
        return max(lag, now - busy_since) if busy_since else lag
