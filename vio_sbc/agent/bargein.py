"""Barge-in: the caller talking over the agent flushes the agent's queued audio.

A processor placed after the turn detector. When the caller has spoken for
`min_speech_ms` (counted from the turn's first voiced frame) while the call
is still playing agent audio, it emits `Interrupt` in the same dispatch as the
frame that crossed the threshold; the engine clears the playout deque before
the clock thread asks for the next frame. Echo of our own audio never reaches
here as speech (the turn detector's `EchoGuard` marks it unvoiced).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vio_sbc.agent.frames import Frame, InputAudio, Interrupt, SpeechStarted, SpeechStopped
from vio_sbc.config.model import BargeInSettings


class BargeIn:
    def __init__(self, settings: BargeInSettings, playing: Callable[[], bool]) -> None:
        self.settings = settings
        self._playing = playing
        self._armed = False
        self._start = 0
        self._last_end = 0
        self.interrupts = 0

    def _check(self, t_ms: int) -> list[Frame]:
        if not self._armed or self._last_end - self._start < self.settings.min_speech_ms:
            return []
        self._armed = False
        if not self._playing():
            return []
        self.interrupts += 1
        return [Interrupt(t_ms=t_ms)]

    def idle_audio(self, frame: InputAudio) -> None:
        """A caller frame between turns (the engine's fast path): only its end time."""
        self._last_end = frame.t_ms + int(frame.duration_ms)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, InputAudio):
            self._last_end = frame.t_ms + int(frame.duration_ms)
            return [frame, *self._check(self._last_end)]
        if isinstance(frame, SpeechStarted):
            self._armed = self.settings.enabled
            self._start = frame.t_ms
            return [frame, *self._check(self._last_end)]
        if isinstance(frame, SpeechStopped):
            self._armed = False
        return (frame,)
