"""The engine's fast path between turns: an unvoiced caller frame while no turn is in
progress skips the pipeline dispatch (the detector's `quiet`, the others' `idle_audio`)
and changes nothing anyone sees: the same control frames, playout and counts as the
full dispatch of every frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vio_sbc.agent.engine import Engine, Session
from vio_sbc.agent.frames import CallStarted, Frame, InputDtmf
from vio_sbc.agent.pipeline import AgentKit
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.config.agents import builtin_agent
from vio_sbc.config.model import AgentConfig, SttSettings
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode


def _phone(text: str) -> bytes:
    pcm = np.frombuffer(EspeakTts().render(text, 8000, "en-us+m3"), dtype="<i2")
    out = ulaw_decode(ulaw_encode(pcm)).astype("<i2").tobytes()
    return out[: len(out) // 320 * 320]


def _run(cfg: AgentConfig, audio: bytes, fast: bool) -> tuple[list[Frame], list[object], Engine,
                                                               Session]:
    control: list[Frame] = []
    eng = Engine(lambda s, f: control.append(f))
    kit = AgentKit({cfg.name: cfg}, 8000, EspeakTts())
    sess = eng.session("c", 8000, kit.pipeline(cfg))
    if not fast:
        sess._fast_known = True  # the full dispatch of every frame
    eng._run_frame(sess, CallStarted("c", "+1", "sip:a@b", cfg.name, 8000))
    for i in range(len(audio) // 320):
        if i == 120:
            eng._run_frame(sess, InputDtmf("7", t_ms=i * 20))
        eng._audio(sess, i, audio[i * 320:(i + 1) * 320], 0.0)
        while sess.playout and i % 2 == 0:  # the clock plays one frame every other tick
            sess.next_playout()
            break
    return control, list(sess.playout), eng, sess


@pytest.mark.parametrize("agent", ["scripted", "echo"])
def test_fast_path_changes_nothing_but_the_work_done(agent: str) -> None:
    scripted = dataclasses.replace(builtin_agent(), stt=SttSettings("none"))
    cfg = scripted if agent == "scripted" else AgentConfig("e", "echo")
    audio = (bytes(16000) + _phone("support please") + bytes(24000) + _phone("goodbye")
             + bytes(16000))
    ctl_slow, out_slow, eng_slow, s_slow = _run(cfg, audio, fast=False)
    ctl_fast, out_fast, eng_fast, s_fast = _run(cfg, audio, fast=True)
    assert eng_slow.fast_frames == 0
    assert eng_fast.fast_frames > len(audio) // 320 // 3  # the silences took the fast path
    assert ctl_fast == ctl_slow and ctl_fast  # barge-ins, transcripts alike
    assert out_fast == out_slow
    assert s_fast.voice.voiced_frames == s_slow.voice.voiced_frames > 0


def test_a_websocket_agent_gets_every_frame() -> None:
    from vio_sbc.agent.turns import TurnParams, VadTurnDetector

    class NeedsAll:
        def process(self, frame: Frame) -> list[Frame]:
            return [frame]

    sess = Session("c", 8000, [VadTurnDetector(TurnParams()), NeedsAll()],
                   Engine(lambda s, f: None).inbox)
    assert sess.fast_path() is None
