"""Offline speech to text: a provider interface, pocketsphinx, and the worker thread.

A decode takes tens of milliseconds (measured: 10-40 ms per utterance with a
grammar, 0.5-2.5 s with the full language model), far too slow for the engine
thread, which serves every call's 20 ms frames. `TurnRecorder` (a processor)
collects each caller turn and hands it to `SttWorker`, one thread with a
bounded queue; the result comes back into the call's engine queue as a
`Transcription` frame. A full queue drops the turn and reports it as not
understood (the agent falls back) rather than blocking the engine.

Pocketsphinx's English model ships inside its wheel (`get_model_path()`);
nothing is downloaded. Telephone audio (8 kHz) is resampled to the model's
16 kHz. With phrases (a scripted agent's intents) the decoder searches a JSGF
grammar of exactly those phrases: intents are recognised reliably and
anything else comes back as "" (measured on espeak-ng speech through G.711:
the full language model got none of the keywords right).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import structlog

from vio_sbc.agent.audio import resample
from vio_sbc.agent.frames import (
    Frame,
    InputAudio,
    SpeechStarted,
    SpeechStopped,
    Transcription,
)
from vio_sbc.config.model import SttSettings
from vio_sbc.errors import VioError
from vio_sbc.threadname import set_os_thread_name

log = structlog.get_logger("vio_sbc.stt")
MODEL_RATE = 16000


class SttError(VioError):
    pass


class Stt(Protocol):
    """A speech recogniser: one utterance of 16-bit mono PCM in, its text out. One that
    also scores its answer has `recognise(pcm, rate) -> (text, confidence 0..1 | None)`
    (PocketsphinxStt), which the worker prefers."""

    def transcribe(self, pcm: bytes, sample_rate: int) -> str: ...


def jsgf(phrases: Iterable[str]) -> str:
    alts = " | ".join(sorted(set(phrases)))
    return f"#JSGF V1.0;\ngrammar intents;\npublic <utterance> = {alts};\n"


class PocketsphinxStt:
    """CMU pocketsphinx with its bundled en-us model; grammar mode when given phrases.

    Not thread-safe: one instance is used by one worker thread.
    """

    def __init__(self, phrases: Sequence[str] = ()) -> None:
        from pocketsphinx import Decoder

        self.phrases = tuple(phrases)
        if self.phrases:
            self._dec = Decoder(samprate=MODEL_RATE, lm=None, loglevel="FATAL")
            unknown = sorted({w for p in self.phrases for w in p.split()
                              if self._dec.lookup_word(w) is None})
            if unknown:
                words = ", ".join(map(repr, unknown))
                raise SttError(f"pocketsphinx dictionary has no word {words}")
            self._dec.add_jsgf_string("intents", jsgf(self.phrases))
            self._dec.activate_search("intents")
        else:
            self._dec = Decoder(samprate=MODEL_RATE, loglevel="FATAL")

    def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        return self.recognise(pcm, sample_rate)[0]

    def recognise(self, pcm: bytes, sample_rate: int) -> tuple[str, float | None]:
        """The text heard and the recogniser's confidence in it (0..1; None for "").

        The confidence is pocketsphinx's own acoustic score of the whole path it chose
        (words, and the silence and fillers around them, which absorb any speech the
        grammar cannot match), in natural log relative to the best-scoring state of
        each frame, per frame of the recognised words, mapped linearly: 0 dB-like
        "as good as the best state" is 1, -20 per word frame or worse is 0. A phrase
        said plainly scores 0.5-0.7; a sentence the grammar forced onto a short word
        (the issue's "sales" heard as "bye") scores near 0 (bench/false_hangup.py)."""
        samples = np.frombuffer(pcm, dtype="<i2")
        audio = resample(samples, sample_rate, MODEL_RATE).astype("<i2").tobytes()
        dec = self._dec
        dec.start_utt()
        dec.process_raw(audio, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        text = " ".join(hyp.hypstr.split()) if hyp is not None else ""
        if not text or not self.phrases:
            return text, None
        return text, path_confidence([(s.word, s.ascore, s.start_frame, s.end_frame)
                                      for s in dec.seg() or ()])


FILLERS = ("<s>", "</s>", "<sil>")
CONFIDENCE_SPAN = 20.0  # per-word-frame log score at which the confidence is 0


def path_confidence(segments: Sequence[tuple[str, float, int, int]]) -> float:
    """`recognise`'s confidence from the decoder's segments (word, acoustic score as
    a probability, first frame, last frame): the path's log score per word frame,
    1 + score / 20, clipped to 0..1. A score that underflowed to 0 counts as -10^4."""
    words = [s for s in segments if s[0] not in FILLERS and not s[0].startswith(("[", "+"))]
    frames = sum(max(1, end - start + 1) for _, _, start, end in words)
    if frames == 0:
        return 0.0
    total = sum(math.log(a) if a > 0 else -1e4 for w, a, _, _ in segments
                if w not in ("<s>", "</s>"))
    return min(1.0, max(0.0, 1.0 + total / frames / CONFIDENCE_SPAN))


def make_stt(settings: SttSettings, phrases: Sequence[str] = ()) -> Stt | None:
    """The recogniser named by `settings.provider` (None for "none")."""
    if settings.provider == "none":
        return None
    if settings.provider == "pocketsphinx":
        return PocketsphinxStt(phrases)
    raise SttError(f"unknown STT provider {settings.provider!r}")


@dataclass(frozen=True, slots=True)
class SttJob:
    stt: Stt
    pcm: bytes
    sample_rate: int
    start_ms: int
    end_ms: int
    deliver: Callable[[Frame], None]


class SttWorker:
    """One thread decoding turns from a bounded queue; results go to `job.deliver`."""

    def __init__(self, maxsize: int = 32) -> None:
        self._q: queue.Queue[SttJob | None] = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="stt-worker", daemon=True)
        self.decodes = 0
        self.dropped = 0
        self.decode_ms: deque[float] = deque(maxlen=1000)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            try:
                self._q.put(None, timeout=timeout)
            except queue.Full:
                return
            self._thread.join(timeout)

    def submit(self, job: SttJob) -> bool:
        try:
            self._q.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def _run(self) -> None:
        set_os_thread_name("stt-worker")
        while True:
            job = self._q.get()
            if job is None:
                took = sorted(self.decode_ms)
                log.info("stt_stopped", cpu_s=round(time.thread_time(), 3), decodes=self.decodes,
                         dropped=self.dropped,
                         decode_ms_p50=round(took[len(took) // 2], 1) if took else None,
                         decode_ms_max=round(took[-1], 1) if took else None)
                return
            t0 = time.perf_counter()
            confidence: float | None = None
            try:
                scored = getattr(job.stt, "recognise", None)
                if scored is not None:
                    text, confidence = scored(job.pcm, job.sample_rate)
                else:
                    text = job.stt.transcribe(job.pcm, job.sample_rate)
            except Exception:
                log.exception("stt_failed")
                text, confidence = "", None
            ms = (time.perf_counter() - t0) * 1000
            self.decodes += 1
            self.decode_ms.append(ms)
            try:
                job.deliver(Transcription(text=text, start_ms=job.start_ms, end_ms=job.end_ms,
                                          confidence=confidence))
            except Exception:
                log.exception("stt_deliver_failed")


class TurnRecorder:
    """Processor: records each caller turn (with pre-roll) and submits it for decoding.

    `submit(pcm, start_ms, end_ms)` returns False when the turn could not be queued;
    the recorder then emits an empty `Transcription` itself so the agent answers.
    """

    def __init__(self, submit: Callable[[bytes, int, int], bool], preroll_ms: int = 300,
                 max_turn_ms: int = 15000) -> None:
        self._submit = submit
        self._pre: deque[bytes] = deque(maxlen=max(1, preroll_ms // 20))
        self._turn: list[bytes] = []
        self._max_frames = max_turn_ms // 20
        self._speaking = False
        self._start = 0

    def idle_audio(self, frame: InputAudio) -> None:
        """A caller frame between turns (the engine's fast path)."""
        self.process(frame)

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, InputAudio):
            if self._speaking and len(self._turn) < self._max_frames:
                self._turn.append(frame.pcm)
            elif not self._speaking:
                self._pre.append(frame.pcm)
            return (frame,)
        if isinstance(frame, SpeechStarted):
            self._speaking = True
            self._start = frame.t_ms
            self._turn = list(self._pre)
            self._pre.clear()
        elif isinstance(frame, SpeechStopped):
            self._speaking = False
            pcm, self._turn = b"".join(self._turn), []
            if not self._submit(pcm, self._start, frame.t_ms):
                return (frame, Transcription("", self._start, frame.t_ms))
        return (frame,)


class TurnsWithoutStt:
    """Processor for agents without a recogniser: each caller turn becomes an empty
    `Transcription` (not understood), so the agent still answers every turn."""

    def idle_audio(self, frame: InputAudio) -> None:
        """A caller frame between turns (the engine's fast path): nothing to do."""

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, SpeechStopped):
            return (frame, Transcription("", frame.t_ms - frame.duration_ms, frame.t_ms))
        return (frame,)


class Submits(Protocol):
    """Where turns go to be decoded: `SttWorker` (a thread) or `SttPool` (processes)."""

    def submit(self, job: SttJob) -> bool: ...


def submitter(worker: Submits, stt: Stt, sample_rate: int,
              deliver: Callable[[Frame], None]) -> Callable[[bytes, int, int], bool]:
    def submit(pcm: bytes, start_ms: int, end_ms: int) -> bool:
        return worker.submit(SttJob(stt, pcm, sample_rate, start_ms, end_ms, deliver))

    return submit


