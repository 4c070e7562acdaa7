"""Built-in agents, chosen by `kind:` in the `agents:` config.

- scripted (vio_sbc/agent/scripted.py): greeting, intents recognised from
  speech (STT) or digits -> reply, hang up or transfer; fallback, max turns.
  With `transfer_digit` and `transfer_to`, that digit says `transfer_say` and
  asks for a transfer (TransferRequest); if it fails the agent says
  `transfer_failed` and the call goes on.
- echo: repeats each caller turn back (QA: latency and the audio path).
- tone: plays a tone (`hz`, `ms`) when the call starts, then listens.
Each is a Processor: frames in, frames out, no I/O of its own but TTS rendering.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from vio_sbc.agent.audio import tone
from vio_sbc.agent.frames import (
    CallEnded,
    CallStarted,
    Frame,
    InputAudio,
    OutputAudio,
    SpeechStarted,
    SpeechStopped,
)
from vio_sbc.agent.scripted import ScriptedAgent, Tts
from vio_sbc.config.model import AgentConfig

__all__ = ["Agent", "EchoAgent", "ScriptedAgent", "ToneAgent", "Tts", "make_agent"]


def _opt_num(cfg: AgentConfig, key: str, default: float) -> float:
    v = cfg.options.get(key, default)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


class EchoAgent:
    """Buffers each caller turn (with 200 ms of pre-roll) and plays it back."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.max_ms = int(_opt_num(cfg, "max_turn_ms", 10000))
        self._pre: deque[InputAudio] = deque(maxlen=10)
        self._turn: list[bytes] = []
        self._speaking = False
        self.rate = 8000

    def idle_audio(self, frame: InputAudio) -> None:
        """A caller frame between turns (the engine's fast path)."""
        self.process(frame)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, CallStarted):
            self.rate = frame.sample_rate
        elif isinstance(frame, InputAudio):
            if self._speaking:
                if len(self._turn) * 20 < self.max_ms:
                    self._turn.append(frame.pcm)
            else:
                self._pre.append(frame)
        elif isinstance(frame, SpeechStarted):
            self._speaking = True
            self._turn = [f.pcm for f in self._pre]
            self._pre.clear()
        elif isinstance(frame, SpeechStopped):
            self._speaking = False
            pcm = b"".join(self._turn)
            self._turn = []
            if pcm:
                return (OutputAudio(pcm=pcm, sample_rate=self.rate),)
        elif isinstance(frame, CallEnded):
            self._turn = []
        return ()


class ToneAgent:
    def __init__(self, cfg: AgentConfig) -> None:
        self.hz = _opt_num(cfg, "hz", 1000.0)
        self.ms = int(_opt_num(cfg, "ms", 1000))

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, CallStarted):
            return (OutputAudio(tone(self.hz, self.ms, frame.sample_rate), frame.sample_rate),)
        return ()


Agent = ScriptedAgent | EchoAgent | ToneAgent


def make_agent(cfg: AgentConfig, tts: Tts) -> Agent:
    if cfg.kind == "scripted":
        return ScriptedAgent(cfg, tts)
    if cfg.kind == "echo":
        return EchoAgent(cfg)
    if cfg.kind == "tone":
        return ToneAgent(cfg)
    raise ValueError(f"unknown agent kind {cfg.kind!r}")
