"""WebSocket I/O for external agents: one asyncio loop on its own thread for all calls.

The engine thread hands each call's frames (caller audio, digits, played marks)
to its `WsLink` with `send()`, which only schedules a put on a bounded queue in
the loop (a full queue drops caller audio and counts it: audio is real time,
a late frame is worth nothing). The loop serializes them (`mediastreams`) and
writes them; what the agent server sends is parsed on the loop thread and
delivered with the call's `push` (the engine's inbox). Nothing here runs on
the media clock thread or the SIP thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidURI
from websockets.typing import Origin

from vio_sbc.agent.frames import Frame, InputAudio, InputDtmf, MarkPlayed, RemoteEnded
from vio_sbc.agent.mediastreams import Encoder, MediaStreamsError, StreamClock, parse

log = structlog.get_logger("vio_sbc.agent.ws")
_CLOSE = object()


class WsLink:
    """One call's connection. `send`/`close` are safe from any thread."""

    def __init__(self, bridge: WsBridge, url: str, connect_timeout_s: float, encoder: Encoder,
                 deliver: Callable[[Frame], None], call_id: str, max_queue: int,
                 origin: str | None = None) -> None:
        self.bridge = bridge
        self.url = url
        self.origin = origin
        self.timeout = connect_timeout_s
        self.encoder = encoder
        self.deliver = deliver
        self.max_queue = max_queue
        self.log = log.bind(call_id=call_id)
        self.sent = 0
        self.dropped = 0
        self.received = 0
        self.closing = False   # the call asked to close
        self.reported = False  # the end of the connection was told to the call
        self.clock = StreamClock(time.monotonic)  # loop thread: the call's time, for `clear`
        self._q: asyncio.Queue[object] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- any thread ------------------------------------------------------------
    def send(self, frame: Frame) -> None:
        self.bridge.loop.call_soon_threadsafe(self._enqueue, frame)

    def close(self) -> None:
        self.bridge.loop.call_soon_threadsafe(self._enqueue, _CLOSE)

    # -- loop thread -------------------------------------------------------------
    def _enqueue(self, item: object) -> None:
        assert self._q is not None
        if item is _CLOSE:
            self.closing = True
        elif isinstance(item, InputAudio):
            self.clock.saw(item.t_ms)
            if self._q.qsize() >= self.max_queue:
                self.dropped += 1
                return
        self._q.put_nowait(item)

    def _begin(self) -> None:
        self._q = asyncio.Queue()
        self._task = self.bridge.loop.create_task(self._run())
        self.bridge.tasks.add(self._task)
        self._task.add_done_callback(self.bridge.tasks.discard)

    async def _run(self) -> None:
        try:
            ws = await connect(self.url, open_timeout=self.timeout, proxy=None,
                               compression=None, max_size=1 << 20,
                               origin=Origin(self.origin) if self.origin else None)
        except (OSError, InvalidURI, InvalidHandshake, TimeoutError) as exc:
            self._down(f"cannot connect to {self.url}: {type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # anything else: the caller still gets the fallback
            self._down(f"cannot connect to {self.url}: {type(exc).__name__}: {exc}")
            return
        self.log.info("ws_agent_connected", url=self.url)
        try:
            await ws.send(self.encoder.connected())
            await ws.send(self.encoder.start())
            reader = asyncio.create_task(self._read(ws))
            await self._write(ws)
            reader.cancel()
        except ConnectionClosed as exc:
            self._closed(exc)
        except Exception as exc:
            self._down(f"agent connection failed: {type(exc).__name__}: {exc}")
        finally:
            await ws.close()
        self.log.info("ws_agent_closed", sent=self.sent, received=self.received,
                      dropped=self.dropped)

    async def _write(self, ws: ClientConnection) -> None:
        assert self._q is not None
        enc = self.encoder
        while True:
            item = await self._q.get()
            if item is _CLOSE:
                if not self.reported:
                    await ws.send(enc.stop())
                return
            if isinstance(item, InputAudio):
                await ws.send(enc.media(item.pcm, item.t_ms))
                self.sent += 1
            elif isinstance(item, InputDtmf):
                await ws.send(enc.dtmf(item.digit))
            elif isinstance(item, MarkPlayed):
                await ws.send(enc.mark(item.name))

    async def _read(self, ws: ClientConnection) -> None:
        rate = self.encoder.sample_rate
        try:
            async for message in ws:
                try:
                    frame = parse(message, rate, t_ms=self.clock.t_ms())
                except MediaStreamsError as exc:
                    self.log.warning("ws_agent_bad_message", error=str(exc))
                    continue
                self.received += 1
                if frame is not None:
                    self.deliver(frame)
        except ConnectionClosed as exc:
            self._closed(exc)
            return
        self._closed(None)  # iteration ended: the server closed normally

    def _closed(self, exc: ConnectionClosed | None) -> None:
        if self.closing or self.reported:
            return
        if exc is None or isinstance(exc, ConnectionClosedOK):
            rcvd = exc.rcvd if exc is not None else None
            code = rcvd.code if rcvd is not None else 1000
            self.reported = True
            self.log.info("ws_agent_hung_up", code=code)
            self.deliver(RemoteEnded(f"agent server closed the connection ({code})", error=False))
        else:
            self._down(f"connection to the agent server lost: {exc}")
        if self._q is not None:  # stop the writer
            self._q.put_nowait(_CLOSE)

    def _down(self, reason: str) -> None:
        if self.closing or self.reported:
            return
        self.reported = True
        self.log.warning("ws_agent_unavailable", reason=reason, url=self.url)
        self.deliver(RemoteEnded(reason, error=True))


class WsBridge:
    """The asyncio loop thread shared by every WebSocket call; started on first use."""

    def __init__(self, max_queue: int = 250) -> None:
        self.max_queue = max_queue  # per call, in 20 ms frames (5 s)
        self.loop = asyncio.new_event_loop()
        self.tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._serve, name="ws-bridge", daemon=True)
        self._lock = threading.Lock()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def open(self, url: str, connect_timeout_s: float, encoder: Encoder,
             deliver: Callable[[Frame], None], call_id: str, *,
             origin: str | None = None) -> WsLink:
        with self._lock:
            if not self._thread.is_alive():
                self._thread.start()
        link = WsLink(self, url, connect_timeout_s, encoder, deliver, call_id, self.max_queue,
                      origin)
        self.loop.call_soon_threadsafe(link._begin)
        return link

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            if self._thread.ident is None:  # never started: no loop thread to stop
                self.loop.close()
            return

        async def _cancel_all() -> None:
            # calls still linked first (their close handshakes), then what the
            # connections run themselves (keepalive pings)
            for group in (list(self.tasks), None):
                me = asyncio.current_task()
                tasks = group if group is not None else [
                    t for t in asyncio.all_tasks() if t is not me]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        fut: Any = asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop)
        try:
            fut.result(timeout)
        except Exception:
            log.warning("ws_bridge_stop_timeout")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()
