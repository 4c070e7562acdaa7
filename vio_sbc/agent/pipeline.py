"""Builds each call's pipeline from its agent's config:

    VadTurnDetector(+EchoGuard) -> BargeIn -> TurnRecorder(-> SttWorker) -> agent

`AgentKit` holds what calls share: the TTS providers (with their prompt
caches), one recogniser per scripted agent with phrases (built and checked at
start-up) and the STT worker thread. A scripted agent without phrases (or with
`stt.provider: none`) gets `TurnsWithoutStt`: every turn is "not understood".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vio_sbc.agent.agents import ScriptedAgent, make_agent
from vio_sbc.agent.bargein import BargeIn
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
from vio_sbc.agent.tts import TtsProvider, make_tts
from vio_sbc.agent.turns import TurnParams, VadTurnDetector
from vio_sbc.config.model import AgentConfig


class AgentKit:
    def __init__(self, agents: Mapping[str, AgentConfig], sample_rate: int,
                 tts: TtsProvider | None = None, stt_queue: int = 32) -> None:
        self.sample_rate = sample_rate
        self._tts: dict[str, TtsProvider] = {}
        if tts is not None:
            self._tts["espeak"] = tts
        self.recognisers: dict[str, Stt | None] = {}
        self._built: dict[str, AgentConfig] = {}
        self.worker = SttWorker(stt_queue)
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
            phrases = [p for i in cfg.intents for p in i.phrases]
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
        """Render every scripted prompt once (the cache serves calls); returns the count."""
        n = 0
        for cfg in agents.values():
            if cfg.kind == "scripted":
                agent = ScriptedAgent(cfg, self.tts(cfg))
                for text in agent.prompts():
                    self.tts(cfg).render(text, self.sample_rate, agent.voice)
                    n += 1
        return n

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def pipeline(self, cfg: AgentConfig) -> PipelineFactory:
        def build(sess: Session) -> Sequence[Processor]:
            ep = cfg.endpointing
            params = TurnParams(start_ms=ep.start_ms, stop_ms=ep.stop_ms,
                                aggressiveness=ep.aggressiveness)
            procs: list[Processor] = [
                VadTurnDetector(params, ep.frame_ms, EchoGuard(sess.recent_played)),
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
