from __future__ import annotations

import pytest

from vio_sbc.calllog.summary.extractive import (
    CallFacts,
    Line,
    dialogue,
    extractive_summary,
    outcome,
)

LINES = [
    Line("agent", "Thanks for calling. How can I help?", 0, 2100),
    Line("caller", "Hi, I'd like to move my appointment to Friday.", 2500, 5200),
    Line("agent", "Sure. Which time suits you?", 5600, 7000),
    Line("caller", "Morning please.", 7400, 8300),
    Line("dtmf", "1", 9000, 9000),
    Line("caller", "[DTMF 1]", 9000, 9000),
    Line("caller", "Actually anything before ten in the morning works for me.", 9500, 12000),
    Line("agent", "Done. Goodbye.", 12500, 13500),
]


def test_summary_is_pinned_and_says_it_is_extractive() -> None:
    text = extractive_summary(LINES, CallFacts("ended", "caller", duration_s=14.2))
    assert text == "\n".join([
        "Extractive summary (no AI: sentences quoted from the transcript).",
        "Caller intent: \"Hi, I'd like to move my appointment to Friday.\"",
        "Key utterances:",
        "- caller 00:07: \"Morning please.\"",
        "- caller 00:09: \"Actually anything before ten in the morning works for me.\"",
        "- agent 00:12: \"Done. Goodbye.\"",
        "Digits entered: 1",
        "Outcome: caller hung up after 14 s.",
    ])


def test_lines_logged_out_of_order_are_summarised_in_call_order() -> None:
    shuffled = list(reversed(LINES))
    assert extractive_summary(shuffled, CallFacts("ended", "caller")) == \
        extractive_summary(LINES, CallFacts("ended", "caller"))


def test_no_caller_speech() -> None:
    text = extractive_summary(LINES[:1], CallFacts("ended", "agent", "completed", duration_s=3))
    assert "Caller intent: unknown (no caller speech in the transcript)" in text
    assert text.endswith("Outcome: completed: the agent ended the call after 3 s.")


@pytest.mark.parametrize(("facts", "expected"), [
    (CallFacts("refused", final_status=404, final_reason="Not Found"),
     "refused (SIP 404 Not Found)"),
    (CallFacts("cancelled", "caller"), "caller hung up before answer"),
    (CallFacts("interrupted", "system"), "interrupted (the server stopped during the call)"),
    (CallFacts("ended", "agent", transfer_outcome="transferred", duration_s=30),
     "transferred (transferred) after 30 s"),
    (CallFacts("ended", "caller", transfer_outcome="failed: 486 Busy Here", duration_s=9.6),
     "transfer failed (failed: 486 Busy Here); caller hung up after 10 s"),
    (CallFacts("ended", "caller"), "caller hung up"),
    (CallFacts("ended", "callee", duration_s=20), "callee hung up after 20 s"),
    (CallFacts("unanswered", "callee", final_status=486, final_reason="Busy Here"),
     "not answered (SIP 486 Busy Here)"),
    (CallFacts("ended", "agent", "max_turns"), "agent hung up (max_turns)"),
    (CallFacts("ended", "agent"), "completed: the agent ended the call"),
    (CallFacts("ended", "system"), "ended by the system"),
])
def test_outcomes(facts: CallFacts, expected: str) -> None:
    assert outcome(facts) == expected


def test_dialogue() -> None:
    assert dialogue(LINES[3:6]) == ("[00:07] caller: Morning please.\n"
                                    "[00:09] dtmf: pressed 1\n"
                                    "[00:09] caller: [DTMF 1]")
