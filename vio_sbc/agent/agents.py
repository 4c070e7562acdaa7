"""Built-in agents, chosen by `kind:` in the `agents:` config.

- scripted: speaks its greeting, then answers each caller turn with its
  fallback reply; after `max_turns` it says goodbye and hangs up. (Speech
  recognition and intents come with the agent engine issue.)
- echo: repeats each caller turn back (QA: latency and the audio path).
  With `transfer_digit` and `transfer_to`, that digit says `transfer_say` and
  asks for a transfer (TransferRequest); if it fails the agent says
  `transfer_failed` and the call goes on.
- tone: plays a tone (`hz`, `ms`) when the call starts, then listens.
Each is a Processor: frames in, frames out, no I/O of its own but TTS rendering.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Protocol

from vio_sbc.agent.audio import tone
from vio_sbc.agent.frames import (
    CallEnded,
    CallStarted,
    Frame,
    HangupRequest,
    InputAudio,
    InputDtmf,
    OutputAudio,
    SpeechStarted,
    SpeechStopped,
    TranscriptLine,
    TransferFailed,
    TransferRequest,
)
from vio_sbc.config.model import AgentConfig


class Tts(Protocol):
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes: ...


def _opt_str(cfg: AgentConfig, key: str, default: str) -> str:
    v = cfg.options.get(key, default)
    return v if isinstance(v, str) else default


def _opt_num(cfg: AgentConfig, key: str, default: float) -> float:
    v = cfg.options.get(key, default)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


class ScriptedAgent:
    def __init__(self, cfg: AgentConfig, tts: Tts) -> None:
        self.cfg = cfg
        self.tts = tts
        self.greeting = cfg.greeting or "Hello."
        self.fallback = _opt_str(cfg, "fallback", "Sorry, I did not catch that. Could you repeat?")
        self.goodbye = _opt_str(cfg, "goodbye", "Thank you for calling. Goodbye.")
        self.max_turns = int(_opt_num(cfg, "max_turns", 10))
        digit = cfg.options.get("transfer_digit")
        self.transfer_digit = None if digit is None else str(digit)
        self.transfer_to = _opt_str(cfg, "transfer_to", "")
        self.transfer_say = _opt_str(cfg, "transfer_say", "Please hold while I transfer your call.")
        self.transfer_failed = _opt_str(cfg, "transfer_failed",
                                        "Sorry, I could not transfer your call.")
        self.rate = 8000
        self.turns = 0
        self.t_ms = 0

    def _say(self, text: str) -> list[Frame]:
        pcm = self.tts.render(text, self.rate, self.cfg.voice)
        dur = len(pcm) // 2 * 1000 // self.rate
        return [
            OutputAudio(pcm=pcm, sample_rate=self.rate),
            TranscriptLine("agent", text, self.t_ms, self.t_ms + dur),
        ]

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, InputAudio):
            self.t_ms = frame.t_ms
            return ()
        if isinstance(frame, CallStarted):
            self.rate = frame.sample_rate
            return self._say(self.greeting)
        if isinstance(frame, SpeechStopped):
            self.turns += 1
            if self.turns >= self.max_turns:
                return [*self._say(self.goodbye), HangupRequest("max_turns")]
            return self._say(self.fallback)
        if isinstance(frame, InputDtmf):
            heard = TranscriptLine("caller", f"[DTMF {frame.digit}]", frame.t_ms, frame.t_ms)
            if self.transfer_to and frame.digit == self.transfer_digit:
                say = self._say(self.transfer_say) if self.transfer_say else []
                return [heard, *say, TransferRequest(self.transfer_to)]
            return (heard,)
        if isinstance(frame, TransferFailed):
            return self._say(self.transfer_failed)
        return ()


class EchoAgent:
    """Buffers each caller turn (with 200 ms of pre-roll) and plays it back."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.max_ms = int(_opt_num(cfg, "max_turn_ms", 10000))
        self._pre: deque[InputAudio] = deque(maxlen=10)
        self._turn: list[bytes] = []
        self._speaking = False
        self.rate = 8000

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
