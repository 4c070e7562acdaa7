"""G.711 against Python's audioop (the reference C implementation), and the RTP pcap
writer round trip plus Debian's SIPp pcap as a fixture for the reader."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.agent.audio import tone
from vio_sbc.rtp import g711
from vio_sbc.rtp.packet import PacketError
from vio_sbc.rtp.pcap import decode_rtp_pcap, read_rtp_pcap, write_rtp_pcap

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL = np.arange(-32768, 32768, dtype=np.int16)
REF = {"PCMU": (audioop.lin2ulaw, audioop.ulaw2lin), "PCMA": (audioop.lin2alaw, audioop.alaw2lin)}


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_encode_matches_reference_for_every_sample(codec: str) -> None:
    enc, _ = REF[codec]
    assert g711.encode(ALL, codec) == enc(ALL.tobytes(), 2)


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_decode_matches_reference_for_every_code(codec: str) -> None:
    _, dec = REF[codec]
    codes = bytes(range(256))
    assert g711.decode(codes, codec).tobytes() == dec(codes, 2)


def test_unknown_codec() -> None:
    with pytest.raises(g711.G711Error, match=r"unknown G\.711 codec 'G722'"):
        g711.encode(ALL[:10], "G722")


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_pcap_round_trip(tmp_path: Path, codec: str) -> None:
    pcm = np.frombuffer(tone(1000, 1010, 8000), dtype="<i2")
    path = tmp_path / "t.pcap"
    assert write_rtp_pcap(pcm, 8000, codec, path) == 51  # 1010 ms -> 51 packets of 20 ms
    recs = read_rtp_pcap(path)
    assert [p.sequence_number for _t, _d, p in recs] == list(range(51))
    assert [p.timestamp for _t, _d, p in recs] == [160 * i for i in range(51)]
    assert [t - recs[0][0] for t, _d, _p in recs] == [20000 * i for i in range(51)]
    assert {p.payload_type for _t, _d, p in recs} == {g711.PAYLOAD_TYPES[codec]}
    back = decode_rtp_pcap(path)
    assert len(back) == 51 * 160
    err = np.abs(back[: len(pcm)].astype(int) - pcm.astype(int))
    assert err.max() < 600  # G.711 quantisation at 0.3 full scale
    spec = np.abs(np.fft.rfft(back.astype(float)))
    assert abs(np.fft.rfftfreq(len(back), 1 / 8000)[int(np.argmax(spec))] - 1000) < 5


def test_pcap_headers_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    write_rtp_pcap(np.zeros(160, dtype=np.int16), 8000, "PCMU", path)
    data = path.read_bytes()
    assert struct.unpack("<IHHiIII", data[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    _, _, incl, orig = struct.unpack("<IIII", data[24:40])
    assert incl == orig == 14 + 20 + 8 + 12 + 160 == len(data) - 40
    ip = data[40 + 14:40 + 34]
    total = sum(struct.unpack("!10H", ip))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF  # IPv4 header checksum verifies
    assert ip[9] == 17 and ip[12:16] == bytes([127, 0, 0, 1])


def test_reads_debians_sipp_pcap() -> None:
    src = Path("/usr/share/sip-tester/g711a.pcap")
    recs = read_rtp_pcap(src)
    assert recs and {p.payload_type for _t, _d, p in recs} == {8}


def test_other_rates_are_resampled_and_bad_input_refused(tmp_path: Path) -> None:
    assert write_rtp_pcap(np.zeros(320, dtype=np.int16), 16000, "PCMU", tmp_path / "x") == 1
    with pytest.raises(ValueError, match="codec 'G722' is not one of pcma, pcmu"):
        write_rtp_pcap(np.zeros(320, dtype=np.int16), 8000, "G722", tmp_path / "x")
    (tmp_path / "bad").write_bytes(b"nope" * 10)
    with pytest.raises(PacketError, match="pcap file has unknown magic 0x65706f6e"):
        read_rtp_pcap(tmp_path / "bad")
