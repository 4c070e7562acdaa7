"""Benchmark (prints figures, asserts nothing): the websocket agent path per call.

N simulated calls run the real WebSocketAgent + engine + WsBridge; a pacer thread
plays the media clock (every 20 ms: push one caller frame and pop one playout frame
per call, as CallMediaPort does). The agent server, in a separate process so its
CPU is not counted, answers every caller `media` with a `media` of the same size
(an agent talking all the time) and echoes `mark`s. Reported: CPU of this process
(engine + bridge + pacer) as % of one core and per call; caller frames sent to the
server, server frames received, and agent frames played (the playout has no jitter
buffer: a server answering late leaves gaps, so `played` < `received` measures
round-trip jitter, not loss).

    .venv/bin/python bench/ws_bridge.py --calls 50 100 200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import resource
import threading
import time
from typing import Any

import structlog

from vio_sbc.agent.engine import Engine
from vio_sbc.agent.frames import CallEnded, CallStarted
from vio_sbc.agent.wsagent import WebSocketAgent
from vio_sbc.agent.wsbridge import WsBridge
from vio_sbc.config.model import AgentConfig


def serve(port_q: Any) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        sid = ""
        try:
            async for raw in ws:
                msg = json.loads(raw)
                ev = msg.get("event")
                if ev == "start":
                    sid = msg["streamSid"]
                elif ev == "media":
                    await ws.send(json.dumps({"event": "media", "streamSid": sid,
                                              "media": {"payload": msg["media"]["payload"]}}))
        except Exception:
            return  # the call ended while we answered

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            port_q.put(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


class NoTts:
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        return bytes(320)


def run(calls: int, seconds: float, url: str) -> None:
    eng = Engine(lambda s, f: None)
    eng.start()
    bridge = WsBridge()
    cfg = AgentConfig("ws", "websocket", options={"url": url})
    sessions = []
    for i in range(calls):
        agent = WebSocketAgent(cfg, NoTts(), bridge)
        s = eng.session(f"{i:032x}", 8000, [agent])
        s.push(CallStarted(call_id=f"{i:032x}", number="+1", caller="sip:a@b", agent="ws",
                           sample_rate=8000))
        sessions.append((s, agent))
    time.sleep(1.0)  # connections open
    frame = (b"\x10\x00" * 160)
    ticks = int(seconds * 50)
    late = 0

    def pace() -> None:
        nonlocal late
        nxt = time.monotonic()
        for _ in range(ticks):
            for s, _a in sessions:
                s.push_audio(frame)
                s.next_playout()
            nxt += 0.02
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                late += 1

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    th = threading.Thread(target=pace)
    th.start()
    th.join()
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    for s, _a in sessions:
        s.push(CallEnded("bench"))
    time.sleep(0.5)
    sent = sum(a.link.sent for _, a in sessions if a.link is not None)  # type: ignore[attr-defined]
    dropped = sum(a.link.dropped for _, a in sessions if a.link is not None)  # type: ignore[attr-defined]
    received = sum(a.link.received for _, a in sessions if a.link is not None)  # type: ignore[attr-defined]
    played = sum(s.tx_audio_frames for s, _ in sessions)
    want = calls * ticks
    print(f"calls={calls:4d} seconds={wall:5.1f} cpu={100 * cpu / wall:6.1f}% "
          f"per_call={100 * cpu / wall / calls:5.2f}% sent={sent / want:6.1%} "
          f"dropped={dropped} received={received / want:6.1%} played={played / want:6.1%} "
          f"late_ticks={late}")
    bridge.stop()
    eng.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    q: Any = mp.Queue()
    srv = mp.Process(target=serve, args=(q,), daemon=True)
    srv.start()
    try:
        port = q.get(timeout=10)
        print(f"pid={os.getpid()} agent server pid={srv.pid} on 127.0.0.1:{port}")
        for n in args.calls:
            run(n, args.seconds, f"ws://127.0.0.1:{port}/bench")
    finally:
        srv.terminate()
        srv.join(5)


if __name__ == "__main__":
    main()
