"""A heard intent that ends or transfers the call: confidence floor, confirmation below
a second threshold; the scripted agent's confirmation dialogue; pocketsphinx's score."""

from __future__ import annotations

import dataclasses

import numpy as np

from vio_sbc.agent.confirm import ConfirmPolicy, Verdict, grammar_phrases
from vio_sbc.agent.frames import (
    CallStarted,
    Frame,
    HangupRequest,
    InputDtmf,
    Transcription,
    TranscriptLine,
    TransferRequest,
)
from vio_sbc.agent.processor import run
from vio_sbc.agent.scripted import ScriptedAgent
from vio_sbc.agent.stt import PocketsphinxStt, path_confidence
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.config.agents import ScriptedOptions, builtin_agent
from vio_sbc.config.model import AgentConfig, Intent
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

SALES = Intent("sales", phrases=("sales",), digits="1", reply="Sales.")
HUMAN = Intent("human", phrases=("operator",), digits="0", reply="Transferring.",
               action="transfer", target="sip:desk@127.0.0.1")
BYE = Intent("bye", phrases=("goodbye", "bye"), digits="9", reply="Bye.", action="hangup")
START = CallStarted(call_id="c", number="+1", caller="a", agent="r", sample_rate=8000)
POLICY = ConfirmPolicy(0.35, 0.65)


class FakeTts:
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        return b"\x01\x00" * 160


def test_judge_holds_back_only_ending_intents() -> None:
    assert POLICY.judge(SALES, 0.0) is Verdict.ACT
    assert POLICY.judge(SALES, None) is Verdict.ACT
    for intent in (BYE, HUMAN):
        assert POLICY.judge(intent, 0.9) is Verdict.ACT
        assert POLICY.judge(intent, 0.65) is Verdict.ACT
        assert POLICY.judge(intent, 0.5) is Verdict.CONFIRM
        assert POLICY.judge(intent, 0.35) is Verdict.CONFIRM
        assert POLICY.judge(intent, 0.34) is Verdict.REJECT
        assert POLICY.judge(intent, None) is Verdict.REJECT
    # a transfer intent without a target does not transfer: nothing to hold back
    assert POLICY.judge(dataclasses.replace(HUMAN, target=None), 0.0) is Verdict.ACT


def test_confirmed_needs_a_clear_yes() -> None:
    assert POLICY.confirmed("yes", 0.5)
    assert not POLICY.confirmed("yes", 0.2)
    assert not POLICY.confirmed("yes", None)
    assert not POLICY.confirmed("no", 0.9)
    assert not POLICY.confirmed("", 0.9)


def test_grammar_gets_yes_only_with_a_spoken_ending_intent() -> None:
    assert grammar_phrases([SALES]) == ["sales"]
    assert grammar_phrases([SALES, BYE]) == ["sales", "goodbye", "bye", "yes"]
    digits_only = dataclasses.replace(BYE, phrases=())
    assert grammar_phrases([SALES, digits_only]) == ["sales"]


def test_path_confidence() -> None:
    # word over 10 frames at -2/frame plus silence at -1/frame: -30 per 10 word frames
    segs = [("<s>", 1.0, 0, 0), ("<sil>", float(np.exp(-10.0)), 0, 9),
            ("bye", float(np.exp(-20.0)), 10, 19), ("</s>", 1.0, 19, 19)]
    assert abs(path_confidence(segs) - (1 - 3 / 20)) < 1e-9
    # speech the grammar pushed into silence costs the word: far below the floor
    bad = [("<sil>", 0.0, 0, 80), ("bye", float(np.exp(-60.0)), 81, 100)]
    assert path_confidence(bad) == 0.0
    assert path_confidence([("<sil>", 1.0, 0, 9)]) == 0.0


def agent(intents: tuple[Intent, ...] = (SALES, HUMAN, BYE)) -> ScriptedAgent:
    cfg = AgentConfig(name="r", kind="scripted", greeting="Hi.", intents=intents,
                      scripted=ScriptedOptions(min_confidence=0.35, confirm_below=0.65))
    return ScriptedAgent(cfg, FakeTts())


