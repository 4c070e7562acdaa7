"""Echo guard: tells the caller's voice from our own audio coming back.

A line that echoes the agent's audio (a handset with poor echo return loss, a
carrier loop, or SIPp's `-rtp_echo`) must not count as the caller speaking:
it would trigger barge-in and make the agent answer itself. The guard keeps
the last second of frames the call actually played (appended on the clock
thread by `Session.next_playout`) and, for a caller frame the VAD calls
voiced, computes the normalised cross-correlation against that reference at
every lag. Echo is a delayed, attenuated, G.711-requantised copy of what we
played: its peak correlation is close to 1 whatever its level. A caller
talking over the prompt is a different waveform: well below the threshold.
Double talk (caller and echo at once) lowers the peak, so it counts as the
caller: the bias is towards barge-in, never towards ignoring a real caller.

Cost, the engine's largest per frame (docs/performance.md): nothing is computed
unless webrtcvad called the frame voiced and the call played audio in the last
second; the last echo's delay is tried first (a few dot products, no FFT); the full
search runs on a 4x decimated signal and is refined at full rate around its best
three lags. (Reusing a search's "caller" verdict for the next frames was tried:
at an echo's onset it let echo start turns.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

_MIN_RMS = 60.0   # a caller frame this quiet (about -55 dBFS) can't be told from echo
_REF_RMS = 8.0    # reference stretches below this are silence: nothing to echo
HINT_OK = 0.8     # a correlation this high at the last echo's delay: echo, no search


def _ncc_span(y: np.ndarray, x: np.ndarray, lo: int, hi: int, yy: float) -> np.ndarray:
    """Normalised correlation of `y` with `x[s:s+len(y)]` for each start lo <= s <= hi."""
    n = len(y)
    span = x[lo:hi + n]
    num = np.correlate(span, y, "valid")
    c2 = np.concatenate(([0.0], np.cumsum(span * span)))
    seg = c2[n:] - c2[:-n]
    out = np.where(seg > n * _REF_RMS * _REF_RMS,
                   num / np.sqrt(np.maximum(seg, 1e-9) * yy), 0.0)
    return np.asarray(out)


def peak_correlation_fast(frame: np.ndarray, reference: np.ndarray,
                          hint: int | None = None, hint_only: bool = False
                          ) -> tuple[float, int]:
    """`peak_correlation` in two steps, and the start it peaked at: the peak of a 4x
    decimated correlation (a 4x shorter FFT) gives candidate lags, refined at full rate
    within ±6 samples. With `hint` (a start that matched before: an echo's delay
    changes little), that neighbourhood is tried first and, at or above HINT_OK, kept
    without any FFT."""
    n, m = len(frame), len(reference)
    if n == 0 or m < n:
        return 0.0, 0
    y = frame.astype(np.float64)
    x = reference.astype(np.float64)
    yy = float(np.dot(y, y))
    last = m - n
    if hint is not None and 0 <= hint <= last:
        lo = max(0, hint - 6)
        ncc = _ncc_span(y, x, lo, min(last, hint + 6), yy)
        k = int(np.argmax(ncc))
        if ncc[k] >= HINT_OK or hint_only:
            return float(ncc[k]), lo + k
    if hint_only:
        return 0.0, 0
    d = 4
    yd = y[: n // d * d].reshape(-1, d).mean(axis=1)
    xd = x[: m // d * d].reshape(-1, d).mean(axis=1)
    best, at = 0.0, 0
    for c in peak_starts(yd, xd, 3):
        lo = max(0, int(c) * d - 6)
        ncc = _ncc_span(y, x, lo, min(last, int(c) * d + 6), yy)
        k = int(np.argmax(ncc))
        if ncc[k] > best:
            best, at = float(ncc[k]), lo + k
    return best, at


def peak_starts(y: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """The `k` starts of `y` in `x` with the highest normalised correlation (FFT)."""
    n, m = len(y), len(x)
    size = 1 << (m + n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)[: m - n + 1]
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    seg = c2[n:] - c2[:-n]
    ncc = np.where(seg > 1e-6, corr / np.sqrt(np.maximum(seg, 1e-9) * max(float(y @ y), 1e-9)),
                   0.0)
    k = min(k, len(ncc))
    return np.asarray(np.argpartition(-ncc, k - 1)[:k])


def peak_correlation(frame: np.ndarray, reference: np.ndarray) -> float:
    """Max over lags of the normalised cross-correlation of `frame` inside `reference`."""
    n, m = len(frame), len(reference)
    if n == 0 or m < n:
        return 0.0
    y = frame.astype(np.float64)
    x = reference.astype(np.float64)
    size = 1 << (m + n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)[: m - n + 1]
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    seg = c2[n:] - c2[:-n]
    denom = np.sqrt(np.maximum(seg, 1e-9) * float(np.dot(y, y)))
    ncc = np.where(seg > n * _REF_RMS * _REF_RMS, corr / denom, 0.0)
    return float(np.max(ncc)) if len(ncc) else 0.0


class EchoGuard:
    """`is_echo(pcm)`: is this caller frame a copy of audio we played recently?

    The frame is analysed with the caller frames just before it (`window` frames in
    all, 60 ms by default): a longer stretch is much less likely to resemble some
    part of our prompt by chance. While there is reference audio, a frame too quiet
    to analyse counts as echo (residual echo is quiet; a barging caller is not).
    """

    def __init__(self, recent_played: Callable[[], Sequence[bytes | None]],
                 threshold: float = 0.7, window: int = 3) -> None:
        self._recent = recent_played
        self.threshold = threshold
        self._window: deque[bytes] = deque(maxlen=window)
        self.echo_frames = 0
        self._delay: int | None = None  # samples from the reference's end, last echo
        self.searches = 0

    def is_echo(self, pcm: bytes) -> bool:
        self._window.append(pcm)
        played = self._recent()
        if not any(played):
            return False
        y = np.frombuffer(pcm, dtype="<i2")
        if float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) < _MIN_RMS:
            self.echo_frames += 1
            return True
        n = len(y)
        ref = np.concatenate([np.frombuffer(p, dtype="<i2") if p else np.zeros(n, np.int16)
                              for p in played])
        probe = np.frombuffer(b"".join(self._window), dtype="<i2")
        last = len(ref) - len(probe)
        if self._delay is not None:  # an echo's delay changes little: try it first (cheap)
            peak, start = peak_correlation_fast(probe, ref, last - self._delay, hint_only=True)
            if peak >= HINT_OK:
                self.echo_frames += 1
                return True
        self.searches += 1
        peak, start = peak_correlation_fast(probe, ref)
        echo = peak >= self.threshold
        if echo:
            self._delay = last - start
        self.echo_frames += echo
        return echo
