"""The websocket agent as a processor (the bridge replaced by an in-memory recorder:
its real I/O is tested against a real server in tests/integration/test_wsbridge.py),
and the engine's playout marks."""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Callable

from vio_sbc.agent.engine import Engine, Session
from vio_sbc.agent.frames import (
    CallEnded,
    CallStarted,
    Frame,
    HangupRequest,
    InputAudio,
    InputDtmf,
    Interrupt,
    MarkPlayed,
    OutputAudio,
    PlayoutMark,
    RemoteEnded,
    TranscriptLine,
)
from vio_sbc.agent.mediastreams import Encoder
from vio_sbc.agent.processor import run
from vio_sbc.agent.wsagent import WebSocketAgent
from vio_sbc.config.model import AgentConfig, WebSocketOptions

START = CallStarted(call_id="c1", number="+14155550100", caller="sip:+1999@h", agent="ws",
                    sample_rate=8000)


class FakeTts:
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        return b"\x01\x00" * (len(text) * sample_rate // 100)


class RecordingLink:
    def __init__(self) -> None:
        self.sent: list[Frame] = []
        self.closed = False

    def send(self, frame: Frame) -> None:
        self.sent.append(frame)

    def close(self) -> None:
        self.closed = True


class RecordingBridge:
    def __init__(self) -> None:
        self.opened: list[tuple[str, float, Encoder, str]] = []
        self.origins: list[str | None] = []
        self.link = RecordingLink()
        self.deliver: Callable[[Frame], None] | None = None

    def open(self, url: str, connect_timeout_s: float, encoder: Encoder,
             deliver: Callable[[Frame], None], call_id: str, *,
             origin: str | None) -> RecordingLink:
        self.opened.append((url, connect_timeout_s, encoder, call_id))
        self.origins.append(origin)
        self.deliver = deliver
        return self.link


def _agent(**opts: object) -> tuple[WebSocketAgent, RecordingBridge]:
    cfg = AgentConfig("ws", "websocket",
                      websocket=WebSocketOptions(url="ws://127.0.0.1:9/x", **opts))  # type: ignore[arg-type]
    bridge = RecordingBridge()
    return WebSocketAgent(cfg, FakeTts(), bridge), bridge


def test_start_opens_the_stream_with_call_metadata_and_parameters() -> None:
    agent, bridge = _agent(parameters={"team": "blue", "to": "override"}, connect_timeout_s=2)
    assert run(agent, [START]) == []
    url, timeout, enc, call_id = bridge.opened[0]
    assert (url, timeout, call_id) == ("ws://127.0.0.1:9/x", 2.0, "c1")
    assert enc.info.call_sid == "CAc1" and enc.info.stream_sid == "MZc1"
    assert enc.info.custom_parameters == {"from": "sip:+1999@h", "to": "override", "agent": "ws",
                                          "from_number": "+1999", "to_number": "+14155550100",
                                          "team": "blue"}
    assert bridge.origins == [None]


def test_call_variables_go_in_custom_parameters_before_the_configured_ones() -> None:
    agent, bridge = _agent(parameters={"team": "blue", "x-customer-id": "configured"})
    start = dataclasses.replace(START, variables={"x-customer-id": "cust-1", "diversion": "d"})
    run(agent, [start])
    assert bridge.opened[0][2].info.custom_parameters == {
        "from": "sip:+1999@h", "to": "+14155550100", "agent": "ws", "from_number": "+1999",
        "to_number": "+14155550100", "x-customer-id": "configured", "diversion": "d",
        "team": "blue"}


def test_configured_origin_is_passed_to_the_bridge() -> None:
    agent, bridge = _agent(origin="https://vio.example.com")
    run(agent, [START])
    assert bridge.origins == ["https://vio.example.com"]


def test_caller_audio_digits_and_played_marks_go_to_the_link() -> None:
    agent, bridge = _agent()
    a = InputAudio(bytes(320), 8000, t_ms=0)
    mark = MarkPlayed("m1")
    assert run(agent, [START, a, InputDtmf("7"), mark, CallEnded("caller")]) == []
    assert bridge.link.sent == [a, InputDtmf("7"), mark]
    assert bridge.link.closed
    run(agent, [InputAudio(bytes(320), 8000)])
    assert len(bridge.link.sent) == 3  # nothing after the call ended


def test_server_audio_is_recut_to_whole_frames_and_marks_flush_the_rest() -> None:
    agent, _ = _agent()
    run(agent, [START])
    out = run(agent, [OutputAudio(b"\x05" * 500, 8000), OutputAudio(b"\x06" * 300, 8000),
                      PlayoutMark("m"), Interrupt(), OutputAudio(b"\x07" * 100, 8000)])
    audio = [f for f in out if isinstance(f, OutputAudio)]
    assert [len(f.pcm) for f in audio] == [320, 320, 320]  # 500 -> 320, 480+300 -> 640, pad 160
    assert audio[2].pcm == b"\x06" * 160 + bytes(160)
    assert [type(f).__name__ for f in out] == ["OutputAudio", "OutputAudio", "OutputAudio",
                                               "PlayoutMark", "Interrupt"]
    # after the Interrupt the 100 bytes are held back, not played half a frame
    assert run(agent, [OutputAudio(b"\x08" * 220, 8000)])[0] == OutputAudio(
        b"\x07" * 100 + b"\x08" * 220, 8000)


def test_server_down_plays_the_fallback_and_hangs_up_with_the_reason() -> None:
    agent, bridge = _agent(fallback="We are closed.")
    out = run(agent, [START, RemoteEnded("cannot connect: refused", error=True)])
    assert isinstance(out[0], OutputAudio) and len(out[0].pcm) == 2 * 14 * 80
    assert isinstance(out[1], TranscriptLine) and out[1].text == "We are closed."
    assert out[2] == HangupRequest("agent unavailable: cannot connect: refused")
    assert run(agent, [InputAudio(bytes(320), 8000), RemoteEnded("again")]) == []
    assert bridge.link.sent == []


def test_server_normal_close_hangs_up_without_fallback() -> None:
    agent, _ = _agent()
    out = run(agent, [START, RemoteEnded("closed (1000)", error=False)])
    assert out == [HangupRequest("agent server ended the call: closed (1000)")]


class Marker:
    """Passes server-side frames through, records what reaches the pipeline's end."""

    def __init__(self) -> None:
        self.seen: queue.Queue[Frame] = queue.Queue()

    def process(self, frame: Frame) -> list[Frame]:
        if isinstance(frame, OutputAudio | PlayoutMark | Interrupt):
            return [frame]
        self.seen.put(frame)
        return []


def _session() -> tuple[Engine, Session, Marker]:
    eng = Engine(lambda s, f: None)
    eng.start()
    m = Marker()
    return eng, eng.session("c", 8000, [m]), m


def _drain(sess: Session) -> None:
    """Wait until the engine has handled everything pushed so far (a no-op frame)."""
    sess.push(InputDtmf("sync"))


def _next_seen(m: Marker) -> Frame:
    return m.seen.get(timeout=5)


def test_mark_is_reported_when_the_audio_before_it_has_played() -> None:
    eng, s, m = _session()
    try:
        s.push(OutputAudio(b"\x01\x00" * 320, 8000))  # 2 frames
        s.push(PlayoutMark("after-two"))
        _drain(s)
        assert _next_seen(m) == InputDtmf("sync")
        assert s.next_playout() is not None and m.seen.empty()
        assert s.next_playout() is not None
        assert s.next_playout() is None  # pops the mark, reports it, then nothing to play
        got = _next_seen(m)
        assert isinstance(got, MarkPlayed) and got.name == "after-two"
        assert (s.tx_frames, s.tx_audio_frames) == (3, 2)
    finally:
        eng.stop()


def test_interrupt_drops_audio_and_reports_each_dropped_mark_once() -> None:
    eng, s, m = _session()
    try:
        s.push(OutputAudio(b"\x01\x00" * 1600, 8000))
        s.push(PlayoutMark("a"))
        s.push(OutputAudio(b"\x01\x00" * 1600, 8000))
        s.push(PlayoutMark("b"))
        _drain(s)
        assert _next_seen(m) == InputDtmf("sync")
        assert s.next_playout() is not None
        s.push(Interrupt())
        first, second = _next_seen(m), _next_seen(m)
        assert [first.name, second.name] == ["a", "b"]  # type: ignore[attr-defined]
        assert s.next_playout() is None and not s.pending_marks
        _drain(s)
        assert _next_seen(m) == InputDtmf("sync")  # no second report of a or b
    finally:
        eng.stop()


def test_attach_gives_async_sources_the_session_push() -> None:
    eng = Engine(lambda s, f: None)
    agent, bridge = _agent()
    sess = eng.session("c", 8000, [agent])
    assert agent._push == sess.push
    run(agent, [START])
    assert bridge.deliver is not None
    bridge.deliver(Interrupt())
    assert sess.inbox.get_nowait() == (sess, -1, Interrupt())


def test_server_audio_beyond_the_buffer_limit_is_dropped() -> None:
    from vio_sbc.agent.wsagent import MAX_BUFFER_S

    agent, _ = _agent()
    now = [100.0]
    agent.clock = lambda: now[0]
    run(agent, [START])
    second = OutputAudio(bytes(16000), 8000)  # 1 s
    out = run(agent, [second] * int(MAX_BUFFER_S + 5))
    assert len(out) == int(MAX_BUFFER_S) and agent.dropped_ms == 5000
    now[0] += 2.0  # two seconds played: room for two more
    assert len(run(agent, [second] * 3)) == 2
    run(agent, [Interrupt()])  # a clear empties the queue: room again
    assert len(run(agent, [second] * 3)) == 3
