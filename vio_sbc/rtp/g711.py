"""G.711 mu-law (PCMU) and A-law (PCMA), table-based with numpy.

Encoding indexes a 65,536-entry table with the int16 samples viewed as uint16;
decoding indexes a 256-entry table. Tables are built once at import from the
ITU-T G.711 segment rules (as in the Sun reference `g711.c`), so the codec is
bit-exact with other implementations (tests compare against `audioop`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # 14-bit magnitude


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    x = np.arange(65536, dtype=np.int64)
    x = np.where(x >= 32768, x - 65536, x) >> 2  # uint16 index -> int16 -> 14-bit
    mask = np.where(x < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(x), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.zeros_like(v)
    for s, end in enumerate((0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)):
        seg[v > end] = s + 1
    uval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((v >> (seg + 1)) & 0x0F))
    out: npt.NDArray[np.uint8] = ((uval ^ mask) & 0xFF).astype(np.uint8)
    return out


def _build_ulaw_decode() -> Int16Array:
    u = ~np.arange(256, dtype=np.int64) & 0xFF
    exp = (u >> 4) & 0x07
    mant = u & 0x0F
    mag = (((mant << 3) + _ULAW_BIAS) << exp) - _ULAW_BIAS
    out: Int16Array = np.where(u & 0x80, -mag, mag).astype(np.int16)
    return out


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    x = np.arange(65536, dtype=np.int64)
    x = np.where(x >= 32768, x - 65536, x) >> 3  # 13-bit
    mask = np.where(x >= 0, 0xD5, 0x55)
    v = np.where(x >= 0, x, -x - 1)
    seg = np.zeros_like(v)
    for s, end in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)):
        seg[(v > end)] = s + 1
    low = np.where(seg < 2, (v >> 1) & 0x0F, (v >> np.maximum(seg, 1)) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | low)
    out: npt.NDArray[np.uint8] = ((aval ^ mask) & 0xFF).astype(np.uint8)
    return out


def _build_alaw_decode() -> Int16Array:
    a = np.arange(256, dtype=np.int64) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    out: Int16Array = np.where(a & 0x80, t, -t).astype(np.int16)
    return out


ULAW_ENCODE = _build_ulaw_encode()
ULAW_DECODE = _build_ulaw_decode()
ALAW_ENCODE = _build_alaw_encode()
ALAW_DECODE = _build_alaw_decode()


def _as_index(pcm: Int16Array) -> npt.NDArray[np.uint16]:
    a = np.asarray(pcm)
    if a.dtype != np.int16:
        raise TypeError(f"G.711 encoders take int16 samples, got {a.dtype}")
    return a.view(np.uint16)


def ulaw_encode(pcm: Int16Array) -> bytes:
    """int16 samples -> mu-law bytes (one byte per sample)."""
    return ULAW_ENCODE[_as_index(pcm)].tobytes()


def ulaw_decode(data: bytes) -> Int16Array:
    """mu-law bytes -> int16 samples."""
    out: Int16Array = ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]
    return out


def alaw_encode(pcm: Int16Array) -> bytes:
    """int16 samples -> A-law bytes (one byte per sample)."""
    return ALAW_ENCODE[_as_index(pcm)].tobytes()


def alaw_decode(data: bytes) -> Int16Array:
    """A-law bytes -> int16 samples."""
    out: Int16Array = ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]
    return out
