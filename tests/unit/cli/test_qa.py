"""`vio-sbc make-pcap` and the argument handling of `vio-sbc qa` (no server needed)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from vio_sbc.cli import main
from vio_sbc.rtp.pcap import read_rtp_pcap


def test_make_pcap_from_stereo_44k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "in.wav"
    t = np.arange(44100) / 44100
    x = (6000 * np.sin(2 * np.pi * 300 * t)).astype("<i2")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.stack([x, x], axis=1).tobytes())
    out = tmp_path / "out.pcap"
    assert main(["make-pcap", str(wav), str(out), "--codec", "pcma"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{out}: 50 RTP packets, 1.00 s of PCMA (from 44100 Hz, 44100 samples)")
    packets = read_rtp_pcap(out)
    assert len(packets) == 50 and packets[0][2].payload_type == 8


def test_make_pcap_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["make-pcap", str(tmp_path / "missing.wav"), str(tmp_path / "o.pcap")]) == 2
    assert "missing.wav: No such file or directory" in capsys.readouterr().err
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFFjunk")
    assert main(["make-pcap", str(junk), str(tmp_path / "o.pcap")]) == 2
    assert "junk.wav: not a PCM WAV file" in capsys.readouterr().err
    assert not (tmp_path / "o.pcap").exists()


def test_qa_list_and_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[3]
    assert main(["qa", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:2] == ["options", "uac_options.xml"]
    cfg = str(root / "config" / "vio.yaml")
    assert main(["qa", "-c", cfg, "nope"]) == 2
    assert capsys.readouterr().err.startswith("unknown scenario 'nope'; known: options, ")
