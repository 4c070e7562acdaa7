"""G.711 A-law and mu-law (ITU-T G.711), vectorised with numpy. Pure functions.

`encode(pcm, codec)` takes int16 samples and returns the 8-bit code bytes;
`decode(data, codec)` does the reverse. Codec names are the SDP ones: PCMU, PCMA.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_BIAS = 0x84
_CLIP_U = 8159  # 14-bit mu-law clip
# segment end points for A-law (13-bit magnitude) and mu-law (14-bit + bias)
_SEG_A = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_SEG_U = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


class G711Error(ValueError):
    pass


def ulaw_encode(pcm: Int16Array) -> bytes:
    x = pcm.astype(np.int32) >> 2  # 14-bit
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.where(x < 0, -x, x), _CLIP_U) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_U, mag)
    code = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F, code)
    return bytes((code ^ mask).astype(np.uint8))


def ulaw_decode(data: bytes) -> Int16Array:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    out = np.where(u & 0x80, _BIAS - t, t - _BIAS)
    return out.astype(np.int16)


def alaw_encode(pcm: Int16Array) -> bytes:
    x = pcm.astype(np.int32) >> 3  # 13-bit
    mask = np.where(x >= 0, 0xD5, 0x55)
    mag = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_SEG_A, mag)
    mant = np.where(seg < 2, (mag >> 1) & 0x0F, (mag >> np.maximum(seg, 1)) & 0x0F)
    code = (np.minimum(seg, 7) << 4) | mant
    code = np.where(seg >= 8, 0x7F, code)
    return bytes((code ^ mask).astype(np.uint8))


def alaw_decode(data: bytes) -> Int16Array:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    big = (t + 0x108) << np.maximum(seg - 1, 0)
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, big))
    out = np.where(a & 0x80, t, -t)
    return out.astype(np.int16)


PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}


def encode(pcm: Int16Array, codec: str) -> bytes:
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
