"""RTP packets (RFC 3550) and the Ethernet/IPv4/UDP framing of a pcap record.

`RtpPacket.parse(data)` / `bytes(packet)` round-trip byte for byte (padding and
header extension included); `parse_udp_frame` takes an Ethernet frame apart.
Every malformed input raises `PacketError` with a precise message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from vio_sbc.errors import VioError

RTP_HEADER = 12
ETH_IPV4 = 0x0800
IPPROTO_UDP = 17


class PacketError(VioError, ValueError):
    """A packet, frame or capture file that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension_value: bytes = b""
    padding_size: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise PacketError(f"RTP payload type {self.payload_type} is out of range 0-127")
        if len(self.csrc) > 15:
            raise PacketError("RTP packet has more than 15 CSRC")
        if len(self.extension_value) % 4:
            raise PacketError("RTP extension value length is not a multiple of 4")
        if not 0 <= self.padding_size <= 255:
            raise PacketError("RTP padding size is out of range 0-255")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < RTP_HEADER:
            raise PacketError("RTP packet length is less than 12 bytes")
        v_p_x_cc, m_pt, seq, ts, ssrc = struct.unpack_from("!BBHLL", data)
        if v_p_x_cc >> 6 != 2:
            raise PacketError("RTP packet has invalid version")
        cc = v_p_x_cc & 0x0F
        pos = RTP_HEADER + 4 * cc
        if len(data) < pos:
            raise PacketError("RTP packet has truncated CSRC")
        csrc = struct.unpack_from(f"!{cc}L", data, RTP_HEADER)
        profile: int | None = None
        ext = b""
        if v_p_x_cc & 0x10:
            if len(data) < pos + 4:
                raise PacketError("RTP packet has truncated extension profile / length")
            profile, words = struct.unpack_from("!HH", data, pos)
            pos += 4
            if len(data) < pos + 4 * words:
                raise PacketError("RTP packet has truncated extension value")
            ext = data[pos : pos + 4 * words]
            pos += 4 * words
        end = len(data)
        pad = 0
        if v_p_x_cc & 0x20:
            pad = data[-1]
            if pad == 0 or end - pad < pos:
                raise PacketError("RTP packet padding length is invalid")
            end -= pad
        return cls(payload_type=m_pt & 0x7F, sequence_number=seq, timestamp=ts, ssrc=ssrc,
                   payload=data[pos:end], marker=bool(m_pt & 0x80), csrc=tuple(csrc),
                   extension_profile=profile, extension_value=ext, padding_size=pad)

    def __bytes__(self) -> bytes:
        b0 = 0x80 | len(self.csrc)
        if self.padding_size:
            b0 |= 0x20
        if self.extension_profile is not None:
            b0 |= 0x10
        out = [struct.pack("!BBHLL", b0, (0x80 if self.marker else 0) | self.payload_type,
                           self.sequence_number, self.timestamp, self.ssrc)]
        out.extend(struct.pack("!L", c) for c in self.csrc)
        if self.extension_profile is not None:
            out.append(struct.pack("!HH", self.extension_profile, len(self.extension_value) // 4))
            out.append(self.extension_value)
        out.append(self.payload)
        if self.padding_size:
            out.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(out)


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes = field(repr=False)
    # framing kept so that parse -> build round-trips a captured frame byte for byte
    tos: int = 0
    ident: int = 0
    flags_fragment: int = 0x4000  # DF
    ttl: int = 64
    udp_checksum: int = 0         # 0: none (allowed in IPv4)
    eth_dst: bytes = field(default=bytes.fromhex("020000000002"), repr=False)
    eth_src: bytes = field(default=bytes.fromhex("020000000001"), repr=False)


def _ip(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def _ip_bytes(addr: str) -> bytes:
    parts = addr.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise PacketError(f"{addr!r} is not an IPv4 address")
    return bytes(int(p) for p in parts)


def ipv4_checksum(header: bytes) -> int:
    s: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def parse_udp_frame(frame: bytes) -> UdpDatagram:
    """Ethernet II -> IPv4 -> UDP (the framing of `/usr/share/sip-tester/*.pcap`)."""
    if len(frame) < 14:
        raise PacketError("frame is shorter than an Ethernet header")
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    if ethertype != ETH_IPV4:
        raise PacketError(f"frame carries EtherType 0x{ethertype:04x}, not IPv4")
    ip = frame[14:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or len(ip) < 4 * (ip[0] & 0x0F):
        raise PacketError("IPv4 header is truncated or not version 4")
    ihl = 4 * (ip[0] & 0x0F)
    (total,) = struct.unpack_from("!H", ip, 2)
    if ip[9] != IPPROTO_UDP:
        raise PacketError(f"IP packet carries protocol {ip[9]}, not UDP")
    udp = ip[ihl:total] if ihl <= total <= len(ip) else ip[ihl:]
    if len(udp) < 8:
        raise PacketError("UDP header is truncated")
    sport, dport, ulen, ucsum = struct.unpack_from("!HHHH", udp)
    if ulen < 8 or ulen > len(udp):
        raise PacketError(f"UDP length {ulen} does not fit the {len(udp)}-byte datagram")
    ident, flags_fragment = struct.unpack_from("!HH", ip, 4)
    return UdpDatagram(_ip(ip[12:16]), sport, _ip(ip[16:20]), dport, bytes(udp[8:ulen]),
                       tos=ip[1], ident=ident, flags_fragment=flags_fragment, ttl=ip[8],
                       udp_checksum=ucsum, eth_dst=frame[0:6], eth_src=frame[6:12])


def build_udp_frame(d: UdpDatagram) -> bytes:
    """Ethernet II + IPv4 (20-byte header, checksum computed) + UDP."""
    udp = struct.pack("!HHHH", d.sport, d.dport, 8 + len(d.payload), d.udp_checksum) + d.payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, d.tos, 20 + len(udp), d.ident, d.flags_fragment,
                      d.ttl, IPPROTO_UDP, 0, _ip_bytes(d.src), _ip_bytes(d.dst))
    hdr = hdr[:10] + struct.pack("!H", ipv4_checksum(hdr)) + hdr[12:]
    return d.eth_dst + d.eth_src + struct.pack("!H", ETH_IPV4) + hdr + udp
