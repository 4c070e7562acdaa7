"""The scripted agent: greeting, intents (phrases or digits -> reply and action),
fallback, max turns, goodbye. A Processor; no I/O of its own but TTS rendering
(cached: the same prompts repeat on every call).

Caller turns arrive as `Transcription` frames (from the STT worker); digits as
`InputDtmf`; digits that match no intent are logged and otherwise ignored (stray
keys are common). Intent matching is pure (`match_phrase`, `DigitRouter`); a spoken
intent that ends or transfers the call goes through `ConfirmPolicy`
(vio_sbc/agent/confirm.py): too weak is not understood, weak is confirmed first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from vio_sbc.agent.confirm import ConfirmPolicy, Verdict
from vio_sbc.agent.frames import (
    CallStarted,
    Frame,
    HangupRequest,
    InputAudio,
    InputDtmf,
    OutputAudio,
    Transcription,
    TranscriptLine,
    TransferFailed,
    TransferRequest,
)
from vio_sbc.config.model import AgentConfig, Intent


class Tts(Protocol):
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes: ...


def match_phrase(text: str, intents: Sequence[Intent]) -> Intent | None:
    """The first intent with a phrase whose words appear in order, contiguously, in `text`."""
    words = text.lower().split()
    for intent in intents:
        for phrase in intent.phrases:
            p = phrase.split()
            if any(words[i:i + len(p)] == p for i in range(len(words) - len(p) + 1)):
                return intent
    return None


class DigitRouter:
    """Collects digits until they equal an intent's `digits` (match) or are a prefix
    of none (no match: returns the collected digits as unrouted)."""

    def __init__(self, intents: Sequence[Intent]) -> None:
        self._by_digits = {i.digits: i for i in intents if i.digits}
        self._buf = ""

    def press(self, digit: str) -> tuple[Intent | None, str | None]:
        self._buf += digit
        hit = self._by_digits.get(self._buf)
        if hit is not None:
            self._buf = ""
            return hit, None
        if not any(d.startswith(self._buf) for d in self._by_digits):
            unrouted, self._buf = self._buf, ""
            return None, unrouted
        return None, None


def with_transfer_digit(cfg: AgentConfig) -> tuple[Intent, ...]:
    """The intents plus the `transfer_digit`/`transfer_to` options as one more intent."""
    opts = cfg.scripted
    if opts.transfer_digit is None or not opts.transfer_to:
        return cfg.intents
    return (*cfg.intents, Intent("transfer", digits=opts.transfer_digit,
                                 reply=opts.transfer_say or None, action="transfer",
                                 target=opts.transfer_to))


class ScriptedAgent:
    def __init__(self, cfg: AgentConfig, tts: Tts) -> None:
        self.cfg = cfg
        self.tts = tts
        self.voice = cfg.tts.voice or cfg.voice
        self.greeting = cfg.greeting or "Hello."
        self.intents = with_transfer_digit(cfg)
        self.digits = DigitRouter(self.intents)
        self.transfer_failed = cfg.scripted.transfer_failed
        self.rate = 8000
        self.turns = 0
        self.t_ms = 0
        self.done = False
        opts = cfg.scripted
        self.policy = ConfirmPolicy(opts.min_confidence, opts.confirm_below)
        self.confirming: Intent | None = None  # asked "did you want to ...?" about it

    def prompts(self) -> list[str]:
        """Every text this agent may say (to warm the TTS cache)."""
        opts = self.cfg.scripted
        texts = [self.greeting, self.cfg.fallback, self.cfg.goodbye, self.transfer_failed,
                 opts.confirm_hangup, opts.confirm_transfer, opts.not_confirmed]
        return texts + [i.reply for i in self.intents if i.reply]

    def _say(self, text: str) -> list[Frame]:
        pcm = self.tts.render(text, self.rate, self.voice)
        dur = len(pcm) // 2 * 1000 // self.rate
        return [
            OutputAudio(pcm=pcm, sample_rate=self.rate),
            TranscriptLine("agent", text, self.t_ms, self.t_ms + dur),
        ]

    def _act(self, intent: Intent | None) -> list[Frame]:
        """Answer one caller turn (an intent, or None: not understood)."""
        self.turns += 1
        if intent is None:
            if self.turns >= self.cfg.max_turns:
                self.done = True
                return [*self._say(self.cfg.goodbye), HangupRequest("max_turns")]
            return self._say(self.cfg.fallback)
        out = self._say(intent.reply) if intent.reply else []
        if intent.action == "hangup":
            self.done = True
            return [*out, HangupRequest(f"intent:{intent.name}")]
        if intent.action == "transfer" and intent.target:
            self.done = True
            return [*out, TransferRequest(intent.target)]
        if self.turns >= self.cfg.max_turns:
            self.done = True
            return [*out, *self._say(self.cfg.goodbye), HangupRequest("max_turns")]
        return out

    def idle_audio(self, frame: InputAudio) -> None:
        """A caller frame between turns (the engine's fast path)."""
        self.t_ms = frame.t_ms

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, InputAudio):
            self.t_ms = frame.t_ms
            return ()
        if isinstance(frame, CallStarted):
            self.rate = frame.sample_rate
            return self._say(self.greeting)
        if isinstance(frame, TransferFailed):
            self.done = False  # the call is kept: the conversation goes on
            return self._say(self.transfer_failed)
        if self.done:
            return ()
        if isinstance(frame, Transcription):
            heard = TranscriptLine("caller", frame.text or "[not understood]",
                                   frame.start_ms, frame.end_ms)
            return [heard, *self._heard(frame)]
        if isinstance(frame, InputDtmf):
            line = TranscriptLine("caller", f"[DTMF {frame.digit}]", frame.t_ms, frame.t_ms)
            self.confirming = None  # a key is an answer of its own: never doubted
            intent, _ = self.digits.press(frame.digit)
            if intent is None:
                return (line,)  # a prefix of some intent's digits, or a stray key: logged only
            return [line, *self._act(intent)]
        return ()

    def _heard(self, frame: Transcription) -> list[Frame]:
        """A caller turn: the answer to a pending confirmation, or a new intent."""
        pending, self.confirming = self.confirming, None
        if pending is not None:
            if self.policy.confirmed(frame.text, frame.confidence):
                return self._act(pending)
            return self._say(self.cfg.scripted.not_confirmed)
        intent = match_phrase(frame.text, self.intents)
        if intent is None:
            return self._act(None)
        verdict = self.policy.judge(intent, frame.confidence)
        if verdict is Verdict.REJECT:
            return self._act(None)
        if verdict is Verdict.CONFIRM:
            self.confirming = intent
            opts = self.cfg.scripted
            return self._say(opts.confirm_hangup if intent.action == "hangup"
                             else opts.confirm_transfer)
        return self._act(intent)
