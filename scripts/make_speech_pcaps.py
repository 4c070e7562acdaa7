"""Regenerate sipp_scenarios/pcap/speech_{pcmu,pcma}.pcap from espeak-ng speech.

Two caller turns separated by 1.2 s of silence (so a VAD with a 600 ms stop
sees two turns), rendered by Debian's espeak-ng, written as a 16 kHz WAV and
turned into pcaps by `vio-sbc make-pcap` (the tool QA uses on its own recordings).

    .venv/bin/python scripts/make_speech_pcaps.py
"""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

from vio_sbc.agent.tts import EspeakTts

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sipp_scenarios" / "pcap"
TURNS = ["Hello, I would like to check on my order.", "When will it arrive?"]
RATE = 16000


def main() -> int:
    tts = EspeakTts()
    gap = bytes(2 * RATE * 1200 // 1000)
    pcm = gap[: len(gap) // 4] + gap.join(tts.render(t, RATE) for t in TURNS) + gap
    OUT.mkdir(parents=True, exist_ok=True)
    wav = OUT / "speech.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    try:
        for codec in ("pcmu", "pcma"):
            subprocess.run([sys.executable, "-m", "vio_sbc.cli", "make-pcap", str(wav),
                            str(OUT / f"speech_{codec}.pcap"), "--codec", codec], check=True)
    finally:
        wav.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
