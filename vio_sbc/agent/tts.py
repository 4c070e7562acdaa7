"""Offline text to speech: the provider interface, espeak-ng, and the prompt cache.

Providers render text at the call's clock rate. Prompts repeat on every call
(greetings, replies, fallbacks), so rendered audio is cached per (voice, text,
rate); the softswitch renders every scripted prompt at start-up, so calls never
wait for synthesis of a configured prompt.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import wave
from typing import Protocol

import numpy as np

from vio_sbc.agent.audio import resample
from vio_sbc.errors import VioError


class TtsError(VioError):
    pass


class TtsProvider(Protocol):
    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        """16-bit mono PCM of `text` at `sample_rate`."""
        ...


def make_tts(provider: str) -> TtsProvider:
    """The TTS provider named in an agent's `tts.provider`."""
    if provider == "espeak":
        return EspeakTts()
    raise TtsError(f"unknown TTS provider {provider!r}")


class EspeakTts:
    """Renders text with the `espeak-ng` program (no network, no models to fetch)."""

    def __init__(self, binary: str | None = None, max_cache: int = 256) -> None:
        found = binary or shutil.which("espeak-ng")
        if not found:
            raise TtsError("espeak-ng not found: install Debian's espeak-ng (make install does)")
        self.binary = found
        self._cache: dict[tuple[str, str, int], bytes] = {}
        self._max = max_cache
        self._lock = threading.Lock()
        self.hits = 0
        self.renders = 0

    def render(self, text: str, sample_rate: int, voice: str = "en-us") -> bytes:
        """16-bit mono PCM of `text` at `sample_rate`."""
        key = (voice, text, sample_rate)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self.hits += 1
                return hit
        proc = subprocess.run(
            [self.binary, "-v", voice, "--stdout", "--", text],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0 or not proc.stdout:
            raise TtsError(
                f"espeak-ng failed for voice {voice!r}: "
                f"{proc.stderr.decode(errors='replace').strip()}"
            )
        # espeak-ng writes a streaming WAV whose size fields may be 0x7fffffff
        data = proc.stdout
        with wave.open(io.BytesIO(data)) as w:
            rate = w.getframerate()
            width = w.getsampwidth()
        if width != 2:
            raise TtsError(f"espeak-ng produced {8 * width}-bit audio, expected 16")
        pcm = data[44:]
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        out = resample(np.frombuffer(pcm, dtype="<i2"), rate, sample_rate).astype("<i2").tobytes()
        with self._lock:
            self.renders += 1
            if len(self._cache) >= self._max:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = out
        return out
