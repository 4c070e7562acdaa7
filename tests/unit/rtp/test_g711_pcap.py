from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from vio_sbc.rtp.pcap import PcapError, write_rtp_pcap

FULL = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


def test_g711_bit_exact_with_the_reference_tables() -> None:
    # digests of the classic Sun g711.c output (CPython's audioop) over every sample
    assert _sha(ulaw_encode(FULL)) == "81d633c9e6972a18"
    assert _sha(alaw_encode(FULL)) == "38488f6fd710f468"
    assert _sha(ulaw_decode(bytes(range(256))).astype("<i2").tobytes()) == "3dab54339e520bb2"
    assert _sha(alaw_decode(bytes(range(256))).astype("<i2").tobytes()) == "e04788d110e58ff8"
    assert ulaw_encode(np.array([0], np.int16)) == b"\xff"
    assert alaw_encode(np.array([0], np.int16)) == b"\xd5"


def test_pcap_has_one_rtp_packet_per_20ms(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)  # 1 s
    n = write_rtp_pcap(pcm, 8000, "PCMA", tmp_path / "a.pcap")
    data = (tmp_path / "a.pcap").read_bytes()
    assert n == 50
    magic, _, _, _, _, _snap, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, link) == (0xA1B2C3D4, 1)
    off, seqs, stamps = 24, [], []
    while off < len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        rtp = pkt[14 + 20 + 8:]
        assert len(rtp) == 12 + 160 and rtp[0] == 0x80 and rtp[1] & 0x7F == 8
        seqs.append(struct.unpack("!H", rtp[2:4])[0])
        stamps.append(sec * 1_000_000 + usec)
        off += 16 + incl
    assert seqs == list(range(50))
    assert np.diff(stamps).tolist() == [20000] * 49


def test_pcap_rejects_unknown_codec(tmp_path: Path) -> None:
    msg = r"unsupported codec 'G729' \(expected one of: PCMA, PCMU\)"
    with pytest.raises(PcapError, match=msg):
        write_rtp_pcap(np.zeros(160, np.int16), 8000, "G729", tmp_path / "x.pcap")
