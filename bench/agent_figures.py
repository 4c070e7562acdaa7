"""The agent figures of docs/agents.md that need no call: echo-guard cost and peaks,
and speech recognition by grammar vs the full language model. Prints figures, asserts
nothing; offline (espeak-ng speech through G.711, no sockets), bounded.

    .venv/bin/python bench/agent_figures.py

1. echo guard (`vio_sbc/agent/echo.py`): a prompt is "played" (the guard's reference:
   the last second), the caller side returns it as echo (40 ms later, -12 dB, G.711
   requantised, as a line or SIPp `-rtp_echo` would): the time of `is_echo` per voiced
   frame, and each voiced echo frame's peak correlation; then a caller talking over the
   prompt (another voice and text): the share of its loud frames above the 0.7
   threshold.
2. recognition (`vio_sbc/agent/stt.py`): the words "sales", "support", "goodbye",
   "operator" spoken by espeak-ng, G.711 round trip, decoded by a grammar of the
   receptionist's phrases and by the full en-us language model: what each heard and
   the time per utterance; then two grammar decoders on two threads at once against
   the same two decodes in a row.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vio_sbc.agent.echo import EchoGuard, peak_correlation
from vio_sbc.agent.stt import PocketsphinxStt
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

RATE, FRAME = 8000, 160
PROMPT = "Thanks for calling. How can I help you today? Say sales, support or operator."
CALLER = "I would like to talk to somebody about my bill, please."
WORDS = ["sales", "support", "goodbye", "operator"]
PHRASES = ["sales", "sale", "sells", "support", "goodbye", "bye", "operator", "person"]


def line(pcm: np.ndarray) -> np.ndarray:
    """What the line does to audio: G.711 mu-law there and back."""
    return ulaw_decode(ulaw_encode(pcm.astype(np.int16)))


def frames(pcm: np.ndarray) -> list[bytes]:
    n = len(pcm) // FRAME
    return [pcm[i * FRAME:(i + 1) * FRAME].astype("<i2").tobytes() for i in range(n)]


def rms(frame: bytes) -> float:
    y = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(y * y)))


def echo_figures(tts: EspeakTts) -> None:
    prompt = np.frombuffer(tts.render(PROMPT, RATE), dtype="<i2")
    played = frames(line(prompt))
    delay = 2  # frames: 40 ms
    echo = frames(line(np.concatenate([np.zeros(delay * FRAME), prompt * 0.25])))
    talk = frames(line(np.frombuffer(tts.render(CALLER, RATE, "en-us+f3"), dtype="<i2")))
    for name, caller in (("echo", echo), ("caller over the prompt", talk)):
        ref: deque[bytes | None] = deque([None] * 50, maxlen=50)  # the last second
        guard = EchoGuard(ref.copy)
        times, peaks, above = [], [], 0
        for i, frame in enumerate(caller[:len(played)]):
            ref.append(played[i])
            if rms(frame) < 300:  # voiced frames only (webrtcvad's job in the pipeline)
                guard.is_echo(frame)
                continue
            t0 = time.perf_counter()
            judged = guard.is_echo(frame)
            times.append(time.perf_counter() - t0)
            window = np.frombuffer(b"".join(list(guard._window)), dtype="<i2")
            ref_pcm = np.concatenate([np.frombuffer(p, dtype="<i2") if p else
                                      np.zeros(FRAME, np.int16) for p in ref])
            peaks.append(peak_correlation(window, ref_pcm))
            above += judged
        print(f"echo guard, {name}: {len(peaks)} voiced frames; is_echo "
              f"{statistics.median(times) * 1000:.2f} ms p50, "
              f"{statistics.fmean(times) * 1000:.2f} ms mean per voiced frame; "
              f"peak min {min(peaks):.4f}, >= 0.999: {sum(p >= 0.999 for p in peaks)}; "
              f"judged echo (>= 0.7): {above} ({100 * above / len(peaks):.1f} %)")


def stt_figures(tts: EspeakTts) -> None:
    grammar, full = PocketsphinxStt(PHRASES), PocketsphinxStt()
    clips = {w: line(np.frombuffer(tts.render(w, RATE), dtype="<i2")).astype("<i2").tobytes()
             for w in WORDS}
    for name, stt in (("grammar", grammar), ("language model", full)):
        out = []
        for w, pcm in clips.items():
            t0 = time.perf_counter()
            heard = stt.transcribe(pcm, RATE)
            out.append(f"{w!r} -> {heard!r} {(time.perf_counter() - t0) * 1000:.0f} ms")
        print(f"stt {name}: " + "; ".join(out))
    other = PocketsphinxStt(PHRASES)
    pcm = clips["support"]
    for stt in (grammar, other):
        stt.transcribe(pcm, RATE)  # warm
    best_row, best_par = float("inf"), float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        grammar.transcribe(pcm, RATE)
        other.transcribe(pcm, RATE)
        best_row = min(best_row, time.perf_counter() - t0)
        threads = [threading.Thread(target=s.transcribe, args=(pcm, RATE)) for s in
                   (grammar, other)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        best_par = min(best_par, time.perf_counter() - t0)
    print(f"stt two grammar decodes of 'support' (best of 5): in a row "
          f"{best_row * 1000:.0f} ms, on two threads at once {best_par * 1000:.0f} ms")


def main() -> int:
    tts = EspeakTts()
    echo_figures(tts)
    stt_figures(tts)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
