"""Frames: the one interface between the media adapter and the agent engine.

Frames are small, frozen, slotted dataclasses; their names say the direction
(Input* comes from the caller, Output* goes to the caller). Audio is 16-bit
signed little-endian mono PCM as bytes, with its sample rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FRAME_MS = 20


@dataclass(frozen=True, slots=True)
class Frame:
    """Base class of all frames."""


@dataclass(frozen=True, slots=True)
class AudioFrame(Frame):
    pcm: bytes
    sample_rate: int

    @property
    def samples(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def duration_ms(self) -> float:
        return 1000.0 * (len(self.pcm) // 2) / self.sample_rate


@dataclass(frozen=True, slots=True)
class InputAudio(AudioFrame):
    """20 ms of caller audio; `t_ms` is its offset from the call's answer."""

    t_ms: int = 0


@dataclass(frozen=True, slots=True)
class OutputAudio(AudioFrame):
    """Agent audio to play to the caller, any length; the adapter cuts it into 20 ms."""


@dataclass(frozen=True, slots=True)
class InputDtmf(Frame):
    digit: str
    duration_ms: int = 0
    t_ms: int = 0


@dataclass(frozen=True, slots=True)
class CallStarted(Frame):
    call_id: str
    number: str
    caller: str
    agent: str
    sample_rate: int
    direction: str = "inbound"
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallEnded(Frame):
    reason: str


@dataclass(frozen=True, slots=True)
class SpeechStarted(Frame):
    t_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped(Frame):
    t_ms: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Interrupt(Frame):
    """Control frame: flush queued agent audio now (barge-in). Overtakes audio."""

    t_ms: int = 0


@dataclass(frozen=True, slots=True)
class HangupRequest(Frame):
    """The agent wants to end the call (after its queued audio has played)."""

    reason: str = "agent"


@dataclass(frozen=True, slots=True)
class TranscriptLine(Frame):
    speaker: str  # "caller" | "agent"
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class TransferRequest(Frame):
    """The agent wants the caller transferred to `target` (a SIP URI or a number),
    after its queued audio has played. The SIP adapter sends a blind REFER."""

    target: str


@dataclass(frozen=True, slots=True)
class TransferFailed(Frame):
    """Told to the agent: the transfer to `target` failed and the call is kept.
    `status` is the SIP status of the REFER's answer or of the NOTIFY sipfrag."""

    target: str
    status: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PlayoutMark(Frame):
    """Output marker: when every audio frame queued before it has been played,
    the engine reports it back to the pipeline as `MarkPlayed(name)`."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class MarkPlayed(Frame):
    """The playout passed the `PlayoutMark` of this name (or an Interrupt dropped it).
    Compared by identity: the engine matches each one to the mark it queued."""

    name: str


@dataclass(frozen=True, slots=True)
class RemoteEnded(Frame):
    """An external agent's connection ended. `error` is False when the remote closed
    normally (it is done with the call), True when it failed or dropped."""

    reason: str
    error: bool = True


def silence(sample_rate: int, ms: int = FRAME_MS) -> bytes:
    return bytes(2 * sample_rate * ms // 1000)


@dataclass(frozen=True, slots=True)
class Transcription(Frame):
    """What the speech recogniser heard in one caller turn ("" if nothing it knows)."""

    text: str
    start_ms: int
    end_ms: int
    confidence: float | None = None  # the recogniser's own score, 0..1 (None: none given)
