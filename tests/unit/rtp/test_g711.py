"""G.711 tables: bit-exact with the reference codec (Python's audioop, the Sun g711.c
algorithm) over every input, and with Debian's captured A-law speech."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from vio_sbc.rtp.pcap import read_rtp_pcap

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

G711A = Path("/usr/share/sip-tester/g711a.pcap")
ALL16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_reference_for_every_sample() -> None:
    assert ulaw_encode(ALL16) == audioop.lin2ulaw(ALL16.astype("<i2").tobytes(), 2)


def test_alaw_encode_matches_reference_for_every_sample() -> None:
    assert alaw_encode(ALL16) == audioop.lin2alaw(ALL16.astype("<i2").tobytes(), 2)


def test_decoders_match_reference_for_every_code() -> None:
    assert ulaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.ulaw2lin(ALL_CODES, 2)
    assert alaw_decode(ALL_CODES).astype("<i2").tobytes() == audioop.alaw2lin(ALL_CODES, 2)
    assert ulaw_decode(ALL_CODES).dtype == np.int16


def test_decode_then_encode_is_identity() -> None:
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES
    # mu-law has two zeros (0x7F and 0xFF): 0 encodes as 0xFF
    want = ALL_CODES.replace(b"\x7f", b"\xff")
    assert ulaw_encode(ulaw_decode(ALL_CODES)) == want


def test_known_values() -> None:
    assert ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xff\x80\x00"
    assert alaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xd5\xaa\x2a"


def test_encoders_refuse_other_dtypes() -> None:
    with pytest.raises(TypeError, match=r"^G\.711 encoders take int16 samples, got float64$"):
        ulaw_encode(np.zeros(4))  # type: ignore[arg-type]


def test_debian_alaw_capture_decodes_and_reencodes_byte_for_byte() -> None:
    packets = read_rtp_pcap(G711A)
    payload = b"".join(p.payload for _t, _d, p in packets)
    assert len(payload) == 236 * 240
    pcm = alaw_decode(payload)
    assert alaw_encode(pcm) == payload
    assert np.abs(pcm.astype(np.int32)).max() > 5000  # it is speech, not silence
