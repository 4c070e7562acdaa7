"""pcap files of RTP audio: read them, and write them from PCM for SIPp.

`write_rtp_pcap` resamples to 8 kHz, encodes G.711 and packetises RTP every
20 ms into a classic (microsecond) little-endian pcap with Ethernet/IPv4/UDP
framing — the format of Debian's `/usr/share/sip-tester/*.pcap`, which SIPp's
`play_pcap_audio` replays at the capture's timing. `load_wav` reads any PCM
WAV (8/16-bit, mono or stereo, any rate) as mono int16.
"""

from __future__ import annotations

import struct
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vio_sbc.agent.audio import Int16Array, resample
from vio_sbc.rtp.g711 import alaw_encode, ulaw_encode
from vio_sbc.rtp.packet import (
    PacketError,
    RtpPacket,
    UdpDatagram,
    build_udp_frame,
    parse_udp_frame,
)

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
RTP_RATE = 8000
CODECS = {"pcmu": (0, ulaw_encode), "pcma": (8, alaw_encode)}
# Addresses written into generated captures. SIPp rewrites the destination to
# the call's negotiated media address; nothing is sent to these.
SRC = ("127.0.0.1", 6000)
DST = ("127.0.0.1", 6002)


@dataclass(frozen=True, slots=True)
class PcapRecord:
    ts_us: int   # capture time, microseconds since the epoch
    data: bytes  # the captured frame (incl_len bytes)


def read_pcap(path: str | Path) -> tuple[int, list[PcapRecord]]:
    """Link type and records of a classic pcap (either byte order, us or ns)."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise PacketError("pcap file is shorter than its 24-byte header")
    (magic,) = struct.unpack_from("<L", data)
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        order = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        order = ">"
    else:
        raise PacketError(f"pcap file has unknown magic 0x{magic:08x}")
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    (linktype,) = struct.unpack_from(order + "L", data, 20)
    records: list[PcapRecord] = []
    pos = 24
    while pos < len(data):
        if pos + 16 > len(data):
            raise PacketError(f"pcap record {len(records) + 1} has a truncated header")
        sec, frac, incl, _orig = struct.unpack_from(order + "LLLL", data, pos)
        pos += 16
        if pos + incl > len(data):
            raise PacketError(f"pcap record {len(records) + 1} is truncated")
        us = frac // 1000 if nano else frac
        records.append(PcapRecord(sec * 1_000_000 + us, data[pos : pos + incl]))
        pos += incl
    return linktype, records


def write_pcap(path: str | Path, records: Iterable[PcapRecord],
               linktype: int = LINKTYPE_ETHERNET) -> None:
    out = [struct.pack("<LHHlLLL", PCAP_MAGIC, 2, 4, 0, 0, 65535, linktype)]
    for r in records:
        sec, us = divmod(r.ts_us, 1_000_000)
        out.append(struct.pack("<LLLL", sec, us, len(r.data), len(r.data)))
        out.append(r.data)
    Path(path).write_bytes(b"".join(out))


def read_rtp_pcap(path: str | Path) -> list[tuple[int, UdpDatagram, RtpPacket]]:
    """(capture time in us, UDP datagram, RTP packet) for every record."""
    linktype, records = read_pcap(path)
    if linktype != LINKTYPE_ETHERNET:
        raise PacketError(f"pcap link type {linktype} is not Ethernet (1)")
    out = []
    for r in records:
        d = parse_udp_frame(r.data)
        out.append((r.ts_us, d, RtpPacket.parse(d.payload)))
    return out


def packetise(payload: bytes, payload_type: int, *, samples_per_packet: int = 160,
              ssrc: int = 0x5649_4F00, seq0: int = 0, ts0: int = 0) -> list[RtpPacket]:
    """Cut an encoded G.711 stream into RTP packets (marker on the first one)."""
    n = samples_per_packet
    return [
        RtpPacket(payload_type=payload_type, sequence_number=(seq0 + i) & 0xFFFF,
                  timestamp=(ts0 + i * n) & 0xFFFFFFFF, ssrc=ssrc,
                  payload=payload[off : off + n], marker=i == 0)
        for i, off in enumerate(range(0, len(payload), n))
    ]


def write_rtp_pcap(pcm_int16: Int16Array, rate: int, codec: str, path: str | Path,
                   payload_type: int | None = None, *, ptime_ms: int = 20,
                   start_us: int = 1_700_000_000_000_000) -> int:
    """Write mono int16 PCM at `rate` as a G.711 RTP pcap; returns the packet count.

    The last packet is padded with silence to a whole `ptime_ms`."""
    key = codec.lower()
    if key not in CODECS:
        raise ValueError(f"codec {codec!r} is not one of {', '.join(sorted(CODECS))}")
    default_pt, encode = CODECS[key]
    pcm = resample(np.asarray(pcm_int16, dtype=np.int16), rate, RTP_RATE)
    n = RTP_RATE * ptime_ms // 1000
    if len(pcm) % n:
        pcm = np.concatenate([pcm, np.zeros(n - len(pcm) % n, dtype=np.int16)])
    packets = packetise(encode(pcm), default_pt if payload_type is None else payload_type,
                        samples_per_packet=n)
    records = [
        PcapRecord(start_us + i * ptime_ms * 1000,
                   build_udp_frame(UdpDatagram(*SRC, *DST, bytes(p), ident=i)))
        for i, p in enumerate(packets)
    ]
    write_pcap(path, records)
    return len(packets)


def load_wav(path: str | Path) -> tuple[Int16Array, int]:
    """Mono int16 samples and sample rate of a PCM WAV (8- or 16-bit, channels mixed)."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise PacketError(f"{path}: not a PCM WAV file ({exc})") from exc
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    else:
        raise PacketError(f"{path}: {8 * width}-bit WAV is not supported (8 or 16-bit)")
    x = x[: len(x) - len(x) % channels].reshape(-1, channels).mean(axis=1)
    return np.round(x).astype(np.int16), rate


def decode_rtp_pcap(path: str | Path) -> Int16Array:
    """The audio of a G.711 RTP pcap as int16 PCM (payload types 0 and 8; others skipped)."""
    from vio_sbc.rtp.g711 import alaw_decode, ulaw_decode

    decoders = {0: ulaw_decode, 8: alaw_decode}
    parts = [decoders[p.payload_type](p.payload) for _t, _d, p in read_rtp_pcap(path)
             if p.payload_type in decoders]
    out: Int16Array = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    return out
