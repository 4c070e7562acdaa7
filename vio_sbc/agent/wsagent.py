"""The `websocket` agent: bridges a call to an external agent server speaking
the Twilio Media Streams protocol (see `mediastreams` and `wsbridge`).

As a processor it runs on the engine thread: caller audio, digits and played
marks go to the call's `WsLink`; what the server sends comes back through the
engine's inbox (via `attach`) as OutputAudio / Interrupt / PlayoutMark and is
passed on to the playout. Server audio is re-cut to whole 20 ms frames so
chunks of any size play without gaps. If the server cannot be reached or drops,
the caller hears `fallback` and the call ends (`HangupRequest` with the reason);
a normal close by the server ends the call after its queued audio has played.

Options (`agents.<name>`): url (ws:// or wss://, required), origin (the handshake's
`Origin` header, for servers that check it; none by default), parameters (mapping,
sent as start.customParameters after the call's own `from`, `to`, `agent`,
`from_number`, `to_number` (the names Pipecat's runner reads) and the call's
variables: its SIP context, or a dialer job's variables),
connect_timeout_s (default 5), fallback (text), account_sid (default AC + zeros).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from vio_sbc.agent.frames import (
    FRAME_MS,
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
from vio_sbc.agent.mediastreams import Encoder, StreamInfo
from vio_sbc.callcontrol.sipcontext import uri_user
from vio_sbc.config.model import AgentConfig

MAX_BUFFER_S = 60.0  # server audio queued ahead of the playout beyond this is dropped


class Tts(Protocol):
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes: ...


class Link(Protocol):
    def send(self, frame: Frame) -> None: ...
    def close(self) -> None: ...


class Bridge(Protocol):
    def open(self, url: str, connect_timeout_s: float, encoder: Encoder,
             deliver: Callable[[Frame], None], call_id: str, *,
             origin: str | None) -> Link: ...


class WebSocketAgent:
    def __init__(self, cfg: AgentConfig, tts: Tts, bridge: Bridge) -> None:
        self.cfg = cfg
        self.tts = tts
        self.bridge = bridge
        assert cfg.websocket is not None, "a websocket agent has websocket options"
        ws = cfg.websocket
        self.url, self.params, self.timeout = ws.url, ws.parameters, ws.connect_timeout_s
        self.fallback, self.account, self.origin = ws.fallback, ws.account_sid, ws.origin
        self.rate = 8000
        self.link: Link | None = None
        self.t_ms = 0
        self._push: Callable[[Frame], None] | None = None
        self._rest = b""  # server audio short of a whole frame
        self._over = False
        self._queued_until = 0.0  # monotonic time the queued server audio ends
        self.dropped_ms = 0  # server audio dropped for exceeding MAX_BUFFER_S
        self.clock: Callable[[], float] = time.monotonic

    def attach(self, push: Callable[[Frame], None]) -> None:
        self._push = push

    def _deliver(self, frame: Frame) -> None:
        if self._push is not None:
            self._push(frame)

    def _frames(self, pcm: bytes, pad: bool) -> list[Frame]:
        fb = 2 * self.rate * FRAME_MS // 1000
        data = self._rest + pcm
        if pad and len(data) % fb:
            data += bytes(fb - len(data) % fb)
        whole = len(data) - len(data) % fb
        self._rest = data[whole:]
        return [OutputAudio(pcm=data[:whole], sample_rate=self.rate)] if whole else []

    def process(self, frame: Frame) -> Iterable[Frame]:
        if isinstance(frame, InputAudio):
            self.t_ms = frame.t_ms
            if self.link is not None and not self._over:
                self.link.send(frame)
            return ()
        if isinstance(frame, InputDtmf | MarkPlayed):
            if self.link is not None and not self._over:
                self.link.send(frame)
            return ()
        if isinstance(frame, OutputAudio):
            return () if self._over or not self._room(frame) else self._frames(frame.pcm, False)
        if isinstance(frame, PlayoutMark):
            return () if self._over else [*self._frames(b"", pad=True), frame]
        if isinstance(frame, Interrupt):
            self._rest = b""
            self._queued_until = 0.0
            return (frame,)
        if isinstance(frame, CallStarted):
            return self._start(frame)
        if isinstance(frame, RemoteEnded):
            return self._remote_ended(frame)
        if isinstance(frame, CallEnded):
            self._over = True
            if self.link is not None:
                self.link.close()
        return ()

    def _room(self, frame: OutputAudio) -> bool:
        """Bound what a server can queue: at most MAX_BUFFER_S ahead of real time."""
        now = self.clock()
        start = max(now, self._queued_until)
        dur = frame.duration_ms / 1000.0
        if start + dur - now > MAX_BUFFER_S:
            self.dropped_ms += int(frame.duration_ms)
            return False
        self._queued_until = start + dur
        return True

    def _start(self, frame: CallStarted) -> list[Frame]:
        self.rate = frame.sample_rate
        custom = {"from": frame.caller, "to": frame.number, "agent": frame.agent,
                  "from_number": uri_user(frame.caller), "to_number": frame.number,
                  **frame.variables, **self.params}
        info = StreamInfo(stream_sid="MZ" + frame.call_id, call_sid="CA" + frame.call_id,
                          account_sid=self.account, custom_parameters=custom)
        self.link = self.bridge.open(self.url, self.timeout, Encoder(info, self.rate),
                                     self._deliver, frame.call_id,
                                     origin=self.origin)
        return []

    def _remote_ended(self, frame: RemoteEnded) -> list[Frame]:
        if self._over:
            return []
        self._over = True
        out = self._frames(b"", pad=True)
        if not frame.error:
            return [*out, HangupRequest(f"agent server ended the call: {frame.reason}")]
        pcm = self.tts.render(self.fallback, self.rate, self.cfg.voice)
        dur = len(pcm) // 2 * 1000 // self.rate
        return [*out, OutputAudio(pcm=pcm, sample_rate=self.rate),
                TranscriptLine("agent", self.fallback, self.t_ms, self.t_ms + dur),
                HangupRequest(f"agent unavailable: {frame.reason}")]
