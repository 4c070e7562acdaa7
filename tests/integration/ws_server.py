"""A small real agent server speaking the Twilio Media Streams shape, for the tests.

It runs a `websockets` server on 127.0.0.1 (free port) in its own asyncio
thread, records every message it receives (with the time it arrived), and
plays a per-test script once it has seen `start`:

- "tone":  sends `tone_ms` of a 1 kHz tone as 20 ms `media` messages (all at
           once, as agent servers do; the far end paces them), then a `mark`.
- "clear": sends `tone_ms` of tone and a mark, then, as soon as its own tone
           comes back in the caller's audio (the caller echoes RTP), `clear`.
- "close": sends `tone_ms` of tone, then closes normally (1000).
- "drop":  aborts the TCP connection without a close frame.

With `origins` set, the server refuses (HTTP 403) a handshake whose `Origin` header
is not one of them, as servers with allowed origins do (websockets' own check).
`headers` keeps each accepted handshake's request headers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve

from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

TONE_HZ = 1000.0


def tone_ulaw(ms: int) -> list[bytes]:
    t = np.arange(8 * ms) / 8000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
    return [ulaw_encode(pcm[i:i + 160]) for i in range(0, len(pcm), 160)]


def is_tone(payload_b64: str) -> bool:
    """True if a 20 ms μ-law payload is mostly our 1 kHz tone."""
    x = ulaw_decode(base64.b64decode(payload_b64)).astype(np.float64)
    if len(x) < 80 or np.sqrt(np.mean(x * x)) < 1000:
        return False
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = float(np.argmax(spec)) * 8000 / len(x)
    return abs(peak_hz - TONE_HZ) <= 100


@dataclass
class Received:
    t: float
    msg: dict[str, Any]


@dataclass
class AgentServer:
    script: str = "tone"
    tone_ms: int = 1000
    port: int = 0
    received: list[Received] = field(default_factory=list)
    sent: list[tuple[float, str]] = field(default_factory=list)  # (time, event)
    done: threading.Event = field(default_factory=threading.Event)
    origins: list[str] | None = None
    headers: list[dict[str, str]] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/agent"

    def start(self) -> AgentServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            async def open_server() -> Server:
                return await serve(self._handler, "127.0.0.1", self.port, compression=None,
                                   origins=self.origins)  # type: ignore[arg-type]

            self._server = loop.run_until_complete(open_server())
            self.port = next(iter(self._server.sockets)).getsockname()[1]
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="test-agent-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("test agent server did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- queries (test thread) ----------------------------------------------------
    def events(self, name: str) -> list[dict[str, Any]]:
        return [r.msg for r in list(self.received) if r.msg.get("event") == name]

    def first(self, name: str) -> Received:
        return next(r for r in list(self.received) if r.msg.get("event") == name)

    def wait_for(self, name: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.events(name)
            if got:
                return got[0]
            time.sleep(0.02)
        raise TimeoutError(f"agent server got no {name!r} in {timeout}s; "
                           f"got {[r.msg.get('event') for r in self.received][:8]}")

    # -- server side -------------------------------------------------------------
    async def _send(self, ws: ServerConnection, sid: str, event: str, **body: Any) -> None:
        await ws.send(json.dumps({"event": event, "streamSid": sid, **body}))
        self.sent.append((time.monotonic(), event))

    async def _play_tone(self, ws: ServerConnection, sid: str) -> None:
        for chunk in tone_ulaw(self.tone_ms):
            await self._send(ws, sid, "media",
                             media={"payload": base64.b64encode(chunk).decode()})
        await self._send(ws, sid, "mark", mark={"name": "tone-done"})

    async def _handler(self, ws: ServerConnection) -> None:
        sid = ""
        cleared = False
        assert ws.request is not None
        self.headers.append(dict(ws.request.headers.raw_items()))
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(Received(time.monotonic(), msg))
                event = msg.get("event")
                if event == "start":
                    sid = msg["start"]["streamSid"]
                    if self.script == "drop":
                        ws.transport.abort()
                        return
                    await self._play_tone(ws, sid)
                    if self.script == "close":
                        await ws.close(1000, "bye")
                        return
                elif (event == "media" and self.script == "clear" and not cleared
                      and is_tone(msg["media"]["payload"])):
                    cleared = True
                    await self._send(ws, sid, "clear")
        finally:
            self.done.set()
