"""Turn-taking: a QUIET -> STARTING -> SPEAKING -> STOPPING state machine over
per-frame voice decisions, and the processor that runs webrtcvad in front of it.

The state machine is pure (booleans and milliseconds in, events out) so it is
table-tested without audio; `VadTurnDetector` adds webrtcvad.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from vio_sbc.agent.audio import tonality
from vio_sbc.agent.echo import EchoGuard
from vio_sbc.agent.frames import Frame, InputAudio, SpeechStarted, SpeechStopped

TONE_THRESHOLD = 0.98


class TurnState(str, Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class TurnParams:
    start_ms: int = 60    # voiced time needed before speech counts as started
    stop_ms: int = 600    # unvoiced time needed before the turn is over (endpointing)
    aggressiveness: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {self.aggressiveness}")
        if self.start_ms <= 0 or self.stop_ms <= 0:
            raise ValueError("start_ms and stop_ms must be positive")


class TurnMachine:
    """Feeds (is_speech, t_ms, frame_ms); returns SpeechStarted / SpeechStopped events."""

    def __init__(self, params: TurnParams | None = None) -> None:
        self.params = params or TurnParams()
        self.state = TurnState.QUIET
        self._run_ms = 0           # voiced (STARTING) or unvoiced (STOPPING) run length
        self._speech_start = 0     # t_ms of the first voiced frame of the turn
        self._last_voiced_end = 0

    def step(self, is_speech: bool, t_ms: int, frame_ms: int = 20) -> Frame | None:
        s = self.state
        if s is TurnState.QUIET:
            if is_speech:
                self.state, self._run_ms, self._speech_start = TurnState.STARTING, frame_ms, t_ms
                return self._maybe_started(t_ms, frame_ms)
            return None
        if s is TurnState.STARTING:
            if not is_speech:
                self.state, self._run_ms = TurnState.QUIET, 0
                return None
            self._run_ms += frame_ms
            return self._maybe_started(t_ms, frame_ms)
        if s is TurnState.SPEAKING:
            if is_speech:
                self._last_voiced_end = t_ms + frame_ms
                return None
            self.state, self._run_ms = TurnState.STOPPING, frame_ms
            return self._maybe_stopped()
        # STOPPING
        if is_speech:
            self.state, self._run_ms = TurnState.SPEAKING, 0
            self._last_voiced_end = t_ms + frame_ms
            return None
        self._run_ms += frame_ms
        return self._maybe_stopped()

    def _maybe_started(self, t_ms: int, frame_ms: int) -> Frame | None:
        if self._run_ms >= self.params.start_ms:
            self.state = TurnState.SPEAKING
            self._last_voiced_end = t_ms + frame_ms
            return SpeechStarted(t_ms=self._speech_start)
        return None

    def _maybe_stopped(self) -> Frame | None:
        if self._run_ms >= self.params.stop_ms:
            self.state, self._run_ms = TurnState.QUIET, 0
            end = self._last_voiced_end
            return SpeechStopped(t_ms=end, duration_ms=end - self._speech_start)
        return None


@dataclass(slots=True)
class VoiceCount:
    """What a call's VAD heard (engine thread writes, the call's end reads): frames
    webrtcvad called voiced, and frames it could not judge (counted as unvoiced)."""

    voiced_frames: int = 0
    errors: int = 0


class VadTurnDetector:
    """Processor: passes every frame through and adds speech events (webrtcvad).

    Input frames of any length are cut into VAD frames of `frame_ms` (10, 20 or
    30 ms, what webrtcvad takes); each VAD frame is one step of the machine. With
    an `echo` guard, voiced frames that are copies of our own audio count as
    unvoiced for turn-taking, and so do pure tones (webrtcvad calls a steady 1 kHz
    tone voiced; it must not barge in or make a turn). `voiced_frames` still
    counts everything webrtcvad heard; a frame webrtcvad refuses (its `Error`)
    is unvoiced and counted in `count.errors`. `count` is shared with the call's
    session (`Session.voice`) so the call's end reads it without the pipeline.
    """

    def __init__(self, params: TurnParams | None = None, frame_ms: int = 20,
                 echo: EchoGuard | None = None, count: VoiceCount | None = None) -> None:
        import _webrtcvad  # the extension behind webrtcvad: its Error class
        import webrtcvad

        if frame_ms not in (10, 20, 30):
            raise ValueError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        self.params = params or TurnParams()
        self.frame_ms = frame_ms
        self.machine = TurnMachine(self.params)
        self._vad = webrtcvad.Vad(self.params.aggressiveness)
        self._vad_error: type[Exception] = _webrtcvad.Error
        self._echo = echo
        self._buf = b""
        self._buf_t = 0
        self.count = count if count is not None else VoiceCount()
        self.echo_frames = 0
        self.tone_frames = 0
        self._verdict: bool | None = None  # webrtcvad's answer for the next frame (quiet)

    @property
    def voiced_frames(self) -> int:
        return self.count.voiced_frames

    def quiet(self, frame: InputAudio) -> bool:
        """The engine's fast path between turns: True when `frame` is fully handled here
        (no turn in progress, webrtcvad hears no voice: nothing to emit, counts kept),
        so the rest of the pipeline only needs `idle_audio`. False: run `process`."""
        if (self.machine.state is not TurnState.QUIET or self._buf
                or len(frame.pcm) != 2 * frame.sample_rate * self.frame_ms // 1000):
            return False
        try:
            voiced = bool(self._vad.is_speech(frame.pcm, frame.sample_rate))
        except self._vad_error:
            self.count.errors += 1
            return True  # unvoiced, counted: what `process` does with it
        if voiced:  # `process` comes next with this frame: webrtcvad adapts, ask it once
            self._verdict = True
        return not voiced

    def process(self, frame: Frame) -> Iterable[Frame]:
        if not isinstance(frame, InputAudio):
            return (frame,)
        if not self._buf:
            self._buf_t = frame.t_ms
        self._buf += frame.pcm
        step = 2 * frame.sample_rate * self.frame_ms // 1000
        out: list[Frame] = [frame]
        while len(self._buf) >= step:
            pcm, self._buf = self._buf[:step], self._buf[step:]
            t = self._buf_t
            self._buf_t += self.frame_ms
            verdict, self._verdict = self._verdict, None
            try:
                voiced = (verdict if verdict is not None
                          else bool(self._vad.is_speech(pcm, frame.sample_rate)))
            except self._vad_error:  # e.g. a rate webrtcvad does not take: unvoiced, counted
                voiced = False
                self.count.errors += 1
            self.count.voiced_frames += voiced
            if voiced and tonality(pcm) > TONE_THRESHOLD:  # a beep or test tone: not speech
                self.tone_frames += 1
                voiced = False
            if voiced and self._echo is not None and self._echo.is_echo(pcm):
                self.echo_frames += 1
                voiced = False
            ev = self.machine.step(voiced, t, self.frame_ms)
            if ev is not None:
                out.append(ev)
        return out
