"""Debian's baresip as a real TLS + SRTP (SDES) peer for integration tests.

One baresip process per peer, its own config directory, started and stopped by PID.
It sends a WAV file (espeak-ng speech after some silence) as its audio, and its
`sndfile` module writes the audio it decoded from us to `dump-*-dec.wav`: the frames
there with speech energy are what the peer heard. baresip 1.0 listens for SIP on
`port` (UDP/TCP) and `port + 1` (TLS); it opens its own TLS connections from
127.0.0.1 whatever it listens on, so a trunk fed by it must allow 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.integration.conftest import free_port
from vio_sbc.agent.tts import EspeakTts
from vio_sbc.qa.sipp import stop_process

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
VOICED_RMS = 300.0


def baresip_bin() -> str:
    found = shutil.which("baresip")
    if found is None:
        raise RuntimeError("baresip is not installed (scripts/apt-deps.sh installs it)")
    return found


def speech_wav(path: Path, text: str, silence_s: float = 3.0) -> Path:
    """`text` spoken by espeak-ng at 8 kHz after `silence_s` of silence."""
    pcm = EspeakTts().render(text, RATE)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"\0\0" * int(silence_s * RATE) + pcm)
    return path


def voiced_frames(path: Path) -> int:
    """20 ms frames of a 16-bit mono WAV whose RMS shows speech."""
    with wave.open(str(path), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    n = len(samples) // FRAME
    if n == 0:
        return 0
    rms = np.sqrt(np.mean(samples[: n * FRAME].reshape(n, FRAME) ** 2, axis=1))
    return int(np.count_nonzero(rms > VOICED_RMS))


def free_pair(host: str) -> int:
    """A port p with p and p + 1 free on `host` (baresip's SIP and SIP/TLS)."""
    for _ in range(50):
        port = free_port(host)
        if port < 65535 and free_port_is(host, port + 1):
            return port
    raise RuntimeError("no free port pair")


def free_port_is(host: str, port: int) -> bool:
    import socket

    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


@dataclass
class Baresip:
    """A baresip UA: `account` is its accounts line, `commands` run at start (-e)."""

    dir: Path
    ip: str
    account: str
    ca: Path
    audio: Path
    cert: Path | None = None  # PEM with certificate and key, presented on TLS
    commands: tuple[str, ...] = ()
    run_s: float = 10.0
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    out: Path = field(init=False)

    def start(self) -> Baresip:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_pair(self.ip)
        lines = [
            "poll_method\t\tepoll", f"sip_listen\t\t{self.ip}:{self.port}",
            f"sip_cafile\t\t{self.ca}", f"audio_source\t\taufile,{self.audio}",
            f"audio_player\t\taufile,{self.dir / 'unused.wav'}", "audio_alert\t\taufile,/dev/null",
            "audio_srate\t\t8000", "audio_channels\t\t1", f"snd_path\t\t{self.dir}",
            "module_path\t\t/usr/lib/baresip/modules", "module\t\t\tg711.so",
            "module\t\t\taufile.so", "module\t\t\tsndfile.so", "module\t\t\tsrtp.so",
            "module_app\t\taccount.so", "module_app\t\tmenu.so",
        ]
        if self.cert is not None:
            lines.append(f"sip_certificate\t\t{self.cert}")
        (self.dir / "config").write_text("\n".join(lines) + "\n")
        (self.dir / "accounts").write_text(self.account + "\n")
        self.out = self.dir / "baresip.log"
        args = [baresip_bin(), "-f", str(self.dir), "-t", str(int(self.run_s))]
        for cmd in self.commands:
            args += ["-e", cmd]
        self.proc = subprocess.Popen(args, stdout=self.out.open("w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)
        self.wait_log(r"baresip is ready", 15)
        return self

    @property
    def tls_port(self) -> int:
        return self.port + 1

    def log(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def wait_log(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"baresip: no {pattern!r} in {timeout}s: {self.log()[-1500:]}")
            if self.proc is not None and self.proc.poll() is not None and not re.search(
                    pattern, self.log()):
                raise RuntimeError(f"baresip exited {self.proc.returncode}: {self.log()[-1500:]}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return int(self.proc.wait(timeout))

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)

    def heard(self) -> int:
        """Voiced 20 ms frames baresip decoded from us (its sndfile dump)."""
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        return sum(voiced_frames(p) for p in dumps)
