"""G.711 tables against CPython's audioop (3.11/3.12) over every input, and pinned points."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

from vio_sbc.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

ALL = np.arange(-32768, 32768, dtype=np.int16)
CODES = bytes(range(256))


def _audioop() -> object | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:  # Python >= 3.13
            return None


@pytest.mark.skipif(_audioop() is None, reason="audioop removed in Python 3.13; pinned tests run")
def test_bit_exact_with_audioop_for_every_sample_and_code() -> None:
    ao = _audioop()
    lin = ALL.astype("<i2").tobytes()
    assert ulaw_encode(ALL) == ao.lin2ulaw(lin, 2)  # type: ignore[attr-defined]
    assert alaw_encode(ALL) == ao.lin2alaw(lin, 2)  # type: ignore[attr-defined]
    assert ulaw_decode(CODES).astype("<i2").tobytes() == ao.ulaw2lin(CODES, 2)  # type: ignore[attr-defined]
    assert alaw_decode(CODES).astype("<i2").tobytes() == ao.alaw2lin(CODES, 2)  # type: ignore[attr-defined]


def test_pinned_reference_values() -> None:
    edge = np.array([0, -1, 32767, -32768, 1000, -1000], dtype=np.int16)
    assert ulaw_encode(edge[:4]).hex() == "ff7e8000"
    assert alaw_encode(edge[:4]).hex() == "d555aa2a"
    assert ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F])).tolist() == [-32124, 32124, 0, 0]
    assert alaw_decode(bytes([0xD5, 0x55, 0x2A, 0xAA])).tolist() == [8, -8, -32256, 32256]


def test_round_trip_error_is_within_the_segment_step() -> None:
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = dec(enc(ALL)).astype(np.int32)
        err = np.abs(back - ALL.astype(np.int32))
        # companding: error grows with magnitude, at most half a step of the top segment
        assert int(err.max()) <= 1024
        small = np.abs(ALL.astype(np.int32)) < 256
        assert int(err[small].max()) <= 16
        assert dec(enc(dec(CODES))).tolist() == dec(CODES).tolist()  # decode is a fixed point


def test_types_and_lengths() -> None:
    out = ulaw_decode(b"\xff" * 160)
    assert out.dtype == np.int16 and len(out) == 160
    assert len(alaw_encode(np.zeros(160, dtype=np.int16))) == 160
