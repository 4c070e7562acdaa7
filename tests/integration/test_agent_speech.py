"""The embedded agent on real calls: SIPp replays recorded speech (espeak-ng,
G.711 pcaps written by vio_sbc.rtp.pcap) and RFC 4733 digits at vio-sbc."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    PBX_TRUNK,
    Server,
    config_head,
    run_sipp,
    sip_call_id,
    start_server,
)
from tests.integration.speech import make_pcap, scenario
from vio_sbc.agent.tts import EspeakTts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

GREETING = "Thanks for calling. How can I help?"
SUPPORT_REPLY = "For support, please visit our help center. Anything else?"
SALES_REPLY = "Our sales team is available weekdays from nine to five. Anything else?"
GOODBYE_REPLY = "Thank you for calling. Goodbye."
CONFIRM_HANGUP = "Did you want to end the call? Please say yes or no."
FALLBACK = "Sorry, I did not catch that. Could you repeat?"

CONFIG = config_head() + """\
workspace:
  default_agent: receptionist
agents:
  receptionist:
    kind: scripted
    greeting: "Thanks for calling. How can I help?"
    intents:
      - {{name: sales, phrases: [sales, pricing], digits: "1",
          reply: "Our sales team is available weekdays from nine to five. Anything else?"}}
      - {{name: support, phrases: [support, help], digits: "2",
          reply: "For support, please visit our help center. Anything else?"}}
      - {{name: goodbye, phrases: [goodbye, bye], digits: "9",
          reply: "Thank you for calling. Goodbye.", action: hangup}}
    barge_in: {{enabled: true, min_speech_ms: 200}}
  echo: {{kind: echo}}
trunks:
""" + PBX_TRUNK + """\
numbers:
  "+14155550100": {{trunk: pbx, agent: echo}}
  "+14155550101": {{trunk: pbx}}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("agent"), CONFIG)
    try:
        yield s
    finally:
        rc = s.stop()
        assert rc == 0, f"server exit {rc}: {s.raw[-20:]}"


def _row(srv: Server, prefix: str) -> sqlite3.Row:
    return srv.call_row(sip_call_id(srv, prefix), timeout=20)


def _events(srv: Server, row: sqlite3.Row, kind: str) -> list[str]:
    return [str(e["data"]) for e in srv.events(row["id"]) if e["kind"] == kind]


def _frames(text: str) -> int:
    return len(EspeakTts().render(text, 8000, "en-us")) // 320


def test_scripted_agent_recognises_keyword_answers_and_hangs_up_on_goodbye(
        srv: Server, tmp_path: Path) -> None:
    """"goodbye" ends the call: at once (the confirmation policy is off by default), or
    after "Did you want to end the call?" and the caller's "yes" when an agent sets
    min_confidence/confirm_below and the match is weak (vio_sbc/agent/confirm.py)."""
    pcap = make_pcap(tmp_path / "support_goodbye.pcap", 3500, "support", 6000, "goodbye",
                     5500, "yes", 1000)
    sf = scenario(tmp_path / "say.xml", [(str(pcap), 500)], end="agent", timeout_ms=30000)
    r = run_sipp(srv.addr, str(sf), number="+14155550101", timeout=60)
    row = _row(srv, r.call_id)
    assert r.rc == 0, (_events(srv, row, "say:caller"), _events(srv, row, "say:agent"))
    assert row["agent"] == "receptionist"
    assert row["hangup_side"] == "agent"
    heard = _events(srv, row, "say:caller")
    assert heard[0] == "support" and heard[1] in ("goodbye", "bye"), heard
    agent = _events(srv, row, "say:agent")
    assert agent in ([GREETING, SUPPORT_REPLY, GOODBYE_REPLY],
                     [GREETING, SUPPORT_REPLY, CONFIRM_HANGUP, GOODBYE_REPLY]), agent
    if CONFIRM_HANGUP in agent:
        assert heard[2] == "yes", heard
    assert _events(srv, row, "barge_in") == []
    # everything the agent said reached the wire
    said = sum(_frames(t) for t in agent)
    assert row["tx_audio_frames"] >= said - 3


def test_sales_misheard_as_bye_does_not_hang_up(srv: Server, tmp_path: Path) -> None:
    """Issue 20: the caller's "sales" (espeak en-us+m3) came back from the grammar as
    "bye" and the call was hung up. With "yes" in the grammar it is heard as "sales"
    (seen here); with a confidence floor set, a "bye" heard for it is not understood;
    either way the call goes on until the caller hangs up."""
    pcap = make_pcap(tmp_path / "sales.pcap", 3500, "sales", 1000)
    sf = scenario(tmp_path / "sales.xml", [(str(pcap), 9000)], end="caller")
    r = run_sipp(srv.addr, str(sf), number="+14155550101", timeout=40)
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    heard = _events(srv, row, "say:caller")
    assert row["hangup_side"] == "caller", heard
    assert (heard, _events(srv, row, "say:agent")) in (
        (["bye"], [GREETING, FALLBACK]), (["sales"], [GREETING, SALES_REPLY]))


