"""The processor contract: one frame in, zero or more frames out.

Processors are synchronous and own no threads or sockets; the engine runs them
off the media clock thread and routes their output (OutputAudio to the caller,
Interrupt ahead of audio, HangupRequest to call control).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from vio_sbc.agent.frames import Frame


@runtime_checkable
class Processor(Protocol):
    def process(self, frame: Frame) -> Iterable[Frame]:
        """Consume `frame`; return the frames it produces (possibly none)."""
        ...


def run(processor: Processor, frames: Iterable[Frame]) -> list[Frame]:
    """Drive `processor` with `frames` and collect everything it emits (test harness)."""
    out: list[Frame] = []
    for f in frames:
        out.extend(processor.process(f))
    return out
