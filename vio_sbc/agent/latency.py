"""Turn latency: from the end of the caller's speech to the first agent audio frame
sent after it. Pure: matches the two time series a `Session` records."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


def turn_latencies(turn_ends: Sequence[float], burst_starts: Sequence[float]) -> list[float]:
    """For each caller turn end, ms until the first agent audio burst that started after
    it and before the next turn end (turns the agent did not answer are skipped)."""
    out: list[float] = []
    bursts = sorted(burst_starts)
    ends = sorted(turn_ends)
    for i, end in enumerate(ends):
        j = bisect_right(bursts, end)
        if j < len(bursts) and (i + 1 == len(ends) or bursts[j] < ends[i + 1]):
            out.append(round((bursts[j] - end) * 1000, 1))
    return out
