"""G.711 μ-law and A-law, table-based over numpy int16 (bit-exact with audioop).

Encoding indexes a 65536-entry table with the samples' bit patterns; decoding
indexes a 256-entry table with the code bytes. Both tables are built once at
import from the ITU-T G.711 segment rules (the same arithmetic as CPython's
former `audioop` module: 14-bit input for μ-law, 13-bit for A-law).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _all_samples() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its uint16 bit pattern (the table index)."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    v = _all_samples() >> 2  # 14-bit
    neg = v < 0
    mag = np.minimum(np.where(neg, -v, v), 8159) + (0x84 >> 2)
    mask = np.where(neg, 0x7F, 0xFF)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")  # first seg with mag <= end
    s = np.minimum(seg, 7)
    code = np.where(seg >= 8, 0x7F, (s << 4) | ((mag >> (s + 1)) & 0xF))
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw_decode() -> Int16Array:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    v = _all_samples() >> 3  # 13-bit
    neg = v < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -v - 1, v)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    s = np.minimum(seg, 7)
    quant = np.where(s < 2, (mag >> 1) & 0xF, (mag >> np.maximum(s, 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, (s << 4) | quant)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_decode() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_ENC = _build_ulaw_encode()
_ULAW_DEC = _build_ulaw_decode()
_ALAW_ENC = _build_alaw_encode()
_ALAW_DEC = _build_alaw_decode()


def _index(pcm: Int16Array) -> npt.NDArray[np.uint16]:
    return np.ascontiguousarray(pcm, dtype=np.int16).view(np.uint16)


def ulaw_encode(pcm: Int16Array) -> bytes:
    """int16 samples -> μ-law bytes (one byte a sample)."""
    return bytes(_ULAW_ENC[_index(pcm)].tobytes())


def ulaw_decode(data: bytes) -> Int16Array:
    """μ-law bytes -> int16 samples."""
    out: Int16Array = _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)]
    return out


def alaw_encode(pcm: Int16Array) -> bytes:
    """int16 samples -> A-law bytes (one byte a sample)."""
    return bytes(_ALAW_ENC[_index(pcm)].tobytes())


def alaw_decode(data: bytes) -> Int16Array:
    """A-law bytes -> int16 samples."""
    out: Int16Array = _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)]
    return out


# --- by SDP codec name (the RTP pcap writer) ---------------------------------------------

PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}


class G711Error(ValueError):
    pass


def encode(pcm: Int16Array, codec: str) -> bytes:
    """int16 samples -> G.711 bytes for `codec` ("PCMU" or "PCMA")."""
    if codec == "PCMU":
        return ulaw_encode(pcm)
    if codec == "PCMA":
        return alaw_encode(pcm)
    raise G711Error(f"unknown G.711 codec {codec!r} (expected PCMU or PCMA)")


def decode(data: bytes, codec: str) -> Int16Array:
    if codec == "PCMU":
        return ulaw_decode(data)
    if codec == "PCMA":
        return alaw_decode(data)
    raise G711Error(f"unknown G.711 codec {codec!r} (expected PCMU or PCMA)")