def test_caller_talking_over_the_greeting_stops_it(srv: Server, tmp_path: Path) -> None:
    """Barge-in: speech from 300 ms on cuts the greeting; BYE while the caller still
    talks (no turn end, so no reply is queued after the cut)."""
    pcap = make_pcap(tmp_path / "talk.pcap", 300,
                     "I would like to speak with somebody about the invoice I received "
                     "last week because the amount looks wrong to me")
    sf = scenario(tmp_path / "talk.xml", [(str(pcap), 3500)], end="caller")
    r = run_sipp(srv.addr, str(sf), number="+14155550101", timeout=40)
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    assert len(_events(srv, row, "barge_in")) == 1
    greeting = _frames(GREETING)
    assert greeting > 90
    # cut ~0.5 s in (speech at 300 ms + min_speech_ms + jitter buffer; seen: 26 of 130)
    assert row["tx_audio_frames"] < greeting // 2, (row["tx_audio_frames"], greeting)


def test_echo_of_our_own_greeting_does_not_barge_in(srv: Server) -> None:
    """SIPp -rtp_echo returns our audio: heard (voiced), but not taken for the caller."""
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "5000"])
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    assert row["rx_voiced_frames"] > 40           # the echo came back loud
    assert _events(srv, row, "barge_in") == []
    assert _events(srv, row, "say:caller") == []  # and was no caller turn
    assert row["tx_audio_frames"] >= _frames(GREETING) - 2  # the whole greeting played


@pytest.mark.parametrize(("digit", "reply"), [("1", SALES_REPLY), ("2", SUPPORT_REPLY)])
def test_digit_press_routes(srv: Server, tmp_path: Path, digit: str, reply: str) -> None:
    sf = scenario(tmp_path / f"dtmf{digit}.xml",
                  [(f"/usr/share/sip-tester/dtmf_2833_{digit}.pcap", 6000)], end="caller")
    r = run_sipp(srv.addr, str(sf), number="+14155550101", timeout=40)
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    assert _events(srv, row, "dtmf") == [digit]
    assert _events(srv, row, "say:agent") == [GREETING, reply]


def test_digit_nine_hangs_up(srv: Server, tmp_path: Path) -> None:
    sf = scenario(tmp_path / "dtmf9.xml", [("/usr/share/sip-tester/dtmf_2833_9.pcap", 100)],
                  end="agent", timeout_ms=15000)
    r = run_sipp(srv.addr, str(sf), number="+14155550101", timeout=40)
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    assert row["hangup_side"] == "agent"
    assert _events(srv, row, "say:agent") == [GREETING, GOODBYE_REPLY]


def test_echo_agent_returns_the_callers_turn(srv: Server, tmp_path: Path) -> None:
    """The echo agent plays each caller turn back: what went out is that turn's length
    (300 ms pre-roll + speech + the 600 ms end-of-turn hangover), nothing before it."""
    text = "testing the audio path one two three"
    spoken = _frames(text)
    pcap = make_pcap(tmp_path / "echo.pcap", 1000, text, 500)
    sf = scenario(tmp_path / "echo.xml", [(str(pcap), 6000)], end="caller")
    r = run_sipp(srv.addr, str(sf), number="+14155550100", timeout=40)
    assert r.rc == 0, r.output + r.errors
    row = _row(srv, r.call_id)
    assert row["agent"] == "echo"
    assert spoken * 0.8 < row["tx_audio_frames"] < spoken + 60, (row["tx_audio_frames"], spoken)


def test_unknown_intent_word_refuses_to_start(tmp_path: Path) -> None:
    bad = CONFIG.replace("phrases: [support, help]", "phrases: [support, xyzzyq]")
    s = start_server(tmp_path, bad, wait=False)
    try:
        rc = s.proc.wait(30)
    finally:
        s.stop()
    assert rc == 1
    want = "vio-sbc: agents: pocketsphinx dictionary has no word 'xyzzyq'\n"
    deadline = time.monotonic() + 5  # the reader thread may still be draining stdout
    while want not in s.raw and time.monotonic() < deadline:
        time.sleep(0.05)
    assert want in s.raw, s.raw[-5:]
