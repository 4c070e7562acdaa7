"""A small pure pcap writer for RTP audio (what SIPp's `play_pcap_audio` replays).

`write_rtp_pcap` G.711-encodes 16-bit mono PCM into 20 ms RTP packets inside
Ethernet/IPv4/UDP frames with pcap timestamps 20 ms apart. SIPp rewrites the
addresses and ports when it replays, so the loopback ones written here are
placeholders.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vio_sbc.agent.audio import resample
from vio_sbc.rtp.g711 import ENCODERS, PAYLOAD_TYPES

_PTIME_MS = 20
_CODEC_RATE = 8000
_SRC = (127, 0, 0, 2)
_DST = (127, 0, 0, 1)


class PcapError(ValueError):
    pass


def _ip_checksum(header: bytes) -> int:
    total = int(sum(struct.unpack("!10H", header)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(rtp: bytes, sport: int, dport: int, ident: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4B4B", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0, 64, 17, 0,
                     *_SRC, *_DST)
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def write_rtp_pcap(pcm_int16: npt.NDArray[np.int16], rate: int, codec: str, path: str | Path,
                   payload_type: int | None = None) -> int:
    """Write `pcm_int16` (mono, `rate` Hz) as G.711 `codec` ("PCMU"/"PCMA") RTP in a pcap.

    Returns the number of RTP packets written (one per 20 ms; the tail is zero-padded).
    """
    name = codec.upper()
    if name not in ENCODERS:
        raise PcapError(f"unsupported codec {codec!r} (expected one of: PCMA, PCMU)")
    if rate <= 0:
        raise PcapError(f"sample rate must be positive, got {rate}")
    pt = PAYLOAD_TYPES[name] if payload_type is None else payload_type
    if not 0 <= pt <= 127:
        raise PcapError(f"payload type must be 0..127, got {pt}")
    samples = resample(np.asarray(pcm_int16, dtype=np.int16), rate, _CODEC_RATE)
    per = _CODEC_RATE * _PTIME_MS // 1000
    if len(samples) % per:
        samples = np.concatenate([samples, np.zeros(per - len(samples) % per, np.int16)])
    payload = ENCODERS[name](samples)
    ssrc = int.from_bytes(os.urandom(4), "big")
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet link type
    count = len(payload) // per
    for i in range(count):
        rtp = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt, i & 0xFFFF,
                          (i * per) & 0xFFFFFFFF, ssrc) + payload[i * per:(i + 1) * per]
        pkt = _frame(rtp, 6000, 6000, i)
        usec = i * _PTIME_MS * 1000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(pkt), len(pkt)))
        out.append(pkt)
    Path(path).write_bytes(b"".join(out))
    return count
