from __future__ import annotations

import queue
import threading

from vio_sbc.agent.agents import EchoAgent, ScriptedAgent, ToneAgent, make_agent
from vio_sbc.agent.engine import Engine, Session
from vio_sbc.agent.frames import (
    CallEnded,
    CallStarted,
    Frame,
    HangupRequest,
    InputAudio,
    InputDtmf,
    Interrupt,
    OutputAudio,
    SpeechStarted,
    SpeechStopped,
    Transcription,
    TranscriptLine,
)
from vio_sbc.agent.processor import run
from vio_sbc.config.model import AgentConfig, ScriptedOptions


class FakeTts:
    """In-memory TTS: 10 ms of a fixed byte per character (no engine needed here)."""

    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        return b"\x01\x00" * (len(text) * sample_rate // 100)


START = CallStarted(call_id="c", number="+1", caller="sip:a@b", agent="a", sample_rate=8000)


def test_scripted_greets_then_falls_back_then_says_goodbye() -> None:
    cfg = AgentConfig("r", "scripted", greeting="Hi", max_turns=2, fallback="Again?",
                      goodbye="Bye")
    out = run(ScriptedAgent(cfg, FakeTts()), [
        START, InputAudio(b"", 8000, t_ms=500), Transcription("", 600, 1000),
        InputDtmf("5", t_ms=1200), Transcription("weather", 1500, 2000),
        Transcription("more", 2500, 3000),
    ])
    texts = [f.text for f in out if isinstance(f, TranscriptLine)]
    # a stray digit is logged only; the second turn ends the call, later ones are ignored
    assert texts == ["Hi", "[not understood]", "Again?", "[DTMF 5]", "weather", "Bye"]
    assert isinstance(out[-1], HangupRequest) and out[-1].reason == "max_turns"
    audio = [f for f in out if isinstance(f, OutputAudio)]
    assert [len(a.pcm) for a in audio] == [2 * 160, 6 * 160, 3 * 160]


def test_echo_repeats_the_turn_with_preroll() -> None:
    agent = EchoAgent(AgentConfig("e", "echo"))
    frames: list[Frame] = [START]
    frames += [InputAudio(bytes([i]) * 320, 8000, t_ms=i * 20) for i in range(12)]
    frames.append(SpeechStarted(t_ms=240))
    frames += [InputAudio(b"\x7f" * 320, 8000, t_ms=240 + i * 20) for i in range(5)]
    frames.append(SpeechStopped(t_ms=340, duration_ms=100))
    out = run(agent, frames)
    assert len(out) == 1 and isinstance(out[0], OutputAudio)
    # 10 frames of pre-roll (the last 200 ms) then the 5 speech frames
    assert out[0].pcm == b"".join(bytes([i]) * 320 for i in range(2, 12)) + b"\x7f" * 1600


def test_tone_agent_plays_on_start() -> None:
    out = run(ToneAgent(AgentConfig("t", "tone", options={"hz": 440, "ms": 100})), [START])
    assert isinstance(out[0], OutputAudio) and len(out[0].pcm) == 1600


def test_make_agent_by_kind() -> None:
    assert isinstance(make_agent(AgentConfig("e", "echo"), FakeTts()), EchoAgent)


class Script:
    """Processor that answers each InputDtmf with audio, '#' with Interrupt, '*' hangup."""

    def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, InputDtmf):
            if frame.digit == "#":
                return [Interrupt()]
            if frame.digit == "*":
                return [HangupRequest()]
            return [OutputAudio(b"\x02\x00" * 400, 8000)]
        return []


def test_engine_chunks_audio_flushes_on_interrupt_and_routes_control() -> None:
    control: queue.Queue[tuple[Session, Frame]] = queue.Queue()
    eng = Engine(lambda s, f: control.put((s, f)))
    eng.start()
    try:
        s = eng.session("c1", 8000, [Script()])
        s.push(InputDtmf("1"))
        s.push(InputDtmf("*"))
        sess, frame = control.get(timeout=5)
        assert isinstance(frame, HangupRequest) and sess is s
        # 400 samples -> 3 frames of 160, the last zero-padded
        frames = [s.next_playout() for _ in range(4)]
        assert [len(f) if f else None for f in frames] == [320, 320, 320, None]
        assert frames[2] == b"\x02\x00" * 80 + bytes(160)
        assert (s.tx_frames, s.tx_audio_frames) == (4, 3)
        s.push(InputDtmf("1"))
        s.push(InputDtmf("#"))
        _, frame = control.get(timeout=5)
        assert isinstance(frame, Interrupt)
        assert s.next_playout() is None  # flushed
        s.push_audio(bytes(320))
        s.push(CallEnded("caller"))
        done = threading.Event()
        eng.inbox.put((s, -1, InputDtmf("1")))  # ignored after CallEnded
        s2 = eng.session("c2", 8000, [Script()])
        s2.push(InputDtmf("*"))
        sess, _ = control.get(timeout=5)
        assert sess is s2 and s.ended and not s.playing
        done.set()
    finally:
        eng.stop()


def test_scripted_transfer_digit_asks_for_transfer_and_reports_failure() -> None:
    from vio_sbc.agent.frames import TransferFailed, TransferRequest

    cfg = AgentConfig("r", "scripted", greeting="Hi", scripted=ScriptedOptions(
        transfer_digit="0", transfer_to="sip:desk@127.0.0.2", transfer_say="Hold on"))
    agent = ScriptedAgent(cfg, FakeTts())
    out = run(agent, [START, InputDtmf("5"), InputDtmf("0")])
    assert out[-1] == TransferRequest("sip:desk@127.0.0.2")
    texts = [f.text for f in out if isinstance(f, TranscriptLine)]
    assert texts == ["Hi", "[DTMF 5]", "[DTMF 0]", "Hold on"]
    failed = run(agent, [TransferFailed("sip:desk@127.0.0.2", 501, "Not Implemented")])
    assert [f.text for f in failed if isinstance(f, TranscriptLine)] == [
        "Sorry, I could not transfer your call."]
    plain = ScriptedAgent(AgentConfig("r", "scripted"), FakeTts())
    assert not any(isinstance(f, TransferRequest) for f in run(plain, [START, InputDtmf("0")]))
