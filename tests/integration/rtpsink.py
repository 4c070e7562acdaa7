"""An RTP endpoint on loopback for a call whose signalling SIPp does: it records the
arrival time of every packet the server sends and echoes each one back to its
sender (as SIPp's -rtp_echo does), so the server hears a caller too."""

from __future__ import annotations

import socket
import threading
import time


class RtpSink:
    def __init__(self, src: str = "127.0.0.2") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((src, 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.arrivals: list[float] = []  # monotonic time of each RTP packet received
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtp-sink", daemon=True)

    def __enter__(self) -> RtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def after(self, t: float) -> int:
        """Packets that arrived after monotonic time `t`."""
        return sum(1 for a in list(self.arrivals) if a > t)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) >= 12 and data[0] >> 6 == 2:  # RTP version 2
                self.arrivals.append(time.monotonic())
                try:
                    self.sock.sendto(data, addr)
                except OSError:
                    pass