def test_policy_off_by_default_every_match_acts() -> None:
    cfg = AgentConfig(name="r", kind="scripted", greeting="Hi.", intents=(BYE,))
    out = run(ScriptedAgent(cfg, FakeTts()), [START, Transcription("bye", 0, 500)])
    assert actions(out) == [HangupRequest("intent:bye")]


def said(out: list[Frame]) -> list[str]:
    return [f.text for f in out if isinstance(f, TranscriptLine) and f.speaker == "agent"]


def actions(out: list[Frame]) -> list[Frame]:
    return [f for f in out if isinstance(f, (HangupRequest, TransferRequest))]


def test_confident_goodbye_hangs_up_at_once() -> None:
    out = run(agent(), [START, Transcription("goodbye", 0, 500, confidence=0.8)])
    assert said(out) == ["Hi.", "Bye."]
    assert actions(out) == [HangupRequest("intent:bye")]


def test_weak_goodbye_is_confirmed_first() -> None:
    a = agent()
    out = run(a, [START, Transcription("bye", 0, 500, confidence=0.5)])
    assert said(out) == ["Hi.", a.cfg.scripted.confirm_hangup] and actions(out) == []
    out = run(a, [Transcription("yes", 600, 900, confidence=0.5)])
    assert said(out) == ["Bye."] and actions(out) == [HangupRequest("intent:bye")]


def test_weak_goodbye_answered_no_keeps_the_call() -> None:
    a = agent()
    run(a, [START, Transcription("bye", 0, 500, confidence=0.5)])
    out = run(a, [Transcription("no", 600, 900, confidence=0.9)])
    assert said(out) == [a.cfg.scripted.not_confirmed] and actions(out) == []
    # a weak "yes" is no confirmation either
    run(a, [Transcription("bye", 1000, 1500, confidence=0.5)])
    out = run(a, [Transcription("yes", 1600, 1900, confidence=0.1)])
    assert actions(out) == [] and not a.done
    # the conversation goes on
    out = run(a, [Transcription("sales", 2000, 2500, confidence=0.1)])
    assert said(out) == ["Sales."]


def test_too_weak_goodbye_is_not_understood() -> None:
    """The issue's case: "sales" heard as "bye" with a poor score."""
    a = agent()
    out = run(a, [START, Transcription("bye", 0, 500, confidence=0.05)])
    assert said(out) == ["Hi.", a.cfg.fallback] and actions(out) == []
    out = run(a, [Transcription("goodbye", 600, 900)])  # no score at all: same
    assert said(out) == [a.cfg.fallback] and actions(out) == []


def test_weak_transfer_asks_its_own_question_and_digits_are_never_doubted() -> None:
    a = agent()
    out = run(a, [START, Transcription("operator", 0, 500, confidence=0.4)])
    assert said(out)[-1] == a.cfg.scripted.confirm_transfer
    out = run(a, [InputDtmf("0", t_ms=700)])  # a key instead of yes: the key's intent
    assert actions(out) == [TransferRequest("sip:desk@127.0.0.1")]
    b = agent()
    assert actions(run(b, [START, InputDtmf("9", t_ms=100)])) == [HangupRequest("intent:bye")]


def _phone(text: str, voice: str) -> bytes:
    pcm = np.frombuffer(EspeakTts().render(text, 8000, voice), dtype="<i2")
    pad = np.zeros(2400, dtype="<i2")  # 300 ms before (pre-roll), 600 ms after (VAD stop)
    pcm = np.concatenate([pad, pcm, pad, pad])
    return ulaw_decode(ulaw_encode(pcm)).astype("<i2").tobytes()


def test_pocketsphinx_scores_the_issue_case_below_the_floor() -> None:
    """Measured on the built-in agent's grammar: the espeak en-us+m3 "sales" of the
    issue comes back as "bye" (or nothing) with a confidence under the floor; a
    plainly said "bye" scores above it."""
    stt = PocketsphinxStt(grammar_phrases(builtin_agent().intents))
    text, conf = stt.recognise(_phone("sales", "en-us+m3"), 8000)
    assert text != "bye" or (conf is not None and conf < POLICY.min_confidence), (text, conf)
    text, conf = stt.recognise(_phone("bye", "en-us"), 8000)
    assert text == "bye" and conf is not None and conf >= POLICY.min_confidence, conf
