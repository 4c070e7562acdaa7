"""When a heard intent may end or transfer the call (pure).

A grammar recogniser always answers with one of its phrases, however far the caller
was from all of them: "sales" in one espeak voice came back as "bye" and the call
was hung up. An intent whose action ends the call (`hangup`) or sends it away
(`transfer`) therefore needs more than a match: the recogniser's own confidence
(`Transcription.confidence`, see `PocketsphinxStt.recognise`) must reach
`min_confidence`, and below `confirm_below` the agent asks first ("Did you want to
end the call?") and acts only on a "yes" that itself reaches `min_confidence` (or on
the intent's digits). Intents that only reply are never held back: a wrong reply
costs a sentence, a wrong hangup costs the call. Digits are never doubted.
bench/false_hangup.py measures what these thresholds do (docs/agents.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from vio_sbc.config.model import Intent

YES = "yes"
# Only "yes" joins the grammar: with "no" too, "support" came back as "no" in 7 of 11
# espeak-ng voices (a "no" is heard as some other phrase, which is not a "yes" either).
CONFIRM_WORDS = (YES,)


class Verdict(Enum):
    ACT = "act"  # do what the intent says
    CONFIRM = "confirm"  # ask the caller first
    REJECT = "reject"  # too weak: treat the turn as not understood


@dataclass(frozen=True, slots=True)
class ConfirmPolicy:
    min_confidence: float = 0.0  # 0/0: off, every match acts (the config's default)
    confirm_below: float = 0.0

    def judge(self, intent: Intent, confidence: float | None) -> Verdict:
        """What to do with `intent` heard at `confidence` (None: the recogniser gave
        no score, which for a call-ending intent is no better than the floor)."""
        if not ends_call(intent):
            return Verdict.ACT
        c = 0.0 if confidence is None else confidence
        if c < self.min_confidence:  # never with the floor at 0
            return Verdict.REJECT
        return Verdict.CONFIRM if c < self.confirm_below else Verdict.ACT

    def confirmed(self, text: str, confidence: float | None) -> bool:
        """A caller's answer to the confirmation prompt is a clear "yes"."""
        c = 0.0 if confidence is None else confidence
        return YES in text.lower().split() and c >= self.min_confidence


def ends_call(intent: Intent) -> bool:
    return intent.action == "hangup" or (intent.action == "transfer" and bool(intent.target))


def grammar_phrases(intents: Iterable[Intent]) -> list[str]:
    """The phrases a scripted agent's recogniser listens for: its intents' phrases,
    plus "yes" (the answer to a confirmation) when a spoken intent can end or
    transfer the call."""
    intents = list(intents)
    phrases = [p for i in intents for p in i.phrases]
    if any(i.phrases and ends_call(i) for i in intents):
        phrases += [w for w in CONFIRM_WORDS if w not in phrases]
    return phrases
