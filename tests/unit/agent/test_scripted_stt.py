from __future__ import annotations

import numpy as np
import pytest

from vio_sbc.agent.frames import (
    CallStarted,
    HangupRequest,
    InputDtmf,
    SpeechStarted,
    SpeechStopped,
    Transcription,
    TranscriptLine,
    TransferRequest,
)
from vio_sbc.agent.processor import run
from vio_sbc.agent.scripted import DigitRouter, ScriptedAgent, match_phrase
from vio_sbc.agent.stt import PocketsphinxStt, SttError, TurnRecorder, jsgf
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.agent.turns import TurnParams, VadTurnDetector
from vio_sbc.config.agents import builtin_agent
from vio_sbc.config.model import AgentConfig, Intent
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

INTENTS = (
    Intent("sales", phrases=("sales", "talk to sales"), digits="1", reply="Sales."),
    Intent("human", phrases=("operator",), digits="00", reply="Transferring.",
           action="transfer", target="sip:desk@127.0.0.1"),
    Intent("bye", phrases=("goodbye",), digits="9", reply="Bye.", action="hangup"),
)
START = CallStarted(call_id="c", number="+1", caller="a", agent="r", sample_rate=8000)


class FakeTts:
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        return b"\x01\x00" * 160


def test_match_phrase_needs_contiguous_words() -> None:
    assert match_phrase("i want to talk to sales", INTENTS) is INTENTS[0]
    assert match_phrase("sale", INTENTS) is None
    assert match_phrase("", INTENTS) is None


def test_digit_router_waits_for_multi_digit_codes() -> None:
    r = DigitRouter(INTENTS)
    assert r.press("0") == (None, None)
    assert r.press("0") == (INTENTS[1], None)
    assert r.press("5") == (None, "5")
    assert r.press("1") == (INTENTS[0], None)


def test_scripted_intents_reply_transfer_and_hang_up() -> None:
    cfg = AgentConfig("r", "scripted", greeting="Hi", intents=INTENTS)
    out = run(ScriptedAgent(cfg, FakeTts()),
              [START, Transcription("sales", 0, 500), InputDtmf("0"), InputDtmf("0")])
    assert [f.text for f in out if isinstance(f, TranscriptLine)] == [
        "Hi", "sales", "Sales.", "[DTMF 0]", "[DTMF 0]", "Transferring."]
    assert out[-1] == TransferRequest("sip:desk@127.0.0.1")
    out = run(ScriptedAgent(cfg, FakeTts()), [START, InputDtmf("9"), Transcription("sales", 0, 1)])
    assert out[-1] == HangupRequest("intent:bye")  # nothing after the hangup intent


def test_turn_recorder_submits_turn_with_preroll_or_falls_back_when_full() -> None:
    from vio_sbc.agent.frames import InputAudio
    got: list[tuple[bytes, int, int]] = []
    rec = TurnRecorder(lambda pcm, s, e: got.append((pcm, s, e)) is None, preroll_ms=40)
    frames = [InputAudio(bytes([i]) * 320, 8000, t_ms=i * 20) for i in range(4)]
    run(rec, [*frames, SpeechStarted(60), InputAudio(b"\x09" * 320, 8000, 80),
              SpeechStopped(100, 40)])
    assert got == [(b"\x02" * 320 + b"\x03" * 320 + b"\x09" * 320, 60, 100)]
    full = TurnRecorder(lambda pcm, s, e: False)
    out = run(full, [SpeechStarted(0), SpeechStopped(100, 100)])
    assert out[-1] == Transcription("", 0, 100)


def test_jsgf_and_unknown_words() -> None:
    assert jsgf(["b", "a"]) == "#JSGF V1.0;\ngrammar intents;\npublic <utterance> = a | b;\n"
    with pytest.raises(SttError, match="pocketsphinx dictionary has no word 'xyzzyq'"):
        PocketsphinxStt(["xyzzyq"])


def _phone(text: str) -> bytes:
    pcm = np.frombuffer(EspeakTts().render(text, 8000, "en-us+m3"), dtype="<i2")
    return ulaw_decode(ulaw_encode(pcm)).astype("<i2").tobytes()  # through G.711


