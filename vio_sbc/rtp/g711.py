"""G.711 μ-law (PCMU) and A-law (PCMA) per ITU-T G.711, vectorised with numpy. Pure."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
_BIAS = 0x84


def _seg(mag: npt.NDArray[np.int64], base: int) -> npt.NDArray[np.int64]:
    """Segment number 0..7 of a magnitude: position of its top bit above `base`."""
    seg = np.zeros_like(mag)
    for s in range(1, 8):
        seg = np.where(mag >= (base << s), s, seg)
    return seg


def ulaw_encode(pcm: Int16Array) -> bytes:
    """Bit-exact with the classic Sun/CCITT g711.c (14-bit input, bias 0x21)."""
    x = pcm.astype(np.int64) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.minimum(np.abs(x), 8159) + 0x21, 0x1FFF)
    seg = _seg(mag, 0x20)
    out = ((seg << 4) | ((mag >> (seg + 1)) & 0x0F)) ^ mask
    return bytes(out.astype(np.uint8).tobytes())


def ulaw_decode(data: bytes) -> Int16Array:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int64) & 0xFF
    seg = (u >> 4) & 0x07
    mag = (((u & 0x0F) << 3) + _BIAS) << seg
    out: Int16Array = np.where(u & 0x80, _BIAS - mag, mag - _BIAS).astype(np.int16)
    return out


def alaw_encode(pcm: Int16Array) -> bytes:
    x = pcm.astype(np.int64) >> 3  # A-law works on 13-bit magnitudes
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.where(x >= 0, x, -x - 1)
    mag = np.minimum(mag, 0x0FFF)
    seg = _seg(mag, 0x10)
    mant = np.where(seg == 0, mag >> 1, mag >> seg) & 0x0F
    out = (sign | (seg << 4) | mant) ^ 0x55
    return bytes(out.astype(np.uint8).tobytes())


def alaw_decode(data: bytes) -> Int16Array:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int64) ^ 0x55
    seg = (a >> 4) & 0x07
    mant = a & 0x0F
    mag = np.where(seg == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(seg - 1, 0))
    out: Int16Array = np.where(a & 0x80, mag, -mag).astype(np.int16)
    return out


ENCODERS = {"PCMU": ulaw_encode, "PCMA": alaw_encode}
DECODERS = {"PCMU": ulaw_decode, "PCMA": alaw_decode}
PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}
