"""A small pcap writer for RTP audio: G.711 packets SIPp can play (`play_pcap_audio`).

`write_rtp_pcap(pcm, rate, codec, path)` encodes int16 mono PCM at 8 kHz into
20 ms PCMU/PCMA RTP packets inside Ethernet/IPv4/UDP frames (link type 1, as in
Debian's /usr/share/sip-tester pcaps), with pcap timestamps 20 ms apart. SIPp
only uses the UDP payload and the timing; the addresses are placeholders on
loopback. `read_rtp_pcap` reads such a file back (used by tests).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vio_sbc.rtp.g711 import PAYLOAD_TYPES, decode, encode

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
G711_RATE = 8000
FRAME_MS = 20


class PcapError(ValueError):
    pass


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _frame(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip_src = bytes(int(p) for p in src[0].split("."))
    ip_dst = bytes(int(p) for p in dst[0].split("."))
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      ip_src, ip_dst)
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + hdr + udp


def rtp_packets(pcm: npt.NDArray[np.int16], codec: str, *, ssrc: int = 0x5EED1234,
                seq0: int = 1, ts0: int = 0) -> list[bytes]:
    """20 ms RTP packets (header + G.711 payload) for 8 kHz int16 PCM; the last
    frame is padded with silence."""
    pt = PAYLOAD_TYPES.get(codec)
    if pt is None:
        raise PcapError(f"unsupported codec {codec!r} (expected one of: PCMA, PCMU)")
    n = G711_RATE * FRAME_MS // 1000
    samples = np.asarray(pcm, dtype=np.int16)
    if len(samples) % n:
        samples = np.concatenate([samples, np.zeros(n - len(samples) % n, dtype=np.int16)])
    out = []
    for i in range(len(samples) // n):
        marker = 0x80 if i == 0 else 0
        header = struct.pack("!BBHII", 0x80, marker | pt, (seq0 + i) & 0xFFFF,
                             (ts0 + i * n) & 0xFFFFFFFF, ssrc)
        out.append(header + encode(samples[i * n:(i + 1) * n], codec))
    return out


def write_rtp_pcap(pcm_int16: npt.NDArray[np.int16], rate: int, codec: str,
                   path: str | Path, *, src: tuple[str, int] = ("127.0.0.2", 6000),
                   dst: tuple[str, int] = ("127.0.0.1", 20000)) -> int:
    """Write `pcm_int16` (mono, `rate` Hz; G.711 needs 8000) as an RTP pcap.
    Returns the number of packets written."""
    if rate != G711_RATE:
        raise PcapError(f"G.711 needs 8000 Hz audio, got {rate} Hz (resample first)")
    packets = rtp_packets(pcm_int16, codec)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for i, rtp in enumerate(packets):
            frame = _frame(rtp, src, dst)
            usec = i * FRAME_MS * 1000
            f.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000,
                                len(frame), len(frame)))
            f.write(frame)
    return len(packets)


@dataclass(frozen=True, slots=True)
class RtpRecord:
    t_us: int
    payload_type: int
    seq: int
    timestamp: int
    payload: bytes


def read_rtp_pcap(path: str | Path) -> list[RtpRecord]:
    """RTP packets of an Ethernet/IPv4/UDP pcap (little-endian, microsecond)."""
    data = Path(path).read_bytes()
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != PCAP_MAGIC:
        raise PcapError(f"{path}: not a little-endian microsecond pcap file")
    if struct.unpack("<I", data[20:24])[0] != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: link type is not Ethernet")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 + 8 + 12:
            raise PcapError(f"{path}: truncated packet at byte {off - incl}")
        ihl = (pkt[14] & 0x0F) * 4
        rtp = pkt[14 + ihl + 8:]
        _, mpt, seq, ts, _ = struct.unpack("!BBHII", rtp[:12])
        out.append(RtpRecord(sec * 1_000_000 + usec, mpt & 0x7F, seq, ts, rtp[12:]))
    return out


def decode_rtp_pcap(path: str | Path) -> npt.NDArray[np.int16]:
    """The audio of a G.711 RTP pcap as int16 PCM (payload types 0 and 8 only)."""
    names = {v: k for k, v in PAYLOAD_TYPES.items()}
    parts = [decode(r.payload, names[r.payload_type]) for r in read_rtp_pcap(path)
             if r.payload_type in names]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
