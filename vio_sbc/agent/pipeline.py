"""Builds each call's pipeline from its agent's config (the one place pipelines are made):

    embedded:  VadTurnDetector(+EchoGuard) -> BargeIn -> TurnRecorder(-> SttWorker) -> agent
    websocket: VadTurnDetector -> WebSocketAgent (the remote agent does its own barge-in)

`AgentKit` holds what calls share: the TTS providers (with their prompt
caches), one recogniser per scripted agent with phrases (built and checked at
start-up), the STT worker thread and the WebSocket bridge thread. A scripted agent
without phrases (or with `stt.provider: none`) gets `TurnsWithoutStt`: every turn is
"not understood". Each call's VAD counts into its session (`Session.voice`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vio_sbc.agent.agents import ScriptedAgent, make_agent
from vio_sbc.agent.bargein import BargeIn
from vio_sbc.agent.confirm import grammar_phrases
from vio_sbc.agent.echo import EchoGuard
from vio_sbc.agent.engine import PipelineFactory, Session
from vio_sbc.agent.processor import Processor
from vio_sbc.agent.stt import (
    Stt,
    SttWorker,
    TurnRecorder,
    TurnsWithoutStt,
    make_stt,
    submitter,
)
from vio_sbc.agent.sttpool import SttPool
from vio_sbc.agent.tts import TtsProvider, make_tts
from vio_sbc.agent.turns import TurnParams, VadTurnDetector, VoiceCount
from vio_sbc.agent.wsagent import Bridge, WebSocketAgent
from vio_sbc.config.model import AgentConfig


def turn_detector(cfg: AgentConfig, echo: EchoGuard | None = None,
                  count: VoiceCount | None = None) -> VadTurnDetector:
    """The agent's VAD turn detector (its `endpointing` settings)."""
    ep = cfg.endpointing
    params = TurnParams(start_ms=ep.start_ms, stop_ms=ep.stop_ms,
                        aggressiveness=ep.aggressiveness)
    return VadTurnDetector(params, ep.frame_ms, echo, count)


class AgentKit:
    def __init__(self, agents: Mapping[str, AgentConfig], sample_rate: int,
                 tts: TtsProvider | None = None, stt_queue: int = 32,
                 ws_bridge: Bridge | None = None, stt_processes: int = 0) -> None:
        """`ws_bridge`: the WebSocket bridge websocket agents use (vio_sbc.agent.wsbridge).
        `stt_processes` > 0: decodes run in that many worker processes (SttPool), off
        the media process's GIL; 0: on one thread of this process (SttWorker)."""
        self.sample_rate = sample_rate
        self.ws_bridge = ws_bridge
        self._tts: dict[str, TtsProvider] = {}
        if tts is not None:
            self._tts["espeak"] = tts
        self.recognisers: dict[str, Stt | None] = {}
        self._built: dict[str, AgentConfig] = {}
        self.worker: SttWorker | SttPool = (SttPool(stt_processes, stt_queue)
                                            if stt_processes > 0 else SttWorker(stt_queue))
        self.refresh(agents)

    def refresh(self, agents: Mapping[str, AgentConfig]) -> None:
        """(Re)build recognisers for agents that are new or changed (config reload).
        Builds everything first, so an error leaves the kit as it was. Calls in
        progress keep the recogniser they started with."""
        fresh: dict[str, Stt | None] = {}
        for cfg in agents.values():
            if self._built.get(cfg.name) == cfg:
                fresh[cfg.name] = self.recognisers.get(cfg.name)
                continue
            phrases = grammar_phrases(cfg.intents)  # + yes/no to confirm an ending intent
            if cfg.kind == "scripted" and phrases:  # nothing to listen for: no decoder
                fresh[cfg.name] = make_stt(cfg.stt, phrases)
        self.recognisers = {k: v for k, v in fresh.items() if v is not None}
        self._built = dict(agents)

    def tts(self, cfg: AgentConfig) -> TtsProvider:
        name = cfg.tts.provider
        if name not in self._tts:
            self._tts[name] = make_tts(name)
        return self._tts[name]

    def warm(self, agents: Mapping[str, AgentConfig]) -> int:
        """Render every scripted prompt (and each websocket agent's fallback) once: the
        cache serves calls. Returns the number of scripted prompts."""
        n = 0
        for cfg in agents.values():
            if cfg.websocket is not None:
                self.tts(cfg).render(cfg.websocket.fallback, self.sample_rate, cfg.voice)
            if cfg.kind == "scripted":
                agent = ScriptedAgent(cfg, self.tts(cfg))
                for text in agent.prompts():
                    self.tts(cfg).render(text, self.sample_rate, agent.voice)
                    n += 1
        return n

    def start(self) -> None:
        if isinstance(self.worker, SttPool) and not self.recognisers:
            self.worker = SttWorker(self.worker.maxsize)  # nothing to decode: no processes
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def pipeline(self, cfg: AgentConfig) -> PipelineFactory:
        """The factory of a call's pipeline for agent `cfg` (the engine calls it with the
        call's session)."""
        if cfg.kind == "websocket":
            assert self.ws_bridge is not None, "websocket agents need the kit's ws_bridge"
            bridge = self.ws_bridge

            def remote(sess: Session) -> Sequence[Processor]:
                return [turn_detector(cfg, count=sess.voice),
                        WebSocketAgent(cfg, self.tts(cfg), bridge)]

            return remote

        def build(sess: Session) -> Sequence[Processor]:
            procs: list[Processor] = [
                turn_detector(cfg, EchoGuard(sess.recent_played), sess.voice),
                BargeIn(cfg.barge_in, sess.is_playing),
            ]
            stt = self.recognisers.get(cfg.name)
            if stt is not None:
                procs.append(TurnRecorder(submitter(self.worker, stt, sess.sample_rate,
                                                    sess.push)))
            elif cfg.kind == "scripted":
                procs.append(TurnsWithoutStt())
            procs.append(make_agent(cfg, self.tts(cfg)))
            return procs

        return build
