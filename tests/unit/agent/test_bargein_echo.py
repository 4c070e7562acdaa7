from __future__ import annotations

from collections import deque

import numpy as np

from vio_sbc.agent.bargein import BargeIn
from vio_sbc.agent.echo import EchoGuard
from vio_sbc.agent.frames import InputAudio, Interrupt, SpeechStarted, SpeechStopped
from vio_sbc.agent.processor import run
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.config.model import BargeInSettings
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode


def _audio(t: int) -> InputAudio:
    return InputAudio(b"\0" * 320, 8000, t_ms=t)


def test_barge_in_after_min_speech_while_playing() -> None:
    b = BargeIn(BargeInSettings(enabled=True, min_speech_ms=100), lambda: True)
    out = run(b, [_audio(0), _audio(20), SpeechStarted(0), _audio(40), _audio(60), _audio(80)])
    ints = [f for f in out if isinstance(f, Interrupt)]
    assert ints == [Interrupt(t_ms=100)]  # the frame ending at 100 ms crossed the threshold


def test_no_barge_in_when_disabled_idle_or_too_short() -> None:
    frames = [_audio(0), SpeechStarted(0), *[_audio(t) for t in range(20, 400, 20)]]
    assert not any(isinstance(f, Interrupt) for f in
                   run(BargeIn(BargeInSettings(enabled=False), lambda: True), frames))
    assert not any(isinstance(f, Interrupt) for f in
                   run(BargeIn(BargeInSettings(), lambda: False), frames))
    short = [_audio(0), SpeechStarted(0), _audio(20), SpeechStopped(40, 40), _audio(300)]
    assert not any(isinstance(f, Interrupt) for f in
                   run(BargeIn(BargeInSettings(min_speech_ms=200), lambda: True), short))


def _speech(text: str, voice: str) -> np.ndarray:
    pcm = EspeakTts().render(text, 8000, voice)
    return np.frombuffer(pcm[: len(pcm) // 320 * 320], dtype="<i2")


def test_echo_guard_knows_our_audio_but_not_the_caller() -> None:
    prompt = _speech("Thanks for calling. How can I help?", "en-us")
    frames = [prompt[i:i + 160].tobytes() for i in range(0, len(prompt), 160)]
    played: deque[bytes | None] = deque(maxlen=50)
    guard = EchoGuard(lambda: tuple(played))
    echo_hits = 0
    for i, f in enumerate(frames):
        played.append(f)
        if i >= 4:  # delayed 80 ms, 10 dB quieter, through G.711 and back
            back = ulaw_decode(ulaw_encode(np.frombuffer(frames[i - 4], "<i2") // 3))
            echo_hits += guard.is_echo(back.tobytes())
    assert echo_hits == len(frames) - 4
    # a caller talking over it: loud frames are almost never taken for echo
    caller = _speech("I would like to speak with somebody about the invoice", "en-us+m3")
    other = EchoGuard(lambda: tuple(played))
    loud = [caller[i:i + 160] for i in range(0, len(caller), 160)]
    loud = [f for f in loud if np.sqrt(np.mean(f.astype(float) ** 2)) > 200]
    false = sum(other.is_echo(f.tobytes()) for f in loud)
    assert len(loud) > 80 and false <= len(loud) // 10


def test_echo_guard_idle_without_reference() -> None:
    guard = EchoGuard(lambda: (None, None))
    assert not guard.is_echo(_speech("hello", "en-us")[:160].tobytes())


def test_turn_latencies_match_each_turn_to_the_next_burst() -> None:
    from vio_sbc.agent.latency import turn_latencies

    # greeting burst at 0; turn ends at 5.0 (answered at 5.75) and 9.0 (unanswered
    # before the next turn at 12.0, answered at 12.5)
    assert turn_latencies([5.0, 9.0, 12.0], [0.0, 5.75, 12.5]) == [750.0, 500.0]
    assert turn_latencies([], [1.0]) == [] and turn_latencies([1.0], []) == []


def test_pure_tones_are_not_speech_for_turn_taking() -> None:
    from vio_sbc.agent.audio import tonality, tone
    from vio_sbc.agent.turns import TONE_THRESHOLD, TurnParams, VadTurnDetector

    beep = tone(1000, 2000, 8000, amplitude=0.5)
    assert tonality(beep[:320]) > 0.99
    talk = _speech("I would like to speak with somebody about the invoice", "en-us+f3")
    loud = [talk[i:i + 160] for i in range(0, len(talk), 160)]
    assert max(tonality(f.tobytes()) for f in loud
               if np.sqrt(np.mean(f.astype(float) ** 2)) > 300) < TONE_THRESHOLD
    det = VadTurnDetector(TurnParams(start_ms=60, stop_ms=300))
    frames = [InputAudio(beep[i:i + 320], 8000, t_ms=i // 16) for i in range(0, len(beep), 320)]
    out = run(det, frames)
    assert det.voiced_frames > 50 and det.tone_frames == det.voiced_frames
    assert not any(isinstance(f, SpeechStarted) for f in out)
