"""False-hangup rate of the scripted agent: how often a caller who did not ask to end
(or transfer) the call gets it ended anyway, because the grammar recogniser forced
what it heard onto "bye" (issue 20: espeak's "sales" came back as "bye").

Every phrase of every intent of the agent, and a set of sentences outside its
grammar, are spoken by espeak-ng in several voices (`EspeakTts`, 8 kHz), padded like
a caller turn (300 ms pre-roll, 600 ms of silence until the VAD ends the turn),
passed through G.711 µ-law and recognised by `PocketsphinxStt` with the agent's
grammar; the transcription goes to a fresh `ScriptedAgent`. When the agent asks for
confirmation, the caller answers in the same voice: "yes" if the phrase was one of
the intent's own ending phrases, "no" otherwise. Counted per utterance:

- false hangup: the agent hung up, and the phrase was not one of a hangup intent
- false transfer: the agent transferred, and the phrase was not that transfer's
- ending kept: a hangup/transfer phrase that did end (after confirmation or not)

Printed for the policy given (`--min-confidence`, `--confirm-below`: 0.35/0.65) and for
"no policy" (the grammar without "yes", every match acts: the agent before issue 20),
for the voices the thresholds were
chosen on and for held-out voices, then one JSON line.

    .venv/bin/python bench/false_hangup.py                  # config/vio.yaml, receptionist
    .venv/bin/python bench/false_hangup.py -c FILE --agent NAME [-v] [--min-confidence F]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vio_sbc.agent.confirm import ends_call, grammar_phrases  # noqa: E402
from vio_sbc.agent.frames import (  # noqa: E402
    CallStarted,
    Frame,
    HangupRequest,
    Transcription,
    TransferRequest,
)
from vio_sbc.agent.processor import run  # noqa: E402
from vio_sbc.agent.scripted import ScriptedAgent  # noqa: E402
from vio_sbc.agent.stt import PocketsphinxStt  # noqa: E402
from vio_sbc.agent.tts import EspeakTts  # noqa: E402
from vio_sbc.config import load_config  # noqa: E402
from vio_sbc.config.model import AgentConfig, Intent  # noqa: E402
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode  # noqa: E402

TUNED = ("en-us", "en-us+m3", "en-us+f3", "en-us+m7", "en-gb")  # thresholds chosen on these
HELD_OUT = ("en-us+m1", "en-us+f1", "en-us+m5", "en-us+f4", "en-gb+m2", "en-gb+f2")
OUT_OF_GRAMMAR = (
    "I would like to know the weather", "can you tell me my balance", "no thanks",
    "hello is anyone there", "what time do you close", "my name is John", "sails",
    "I want to buy a car", "by the way", "good morning", "hi", "my order has not arrived",
    "okay", "thank you", "what are your opening hours", "I am calling about my invoice",
    "could you repeat that", "sorry I did not hear you", "buy", "hold on a second",
)
RATE = 8000
START = CallStarted(call_id="bench", number="+1", caller="bench", agent="bench",
                    sample_rate=RATE)


class Caller:
    """espeak-ng speech as one telephone caller turn (cached per text and voice)."""

    def __init__(self) -> None:
        self.tts = EspeakTts()
        self.cache: dict[tuple[str, str], bytes] = {}

    def turn(self, text: str, voice: str) -> bytes:
        key = (text, voice)
        if key not in self.cache:
            pcm = np.frombuffer(self.tts.render(text, RATE, voice), dtype="<i2")
            pad = np.zeros(RATE * 300 // 1000, dtype="<i2")
            pcm = np.concatenate([pad, pcm, pad, pad])
            self.cache[key] = ulaw_decode(ulaw_encode(pcm)).astype("<i2").tobytes()
        return self.cache[key]


def ending(out: list[Frame]) -> Frame | None:
    return next((f for f in out if isinstance(f, (HangupRequest, TransferRequest))), None)


def one(cfg: AgentConfig, stt: PocketsphinxStt, caller: Caller, tts: EspeakTts, text: str,
        voice: str, meant: Intent | None) -> tuple[str, bool, str]:
    """(outcome, asked to confirm, what was heard) of one caller turn saying `text`."""
    agent = ScriptedAgent(cfg, tts)
    heard, conf = stt.recognise(caller.turn(text, voice), RATE)
    out = run(agent, [START, Transcription(heard, 0, 1000, confidence=conf)])
    asked = agent.confirming is not None
    trace = f"{heard!r} {conf if conf is None else round(conf, 2)}"
    if asked:
        answer = "yes" if meant is not None and ends_call(meant) else "no"
        heard, conf = stt.recognise(caller.turn(answer, voice), RATE)
        out = run(agent, [Transcription(heard, 2000, 3000, confidence=conf)])
        trace += f", asked; {answer!r} heard {heard!r} {conf if conf is None else round(conf, 2)}"
    end = ending(out)
    if isinstance(end, HangupRequest):
        ok = meant is not None and meant.action == "hangup"
        return ("hangup" if ok else "false_hangup"), asked, trace
    if isinstance(end, TransferRequest):
        ok = meant is not None and meant.action == "transfer" and meant.target == end.target
        return ("transfer" if ok else "false_transfer"), asked, trace
    return "stayed", asked, trace


def measure(cfg: AgentConfig, voices: tuple[str, ...], stt: PocketsphinxStt, caller: Caller,
            tts: EspeakTts, verbose: bool = False) -> dict[str, float | int]:
    said = [(p, i) for i in cfg.intents for p in i.phrases]
    said += [(s, None) for s in OUT_OF_GRAMMAR]
    c: Counter[str] = Counter()
    for text, meant in said:
        for voice in voices:
            outcome, asked, trace = one(cfg, stt, caller, tts, text, voice, meant)
            if verbose and outcome.startswith("false"):
                print(f"  {outcome}: {text!r} ({voice}) heard {trace}")
            wants_end = meant is not None and ends_call(meant)
            c["utterances"] += 1
            c["not_ending" if not wants_end else "ending"] += 1
            c[outcome] += 1
            c["asked"] += asked
            if wants_end and outcome in ("hangup", "transfer"):
                c["ending_kept"] += 1
    n, e = max(1, c["not_ending"]), max(1, c["ending"])
    return {"utterances": c["utterances"], "not_ending": c["not_ending"], "ending": c["ending"],
            "false_hangup": c["false_hangup"], "false_transfer": c["false_transfer"],
            "false_hangup_rate": round(c["false_hangup"] / n, 4),
            "false_end_rate": round((c["false_hangup"] + c["false_transfer"]) / n, 4),
            "ending_kept_rate": round(c["ending_kept"] / e, 4),
            "asked_to_confirm": c["asked"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", "--config", default=str(ROOT / "config" / "vio.yaml"))
    ap.add_argument("--agent", default="receptionist")
    ap.add_argument("--min-confidence", type=float, default=0.35,
                    help="the policy measured (the config's default 0 is off)")
    ap.add_argument("--confirm-below", type=float, default=0.65)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each false hangup/transfer: what was said and heard")
    args = ap.parse_args()
    cfg = load_config(args.config).agents[args.agent]
    cfg = dataclasses.replace(cfg, scripted=dataclasses.replace(
        cfg.scripted, min_confidence=args.min_confidence, confirm_below=args.confirm_below))
    stt = PocketsphinxStt(grammar_phrases(cfg.intents))
    caller, tts = Caller(), EspeakTts()
    none = dataclasses.replace(cfg, scripted=dataclasses.replace(
        cfg.scripted, min_confidence=0.0, confirm_below=0.0))
    t0 = time.monotonic()
    results = {}
    print(f"agent {args.agent}: {sum(len(i.phrases) for i in cfg.intents)} intent phrases, "
          f"{len(OUT_OF_GRAMMAR)} out-of-grammar sentences; policy min_confidence "
          f"{cfg.scripted.min_confidence}, confirm_below {cfg.scripted.confirm_below}")
    print(f"{'policy':10} {'voices':9} {'said':>5} {'false hangup':>14} {'false end':>11} "
          f"{'ending kept':>12} {'confirm asked':>14}")
    # "none" is the agent before issue 20: its grammar without "yes", every match acts
    before = PocketsphinxStt([p for i in cfg.intents for p in i.phrases])
    for pname, pcfg, pstt in (("none", none, before), ("confirm", cfg, stt)):
        for vname, voices in (("tuned", TUNED), ("held-out", HELD_OUT)):
            r = measure(pcfg, voices, pstt, caller, tts, args.verbose and pname == "confirm")
            results[f"{pname}/{vname}"] = r
            print(f"{pname:10} {vname:9} {r['utterances']:>5} "
                  f"{r['false_hangup']:>4}/{r['not_ending']:<4} {r['false_hangup_rate']:>5.1%} "
                  f"{r['false_end_rate']:>10.1%} {r['ending_kept_rate']:>11.1%} "
                  f"{r['asked_to_confirm']:>14}")
    print(json.dumps({"bench": "false_hangup", "agent": args.agent,
                      "min_confidence": cfg.scripted.min_confidence,
                      "confirm_below": cfg.scripted.confirm_below, "tuned_voices": TUNED,
                      "held_out_voices": HELD_OUT, "results": results,
                      "seconds": round(time.monotonic() - t0, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
