"""SttPool: pocketsphinx in a spawned worker process; a turn beyond the bound is shed
(counted, answered by the recorder as not understood), never queued behind."""

from __future__ import annotations

import threading
import time

import pytest

from vio_sbc.agent.frames import Frame, InputAudio, SpeechStarted, SpeechStopped, Transcription
from vio_sbc.agent.stt import PocketsphinxStt, SttJob, TurnRecorder, submitter
from vio_sbc.agent.sttpool import SttPool
from vio_sbc.agent.tts import EspeakTts

PHRASES = ("sales", "support", "operator")


@pytest.fixture(scope="module")
def pool() -> SttPool:
    p = SttPool(processes=1, maxsize=2)
    p.start()
    yield p  # type: ignore[misc]
    p.stop()


def test_a_turn_is_decoded_in_the_worker_process(pool: SttPool) -> None:
    pcm = EspeakTts().render("support", 8000)
    got: list[Frame] = []
    done = threading.Event()

    def deliver(f: Frame) -> None:
        got.append(f)
        done.set()

    stt = PocketsphinxStt(PHRASES)  # what the kit builds: the pool decodes by its phrases
    assert pool.submit(SttJob(stt, pcm, 8000, 100, 900, deliver))
    assert done.wait(30)
    assert got == [Transcription("support", 100, 900)]
    assert pool.decodes >= 1 and pool.decode_ms[-1] > 0


def test_turns_beyond_the_bound_are_shed_and_answered_as_not_understood(pool: SttPool) -> None:
    pcm = EspeakTts().render("sales", 8000) * 20  # long turns: the first ones stay in flight
    results: list[Frame] = []
    stt = PocketsphinxStt(PHRASES)

    before = pool.dropped
    sub = submitter(pool, stt, 8000, results.append)
    rec_out = []
    for i in range(6):  # as six calls' turns ending at once
        rec = TurnRecorder(sub)
        rec.process(SpeechStarted(0))
        rec.process(InputAudio(pcm[:320], 8000, t_ms=0))
        rec_out.append(list(rec.process(SpeechStopped(20 * (i + 1), 20))))
    shed = [o for o in rec_out if len(o) == 2]
    accepted = 6 - len(shed)
    assert pool.dropped - before == len(shed) >= 1  # the bound is 2 in flight
    assert all(o[1] == Transcription("", 0, o[0].t_ms) for o in shed)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while len(results) < accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(results) == accepted  # every accepted turn came back
    assert pool.inflight == 0
