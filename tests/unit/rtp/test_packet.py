"""RTP packets and Ethernet/IPv4/UDP frames: captured fixtures round-trip byte for
byte; every malformed input raises PacketError with its pinned message."""

from __future__ import annotations

from pathlib import Path

import pytest

from vio_sbc.rtp.packet import (
    PacketError,
    RtpPacket,
    UdpDatagram,
    build_udp_frame,
    parse_udp_frame,
)
from vio_sbc.rtp.pcap import read_pcap, write_pcap

SIPP = Path("/usr/share/sip-tester")
FIXTURES = [SIPP / "g711a.pcap", SIPP / "dtmf_2833_1.pcap", SIPP / "dtmf_2833_pound.pcap"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_captures_round_trip_byte_for_byte(path: Path, tmp_path: Path) -> None:
    linktype, records = read_pcap(path)
    assert linktype == 1 and records
    for r in records:
        d = parse_udp_frame(r.data)
        assert build_udp_frame(d) == r.data
        assert bytes(RtpPacket.parse(d.payload)) == d.payload
    out = tmp_path / "copy.pcap"
    write_pcap(out, records)
    assert out.read_bytes() == path.read_bytes()


def test_g711a_capture_fields() -> None:
    _lt, records = read_pcap(SIPP / "g711a.pcap")
    d = parse_udp_frame(records[0].data)
    assert (d.src, d.sport, d.dst, d.dport) == ("10.1.3.143", 5000, "10.1.6.18", 2006)
    p = RtpPacket.parse(d.payload)
    assert (p.payload_type, p.marker, len(p.payload)) == (8, True, 240)
    q = RtpPacket.parse(parse_udp_frame(records[1].data).payload)
    assert q.sequence_number == (p.sequence_number + 1) & 0xFFFF
    assert q.timestamp - p.timestamp == 240 and not q.marker


def test_dtmf_capture_is_telephone_event_101() -> None:
    _lt, records = read_pcap(SIPP / "dtmf_2833_1.pcap")
    p = RtpPacket.parse(parse_udp_frame(records[0].data).payload)
    assert p.payload_type == 101 and p.payload[0] == 1  # event 1


def test_csrc_extension_and_padding_round_trip() -> None:
    p = RtpPacket(payload_type=0, sequence_number=65535, timestamp=0xFFFFFFFF, ssrc=7,
                  payload=b"\x01\x02\x03", marker=True, csrc=(1, 2), extension_profile=0xBEDE,
                  extension_value=b"\x10\xaa\x00\x00", padding_size=4)
    raw = bytes(p)
    assert len(raw) == 12 + 8 + 4 + 4 + 3 + 4
    assert raw[0] == 0x80 | 0x20 | 0x10 | 2 and raw[1] == 0x80
    assert RtpPacket.parse(raw) == p


HEADER = bytes.fromhex("80000001" "00000000" "00000001")


@pytest.mark.parametrize(("data", "message"), [
    (b"\x80\x00", "RTP packet length is less than 12 bytes"),
    (b"\x40" + HEADER[1:], "RTP packet has invalid version"),
    (b"\x82" + HEADER[1:] + b"\x00\x00\x00\x01", "RTP packet has truncated CSRC"),
    (b"\x90" + HEADER[1:] + b"\xbe\xde", "RTP packet has truncated extension profile / length"),
    (b"\x90" + HEADER[1:] + b"\xbe\xde\x00\x02" + bytes(4),
     "RTP packet has truncated extension value"),
    (b"\xa0" + HEADER[1:] + b"\x00\x00\x00\x00", "RTP packet padding length is invalid"),
    (b"\xa0" + HEADER[1:] + b"\x00\x09", "RTP packet padding length is invalid"),
])
def test_rtp_errors(data: bytes, message: str) -> None:
    with pytest.raises(PacketError) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_rtp_field_errors() -> None:
    with pytest.raises(PacketError, match=r"^RTP payload type 128 is out of range 0-127$"):
        RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0)
    with pytest.raises(PacketError, match=r"^RTP extension value length is not a multiple of 4$"):
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0,
                  extension_profile=1, extension_value=b"\x00")


def _frame() -> bytes:
    return build_udp_frame(UdpDatagram("127.0.0.2", 4000, "127.0.0.1", 20000, b"hello"))


def test_built_frame_parses_back_and_checksums() -> None:
    f = _frame()
    d = parse_udp_frame(f)
    assert (d.src, d.sport, d.dst, d.dport, d.payload) == (
        "127.0.0.2", 4000, "127.0.0.1", 20000, b"hello")
    from vio_sbc.rtp.packet import ipv4_checksum

    assert ipv4_checksum(f[14:34]) == 0  # a valid header sums to 0xFFFF


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f[:10], "frame is shorter than an Ethernet header"),
    (lambda f: f[:12] + b"\x86\xdd" + f[14:], "frame carries EtherType 0x86dd, not IPv4"),
    (lambda f: f[:30], "IPv4 header is truncated or not version 4"),
    (lambda f: f[:23] + b"\x06" + f[24:], "IP packet carries protocol 6, not UDP"),
    (lambda f: f[:38], "UDP header is truncated"),
    (lambda f: f[:38] + b"\x00\x40" + f[40:], "UDP length 64 does not fit the 13-byte datagram"),
])
def test_frame_errors(mutate: object, message: str) -> None:
    with pytest.raises(PacketError) as info:
        parse_udp_frame(mutate(_frame()))  # type: ignore[operator]
    assert str(info.value) == message


def test_bad_address() -> None:
    with pytest.raises(PacketError, match=r"^'127\.0\.0' is not an IPv4 address$"):
        build_udp_frame(UdpDatagram("127.0.0", 1, "127.0.0.1", 2, b""))
