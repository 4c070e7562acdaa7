"""pcap writing for SIPp: resampled, G.711-encoded, 20 ms RTP packets with the framing
of Debian's captures; WAV reading; pinned capture-file errors."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.rtp.g711 import alaw_decode, ulaw_decode
from vio_sbc.rtp.packet import PacketError
from vio_sbc.rtp.pcap import load_wav, read_pcap, read_rtp_pcap, write_rtp_pcap

ROOT = Path(__file__).resolve().parents[3]


def sine(hz: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@pytest.mark.parametrize(("codec", "pt", "decode"), [("pcmu", 0, ulaw_decode),
                                                      ("pcma", 8, alaw_decode)])
def test_write_rtp_pcap_resamples_and_packetises(tmp_path: Path, codec: str, pt: int,
                                                 decode: object) -> None:
    out = tmp_path / "a.pcap"
    n = write_rtp_pcap(sine(440, 44100, 1.01), 44100, codec, out)
    assert n == 51  # 1.01 s at 8 kHz = 8080 samples -> 50.5 packets, last one padded
    packets = read_rtp_pcap(out)
    assert len(packets) == 51
    t0, _d0, p0 = packets[0]
    assert p0.marker and not any(p.marker for _t, _d, p in packets[1:])
    for i, (t, d, p) in enumerate(packets):
        assert p.payload_type == pt and len(p.payload) == 160
        assert p.sequence_number == i and p.timestamp == 160 * i
        assert t - t0 == 20_000 * i
        assert (d.src, d.dst) == ("127.0.0.1", "127.0.0.1")
    pcm = decode(b"".join(p.payload for _t, _d, p in packets[:50]))  # type: ignore[operator]
    # the tone survives: its energy sits at 440 Hz after resampling to 8 kHz
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 8000 / len(pcm) - 440) < 5


def test_payload_type_override_and_ptime(tmp_path: Path) -> None:
    out = tmp_path / "b.pcap"
    assert write_rtp_pcap(sine(300, 8000, 0.3), 8000, "PCMA", out, payload_type=96,
                          ptime_ms=30) == 10
    packets = read_rtp_pcap(out)
    assert {p.payload_type for _t, _d, p in packets} == {96}
    assert {len(p.payload) for _t, _d, p in packets} == {240}


def test_unknown_codec(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^codec 'g729' is not one of pcma, pcmu$"):
        write_rtp_pcap(sine(300, 8000, 0.1), 8000, "g729", tmp_path / "c.pcap")


def test_committed_speech_pcaps_are_20ms_g711() -> None:
    for codec, pt in (("pcmu", 0), ("pcma", 8)):
        packets = read_rtp_pcap(ROOT / "sipp_scenarios" / "pcap" / f"speech_{codec}.pcap")
        assert len(packets) > 250
        assert {p.payload_type for _t, _d, p in packets} == {pt}
        assert {len(p.payload) for _t, _d, p in packets} == {160}


def write_wav(path: Path, data: bytes, rate: int, width: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def test_load_wav_mixes_stereo_16bit(tmp_path: Path) -> None:
    left = np.array([1000, -2000, 300], dtype="<i2")
    right = np.array([3000, 2000, -301], dtype="<i2")
    data = np.stack([left, right], axis=1).tobytes()
    pcm, rate = load_wav(write_wav(tmp_path / "s.wav", data, 22050, 2, 2))
    assert rate == 22050 and pcm.dtype == np.int16
    assert pcm.tolist() == [2000, 0, 0]


def test_load_wav_8bit_unsigned(tmp_path: Path) -> None:
    pcm, rate = load_wav(write_wav(tmp_path / "u.wav", bytes([128, 255, 0]), 11025, 1, 1))
    assert rate == 11025 and pcm.tolist() == [0, 127 << 8, -128 << 8]


def test_load_wav_refuses_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(PacketError, match=r"x\.wav: not a PCM WAV file"):
        load_wav(bad)
    w24 = write_wav(tmp_path / "w24.wav", bytes(6), 8000, 3, 1)
    with pytest.raises(PacketError, match=r"w24\.wav: 24-bit WAV is not supported"):
        load_wav(w24)


def _pcap(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "t.pcap"
    p.write_bytes(data)
    return p


HDR = struct.pack("<LHHlLLL", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


@pytest.mark.parametrize(("data", "message"), [
    (HDR[:20], "pcap file is shorter than its 24-byte header"),
    (b"\x00" * 24, "pcap file has unknown magic 0x00000000"),
    (HDR + b"\x00" * 10, "pcap record 1 has a truncated header"),
    (HDR + struct.pack("<LLLL", 0, 0, 100, 100) + b"\x00" * 50, "pcap record 1 is truncated"),
])
def test_pcap_errors(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(PacketError) as info:
        read_pcap(_pcap(tmp_path, data))
    assert str(info.value) == message


def test_rtp_pcap_needs_ethernet(tmp_path: Path) -> None:
    raw = struct.pack("<LHHlLLL", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    with pytest.raises(PacketError, match=r"^pcap link type 101 is not Ethernet \(1\)$"):
        read_rtp_pcap(_pcap(tmp_path, raw))


def test_big_endian_nanosecond_pcap(tmp_path: Path) -> None:
    raw = (struct.pack(">LHHlLLL", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
           + struct.pack(">LLLL", 2, 5_000_000, 3, 3) + b"abc")
    lt, recs = read_pcap(_pcap(tmp_path, raw))
    assert lt == 1 and recs[0].ts_us == 2_005_000 and recs[0].data == b"abc"


def test_debian_alaw_capture_decodes_and_reencodes_byte_for_byte() -> None:
    from vio_sbc.rtp.g711 import alaw_encode

    packets = read_rtp_pcap(Path("/usr/share/sip-tester/g711a.pcap"))
    payload = b"".join(p.payload for _t, _d, p in packets)
    assert len(payload) == 236 * 240
    pcm = alaw_decode(payload)
    assert alaw_encode(pcm) == payload
    assert np.abs(pcm.astype(np.int32)).max() > 5000  # speech, not silence
