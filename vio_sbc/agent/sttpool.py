"""Speech to text in worker processes: decodes run off the media process's GIL.

`SttPool` has the interface of `SttWorker` (vio_sbc/agent/stt.py: `submit`, counters)
and runs pocketsphinx in `processes` spawned processes (spawn, never fork: the
media process runs pjsua's threads). Each process builds one decoder per phrase set
it is asked for and keeps it. At most `maxsize` turns are waiting or decoding at
once: a turn beyond that is shed (counted in `dropped`, logged at most once per
second, on /metrics as `vio_stt_shed`) and the recorder answers it as not
understood, so a burst of speech never grows a lag. One thread here waits for the
results and hands each to its call (`job.deliver`, the engine's inbox).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import structlog

from vio_sbc.agent.frames import Transcription
from vio_sbc.agent.stt import PocketsphinxStt, SttJob

log = structlog.get_logger("vio_sbc.stt")

_decoders: dict[tuple[str, ...], PocketsphinxStt] = {}  # in each worker process


def _decode(phrases: tuple[str, ...], pcm: bytes, rate: int) -> tuple[str, float]:
    """Worker process: the text of one turn and the decode's CPU seconds."""
    t0 = time.process_time()
    dec = _decoders.get(phrases)
    if dec is None:
        dec = _decoders[phrases] = PocketsphinxStt(phrases)
    text = dec.transcribe(pcm, rate)
    return text, time.process_time() - t0


def _warm() -> int:
    import pocketsphinx  # noqa: F401  # the model loads once per process, before calls

    return 0


class SttPool:
    """Decodes in `processes` worker processes, at most `maxsize` turns in flight."""

    def __init__(self, processes: int = 1, maxsize: int = 32) -> None:
        self.processes = processes
        self.maxsize = maxsize
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inflight = 0
        self.decodes = 0
        self.dropped = 0
        self.failed = 0
        self.decode_ms: deque[float] = deque(maxlen=1000)  # CPU ms per decode
        self.wall_ms: deque[float] = deque(maxlen=1000)  # submit to result
        self._last_shed_log = 0.0

    def start(self) -> None:
        ctx = mp.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.processes, mp_context=ctx)
        for f in [self._pool.submit(_warm) for _ in range(self.processes)]:
            f.result(timeout=60)

    def stop(self, timeout: float = 5.0) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        took = sorted(self.decode_ms)
        log.info("stt_stopped", decodes=self.decodes, dropped=self.dropped,
                 failed=self.failed, processes=self.processes,
                 decode_ms_p50=round(took[len(took) // 2], 1) if took else None,
                 decode_ms_max=round(took[-1], 1) if took else None)

    @property
    def inflight(self) -> int:
        return self._inflight

    def submit(self, job: SttJob) -> bool:
        phrases = getattr(job.stt, "phrases", None)
        pool = self._pool
        with self._lock:
            if pool is None or phrases is None or self._inflight >= self.maxsize:
                self.dropped += 1
                shed = True
            else:
                self._inflight += 1
                shed = False
        if shed:
            now = time.monotonic()
            if now - self._last_shed_log >= 1.0:
                self._last_shed_log = now
                log.warning("stt_shed", dropped=self.dropped, inflight=self._inflight,
                            maxsize=self.maxsize)
            return False
        assert pool is not None and phrases is not None
        t0 = time.monotonic()
        fut = pool.submit(_decode, tuple(phrases), job.pcm, job.sample_rate)
        fut.add_done_callback(lambda f: self._done(f, job, t0))
        return True

    def _done(self, fut: Future[Any], job: SttJob, t0: float) -> None:
        """On the executor's result thread."""
        with self._lock:
            self._inflight -= 1
        text = ""
        try:
            text, cpu_s = fut.result()
            self.decodes += 1
            self.decode_ms.append(cpu_s * 1000)
            self.wall_ms.append((time.monotonic() - t0) * 1000)
        except Exception:
            self.failed += 1
            log.exception("stt_failed")
        try:
            job.deliver(Transcription(text=text, start_ms=job.start_ms, end_ms=job.end_ms))
        except Exception:
            log.exception("stt_deliver_failed")
