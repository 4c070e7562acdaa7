from __future__ import annotations

import numpy as np
import pytest

from vio_sbc.agent.frames import InputAudio, SpeechStarted, SpeechStopped
from vio_sbc.agent.processor import run
from vio_sbc.agent.turns import TurnMachine, TurnParams, TurnState, VadTurnDetector


def feed(m: TurnMachine, pattern: str) -> list[object]:
    """'1' voiced, '0' unvoiced, 20 ms each."""
    out = []
    for i, c in enumerate(pattern):
        ev = m.step(c == "1", i * 20)
        if ev is not None:
            out.append(ev)
    return out


def test_start_needs_start_ms_of_voice() -> None:
    m = TurnMachine(TurnParams(start_ms=60, stop_ms=100))
    assert feed(m, "110110") == []
    assert m.state is TurnState.QUIET
    m = TurnMachine(TurnParams(start_ms=60, stop_ms=100))
    assert feed(m, "0111") == [SpeechStarted(t_ms=20)]
    assert m.state is TurnState.SPEAKING


def test_stop_after_hangover_with_turn_length() -> None:
    m = TurnMachine(TurnParams(start_ms=40, stop_ms=100))
    events = feed(m, "0" + "1" * 10 + "00" + "1" + "0" * 5)
    assert events == [SpeechStarted(t_ms=20), SpeechStopped(t_ms=280, duration_ms=260)]
    assert m.state is TurnState.QUIET


def test_params_validated() -> None:
    with pytest.raises(ValueError, match=r"^aggressiveness must be 0\.\.3, got 4$"):
        TurnParams(aggressiveness=4)


def _frames(pcm: np.ndarray, rate: int = 8000) -> list[InputAudio]:
    n = rate // 50
    return [InputAudio(pcm[i:i + n].astype("<i2").tobytes(), rate, t_ms=i * 1000 // rate)
            for i in range(0, len(pcm) - n + 1, n)]


def test_vad_on_synthetic_audio() -> None:
    rate = 8000
    rng = np.random.default_rng(1)
    t = np.arange(rate) / rate
    # a voiced-like signal: harmonics of 150 Hz with a syllable-rate envelope
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12))
    voice = voice * 6000
    quiet = rng.normal(0, 3, rate // 2)  # near-digital silence
    audio = np.concatenate([quiet, voice, quiet, quiet])
    det = VadTurnDetector(TurnParams(start_ms=60, stop_ms=300, aggressiveness=2))
    out = run(det, _frames(audio))
    speech = [f for f in out if isinstance(f, SpeechStarted | SpeechStopped)]
    assert [type(f) for f in speech] == [SpeechStarted, SpeechStopped]
    start, stop = speech
    assert isinstance(start, SpeechStarted) and 400 <= start.t_ms <= 700
    assert isinstance(stop, SpeechStopped) and 1400 <= stop.t_ms <= 1700
    # every input frame passes through
    assert sum(isinstance(f, InputAudio) for f in out) == len(audio) // 160


def test_vad_on_spoken_audio() -> None:
    """Speech rendered by espeak-ng, framed as a call would deliver it."""
    from vio_sbc.agent.tts import EspeakTts

    pcm = EspeakTts().render("Hello, I would like to book a table for two.", 8000)
    speech = np.frombuffer(pcm, dtype="<i2")
    silence = np.zeros(8000, dtype=np.int16)
    audio = np.concatenate([silence, speech, silence])
    det = VadTurnDetector(TurnParams(start_ms=60, stop_ms=700))
    out = run(det, _frames(audio))
    events = [f for f in out if isinstance(f, SpeechStarted | SpeechStopped)]
    assert [type(f) for f in events] == [SpeechStarted, SpeechStopped]
    spoken_ms = len(speech) * 1000 // 8000
    stop = events[1]
    assert isinstance(stop, SpeechStopped)
    assert abs(stop.duration_ms - spoken_ms) < 800


def test_frames_webrtcvad_refuses_are_unvoiced_and_counted() -> None:
    from vio_sbc.agent.turns import VoiceCount

    count = VoiceCount()
    det = VadTurnDetector(TurnParams(), 20, count=count)
    loud = (np.sin(np.arange(300) / 3.0) * 12000).astype("<i2").tobytes()  # 11025 Hz: refused
    run(det, [InputAudio(pcm=loud, sample_rate=11025, t_ms=0)])
    assert count.errors == 1 and count.voiced_frames == 0 and det.voiced_frames == 0