def test_pocketsphinx_grammar_recognises_default_intents_on_telephone_audio() -> None:
    phrases = [p for i in builtin_agent().intents for p in i.phrases]
    stt = PocketsphinxStt(phrases)
    assert stt.transcribe(_phone("support"), 8000) == "support"
    assert stt.transcribe(_phone("goodbye"), 8000) in ("goodbye", "bye")
    assert stt.transcribe(_phone("the weather is nice today"), 8000) not in phrases


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_vad_detector_takes_10_20_30_ms_frames(frame_ms: int) -> None:
    from vio_sbc.agent.frames import InputAudio
    det = VadTurnDetector(TurnParams(start_ms=60, stop_ms=300), frame_ms=frame_ms)
    pcm = bytes(4000) + _phone("hello there how are you") + bytes(8000)
    frames = [InputAudio(pcm[i:i + 320], 8000, t_ms=i // 16) for i in range(0, len(pcm) - 319, 320)]
    events = [f for f in run(det, frames) if isinstance(f, SpeechStarted | SpeechStopped)]
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    assert 200 <= events[0].t_ms <= 400


def test_interrupt_from_a_middle_stage_flushes_playout_in_the_same_dispatch() -> None:
    """Barge-in within one frame: the agent after BargeIn swallows Interrupt, yet the
    engine has already cleared the playout before the dispatch returns."""
    import queue as _q

    from vio_sbc.agent.engine import Engine
    from vio_sbc.agent.frames import Frame, InputAudio, Interrupt

    class Cutter:
        def process(self, frame: Frame) -> list[Frame]:
            return [frame, Interrupt(t_ms=40)] if isinstance(frame, InputAudio) else [frame]

    class Swallower:
        def process(self, frame: Frame) -> list[Frame]:
            return []

    control: _q.SimpleQueue[Frame] = _q.SimpleQueue()
    eng = Engine(lambda s, f: control.put(f))
    sess = eng.session("c", 8000, [Cutter(), Swallower()])
    sess.playout.extend([b"\x01" * 320] * 50)
    eng._dispatch(sess, InputAudio(b"\0" * 320, 8000, t_ms=20))
    assert not sess.playing and sess.next_playout() is None
    assert control.get_nowait() == Interrupt(t_ms=40)


def test_stt_worker_delivers_transcriptions_and_drops_when_full() -> None:
    import threading

    from vio_sbc.agent.stt import SttJob, SttWorker

    gate = threading.Event()

    class SlowStt:
        def transcribe(self, pcm: bytes, sample_rate: int) -> str:
            gate.wait(5)
            return f"{len(pcm)} bytes"

    got: list[object] = []
    done = threading.Event()

    def deliver(f: object) -> None:
        got.append(f)
        if len(got) == 2:
            done.set()

    w = SttWorker(maxsize=1)
    w.start()
    assert w.submit(SttJob(SlowStt(), b"ab", 8000, 0, 10, deliver))
    # the worker holds the first job (blocked in transcribe) once the queue is empty
    for _ in range(500):
        if w._q.empty():
            break
        threading.Event().wait(0.01)
    assert w.submit(SttJob(SlowStt(), b"abcd", 8000, 10, 20, deliver))
    assert not w.submit(SttJob(SlowStt(), b"x", 8000, 20, 30, deliver))  # queue full
    gate.set()
    assert done.wait(5)
    w.stop()
    assert got == [Transcription("2 bytes", 0, 10), Transcription("4 bytes", 10, 20)]
    assert (w.decodes, w.dropped) == (2, 1)


def test_tts_caches_repeated_prompts() -> None:
    tts = EspeakTts()
    a = tts.render("Thanks for calling.", 8000)
    b = tts.render("Thanks for calling.", 8000)
    assert a is b and (tts.renders, tts.hits) == (1, 1)
    assert tts.render("Thanks for calling.", 16000) != a and tts.renders == 2


def test_agent_without_phrases_answers_turns_without_a_recogniser() -> None:
    from vio_sbc.agent.pipeline import AgentKit

    cfg = AgentConfig("plain", "scripted", greeting="Hi", fallback="Again?")
    kit = AgentKit({"plain": cfg}, 8000, tts=FakeTts())  # type: ignore[arg-type]
    assert kit.recognisers == {}
    from vio_sbc.agent.engine import Engine

    out: list[object] = []
    eng = Engine(lambda s, f: out.append(f))
    sess = eng.session("c", 8000, kit.pipeline(cfg))
    agent = sess.pipeline[-1]
    frames = run(agent, [START, *run(sess.pipeline[-2], [SpeechStopped(900, 400)])])
    assert [f.text for f in frames if isinstance(f, TranscriptLine)] == [
        "Hi", "[not understood]", "Again?"]


def test_agent_kit_refresh_rebuilds_only_changed_agents() -> None:
    from dataclasses import replace

    from vio_sbc.agent.pipeline import AgentKit

    a = AgentConfig("a", "scripted", intents=(Intent("s", phrases=("support",)),))
    b = AgentConfig("b", "scripted", intents=(Intent("g", phrases=("goodbye",)),))
    kit = AgentKit({"a": a, "b": b}, 8000, tts=FakeTts())  # type: ignore[arg-type]
    ra, rb = kit.recognisers["a"], kit.recognisers["b"]
    b2 = replace(b, intents=(Intent("g", phrases=("bye",)),))
    kit.refresh({"a": a, "b": b2})
    assert kit.recognisers["a"] is ra and kit.recognisers["b"] is not rb
    bad = replace(a, intents=(Intent("s", phrases=("xyzzyq",)),))
    with pytest.raises(SttError):
        kit.refresh({"a": bad})
    assert set(kit.recognisers) == {"a", "b"} and kit.recognisers["a"] is ra
