"""The websocket agent end to end: SIPp caller -> vio-sbc -> a real WebSocket agent
server (tests/integration/ws_server.py) speaking the Twilio Media Streams shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (
    PBX_TRUNK,
    Server,
    braced,
    config_head,
    free_port,
    run_sipp,
    sip_call_id,
    start_server,
)
from tests.integration.ws_server import AgentServer, is_tone

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

FALLBACK = "Our assistant is away. Goodbye."

CONFIG = braced(config_head()) + """\
agents:
  receptionist: {{{{kind: scripted, greeting: "Hello."}}}}
  ws:
    kind: websocket
    url: {url}
    connect_timeout_s: 2
    fallback: "{fallback}"
    parameters: {{{{team: blue, tier: 2}}}}
trunks:
""" + braced(PBX_TRUNK) + """\
numbers:
  "+14155550100": {{{{trunk: pbx, agent: ws}}}}
"""


def _server_for(tmp: Path, url: str) -> Server:
    return start_server(tmp, CONFIG.format(url=url, fallback=FALLBACK))


@pytest.fixture
def agent_server(request: pytest.FixtureRequest) -> Iterator[AgentServer]:
    script, tone_ms = getattr(request, "param", ("tone", 1000))
    srv = AgentServer(script=script, tone_ms=tone_ms).start()
    try:
        yield srv
    finally:
        srv.stop()


def _stop(server: Server) -> None:
    rc = server.stop()
    assert rc == 0, f"server exit {rc}: {server.raw[-20:]}"


def test_stream_start_media_mark_stop_and_server_audio_heard(
        tmp_path: Path, agent_server: AgentServer) -> None:
    """The agent server gets connected/start (call metadata + custom parameters), the
    caller's audio as 20 ms μ-law media, and stop. Its 1 s tone is played on the call:
    SIPp echoes RTP, so the tone comes back to the agent server in the caller's audio.
    Its mark comes back only once the tone has played (not before ~1 s)."""
    server = _server_for(tmp_path, agent_server.url)
    try:
        r = run_sipp(server.addr, "uac_echo_audio.xml", extra=["-rtp_echo", "-d", "3500"])
        assert r.rc == 0, r.output + r.errors
        row = server.call_row(sip_call_id(server, r.call_id))
        assert agent_server.done.wait(10)
    finally:
        _stop(server)
    msgs = [x.msg for x in agent_server.received]
    assert msgs[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = msgs[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    body = start["start"]
    assert body["callSid"] == "CA" + row["id"] and body["streamSid"] == start["streamSid"]
    assert body["accountSid"].startswith("AC") and body["tracks"] == ["inbound"]
    assert body["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                   "channels": 1}
    assert body["customParameters"] == {"from": row["caller"], "to": "+14155550100",
                                        "agent": "ws", "from_number": "+14155559999",
                                        "to_number": "+14155550100",
                                        "request_user": "+14155550100", "caller_name": "QA",
                                        "team": "blue", "tier": "2"}
    media = agent_server.events("media")
    assert len(media) > 100  # ~3.5 s of caller audio at 50 messages a second
    assert [int(m["media"]["chunk"]) for m in media] == list(range(1, len(media) + 1))
    assert all(m["media"]["track"] == "inbound" for m in media)
    seqs = [int(m["sequenceNumber"]) for m in msgs[1:]]
    assert seqs == list(range(1, len(seqs) + 1))
    echoed = sum(is_tone(m["media"]["payload"]) for m in media)
    assert 35 <= echoed <= 60, echoed  # the 1 s tone (50 frames) came back through the call
    assert msgs[-1]["event"] == "stop"
    assert msgs[-1]["stop"] == {"accountSid": body["accountSid"], "callSid": body["callSid"]}
    mark_sent = next(t for t, e in agent_server.sent if e == "mark")
    mark_back = agent_server.first("mark")
    assert mark_back.msg["mark"] == {"name": "tone-done"}
    assert mark_back.t - mark_sent >= 0.9  # reported after the tone played, not on arrival
    assert 48 <= row["tx_audio_frames"] <= 52  # exactly the tone, nothing else
    assert row["hangup_side"] == "caller"


@pytest.mark.parametrize("agent_server", [("clear", 3000)], indirect=True)
def test_clear_flushes_the_playout(tmp_path: Path, agent_server: AgentServer) -> None:
    """The server queues 3 s of tone and a mark, and sends `clear` as soon as its tone
    comes back: the rest is not played (far fewer than 150 frames go out) and the
    mark is reported then, as Twilio does for marks a clear drops. The call log has
    one `barge_in` at the call's time the clear came (just after the caller frame
    that carried the tone back), not at 0."""
    server = _server_for(tmp_path, agent_server.url)
    try:
        r = run_sipp(server.addr, "uac_echo_audio.xml", extra=["-rtp_echo", "-d", "5000"])
        assert r.rc == 0, r.output + r.errors
        row = server.call_row(sip_call_id(server, r.call_id))
        assert agent_server.done.wait(10)
        barge = [e for e in server.events(row["id"]) if e["kind"] == "barge_in"]
    finally:
        _stop(server)
    trigger = next(m.msg for m in agent_server.received if m.msg.get("event") == "media"
                   and is_tone(m.msg["media"]["payload"]))
    heard_ms = int(trigger["media"]["timestamp"])
    assert heard_ms > 0
    assert len(barge) == 1
    assert heard_ms <= barge[0]["t_ms"] <= heard_ms + 500, (heard_ms, barge[0]["t_ms"])
    clear_sent = next(t for t, e in agent_server.sent if e == "clear")
    mark_back = agent_server.first("mark")
    assert mark_back.msg["mark"]["name"] == "tone-done"
    assert mark_back.t >= clear_sent
    assert 1 <= row["tx_audio_frames"] < 60, row["tx_audio_frames"]
    echoed_after = [m for m in agent_server.received
                    if m.msg.get("event") == "media" and m.t > clear_sent + 0.5
                    and is_tone(m.msg["media"]["payload"])]
    assert echoed_after == []


def test_digit_reaches_the_agent_server(tmp_path: Path, agent_server: AgentServer) -> None:
    server = _server_for(tmp_path, agent_server.url)
    try:
        r = run_sipp(server.addr, "uac_dtmf.xml")
        assert r.rc == 0, r.output + r.errors
        server.call_row(sip_call_id(server, r.call_id))
        assert agent_server.done.wait(10)
    finally:
        _stop(server)
    dtmf = agent_server.events("dtmf")
    assert [d["dtmf"] for d in dtmf] == [{"track": "inbound_track", "digit": "1"}]
    assert dtmf[0]["streamSid"] == agent_server.events("start")[0]["streamSid"]
    assert agent_server.received[-1].msg["event"] == "stop"


def _fallback_call(server: Server) -> tuple[dict[str, object], list[str]]:
    r = run_sipp(server.addr, "uac_expect_bye.xml", extra=["-rtp_echo"])
    assert r.rc == 0, r.output + r.errors
    row = server.call_row(sip_call_id(server, r.call_id))
    events = server.events(row["id"])
    return dict(row), [f"{e['kind']}|{e['data']}" for e in events]


def test_server_down_plays_fallback_and_ends_the_call(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{free_port()}/agent"  # nothing listens there
    server = _server_for(tmp_path, url)
    try:
        row, events = _fallback_call(server)
        ev = server.wait_event("ws_agent_unavailable")
    finally:
        _stop(server)
    assert "cannot connect" in ev["reason"] and ev["call_id"] == row["id"]
    assert row["hangup_side"] == "agent" and row["status"] == "ended"
    assert f"say:agent|{FALLBACK}" in events
    assert any(e.startswith("hangup_request|agent unavailable: cannot connect") for e in events)
    assert row["tx_audio_frames"] > 50   # the fallback was played...
    assert row["rx_voiced_frames"] > 20  # ...and heard back through the caller's echo


@pytest.mark.parametrize("agent_server", [("drop", 0)], indirect=True)
def test_server_dropping_plays_fallback_and_ends_the_call(
        tmp_path: Path, agent_server: AgentServer) -> None:
    server = _server_for(tmp_path, agent_server.url)
    try:
        row, events = _fallback_call(server)
        ev = server.wait_event("ws_agent_unavailable")
    finally:
        _stop(server)
    assert "lost" in ev["reason"]
    assert agent_server.events("start")
    assert f"say:agent|{FALLBACK}" in events and row["hangup_side"] == "agent"
    assert row["tx_audio_frames"] > 50


@pytest.mark.parametrize("agent_server", [("close", 500)], indirect=True)
def test_server_closing_normally_ends_the_call_without_fallback(
        tmp_path: Path, agent_server: AgentServer) -> None:
    server = _server_for(tmp_path, agent_server.url)
    try:
        row, events = _fallback_call(server)
    finally:
        _stop(server)
    assert row["hangup_side"] == "agent"
    assert not any(e.startswith("say:agent") for e in events)
    assert any(e.startswith("hangup_request|agent server ended the call") for e in events)
    assert 23 <= row["tx_audio_frames"] <= 27  # its 500 ms of tone played out first


ORIGIN = "https://vio.example.com"


@pytest.mark.parametrize("origin", [None, ORIGIN])
def test_origin_header_for_servers_with_allowed_origins(tmp_path: Path, origin: str | None) -> None:
    """A server that allows only ORIGIN (websockets' own check, HTTP 403 otherwise)
    gets the call when `origin` is configured; without it the caller hears the
    fallback (the handshake is refused)."""
    agent_server = AgentServer(script="close", tone_ms=200, origins=[ORIGIN]).start()
    text = CONFIG.format(url=agent_server.url, fallback=FALLBACK)
    if origin is not None:
        text = text.replace("    connect_timeout_s: 2\n",
                            f"    connect_timeout_s: 2\n    origin: {origin}\n")
    server = start_server(tmp_path, text)
    try:
        row, events = _fallback_call(server)
    finally:
        _stop(server)
        agent_server.stop()
    assert row["hangup_side"] == "agent"
    if origin is None:
        assert agent_server.headers == []
        assert f"say:agent|{FALLBACK}" in events
        assert any("403" in e for e in events if e.startswith("hangup_request")), events
    else:
        assert [h.get("Origin") for h in agent_server.headers] == [ORIGIN]
        assert agent_server.events("start")
        assert not any(e.startswith("say:agent") for e in events)


def test_sip_context_reaches_the_agent_servers_custom_parameters(
        tmp_path: Path, agent_server: AgentServer) -> None:
    """An INVITE with X-Customer-Id, X-Campaign, Diversion, P-Asserted-Identity and
    Remote-Party-ID, on a trunk passing X-*, Diversion and P-Asserted-Identity: those
    reach start.customParameters under their lower-case names with the Request-URI
    user, the caller's name and Pipecat's from_number / to_number; Remote-Party-ID
    does not; the log names the variables but never shows their values."""
    text = CONFIG.format(url=agent_server.url, fallback=FALLBACK).replace(
        "      allow: [{trunk_ip}/32]\n",
        "      allow: [{trunk_ip}/32]\n    pass_headers: [X-*, Diversion, P-Asserted-Identity]\n")
    server = start_server(tmp_path, text)
    try:
        r = run_sipp(server.addr, "uac_sip_context.xml", extra=["-rtp_echo", "-d", "1000"])
        assert r.rc == 0, r.output + r.errors
        row = server.call_row(sip_call_id(server, r.call_id))
        ev = server.wait_event("sip_context", call_id=row["id"])
        assert agent_server.done.wait(10)
    finally:
        _stop(server)
    custom = agent_server.events("start")[0]["start"]["customParameters"]
    assert custom == {
        "from": row["caller"], "to": "+14155550100", "agent": "ws",
        "from_number": "+14155559999", "to_number": "+14155550100",
        "request_user": "+14155550100", "caller_name": 'Alice "Al" Smith',
        "x-customer-id": "cust-4711", "x-campaign": "spring sale",
        "diversion": "<sip:+14155550000@pbx.example.com>;reason=unconditional;counter=1",
        "p-asserted-identity": '"Alice" <sip:+14155559999@carrier.example.com>',
        "team": "blue", "tier": "2",
    }
    assert ev["variables"]["x-customer-id"] == "<9 chars>"
    assert not any("cust-4711" in line for line in server.raw)


def test_info_dtmf_reaches_the_agent_server_once_per_press(
        tmp_path: Path, agent_server: AgentServer) -> None:
    """SIPp presses 1 by RFC 4733 and INFO dtmf-relay at once (one press: counted once),
    then 5 by INFO application/dtmf and # by INFO dtmf-relay; each INFO gets 200 (the
    scenario fails otherwise). The agent server and the call log see 1, 5, #."""
    server = _server_for(tmp_path, agent_server.url)
    try:
        r = run_sipp(server.addr, "uac_info_dtmf.xml")
        assert r.rc == 0, r.output + r.errors
        row = server.call_row(sip_call_id(server, r.call_id))
        assert agent_server.done.wait(10)
        logged = [e["data"] for e in server.events(row["id"]) if e["kind"] == "dtmf"]
        dup = server.wait_event("dtmf_duplicate", call_id=row["id"])
    finally:
        _stop(server)
    assert [d["dtmf"]["digit"] for d in agent_server.events("dtmf")] == ["1", "5", "#"]
    assert logged == ["1", "5", "#"]
    assert dup["digit"] == "1"
    methods = [e["method"] for e in server.lines
               if e.get("event") == "dtmf" and e.get("call_id") == row["id"]]
    assert methods[1:] == ["info", "info"]
