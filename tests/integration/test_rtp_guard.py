"""RTP from an unexpected source and malformed RTP, against the real server.

Real peers: SIPp places the calls (playing a 1 kHz tone pcap, or signalling only with
an SDP that points at a UDP socket this test owns); the "stranger" is a socket on
127.0.0.9. The same injection run with `rtp.source_check: off` must show the hijack
(our RTP goes to the stranger, the stranger's 2 kHz tone is in the recording): that
proves the test sees the attack it guards against.
"""

from __future__ import annotations

import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    SCENARIOS,
    STRANGER_IP,
    TRUNK_IP,
    Server,
    free_port,
    free_rtp_range,
    run_sipp,
    sip_call_id,
    start_server,
)
from vio_sbc.agent.audio import tone
from vio_sbc.rtp.g711 import ulaw_encode
from vio_sbc.rtp.packet import RtpPacket
from vio_sbc.rtp.pcap import write_rtp_pcap

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LEGIT_HZ, STRANGER_HZ = 1000, 2000


def _config(policy: str, http_port: int, extra: str = "") -> str:
    return (BASE_CONFIG.replace(
        "  ports: {rtp_min}-{rtp_max}\n",
        f"  ports: {{rtp_min}}-{{rtp_max}}\n  source_check: {policy}\n{extra}")
        + f"http: {{{{listen: 127.0.0.1:{http_port}}}}}\n")


@contextmanager
def _server(tmp: Path, policy: str, extra: str = "") -> Iterator[tuple[Server, int]]:
    http = free_port()
    srv = start_server(tmp, _config(policy, http, extra))
    try:
        srv.wait_event("rtp_source_check", policy=policy)
        yield srv, http
    finally:
        assert srv.stop() == 0, srv.raw[-20:]


def _metric(http: int, reason: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(rf'^vio_rtp_dropped_packets_total\{{reason="{reason}"\}} (\S+)$', text, re.M)
    assert m, text
    return float(m.group(1))


def _tone_packets(hz: int, n: int, ssrc: int, seq0: int = 1000) -> list[bytes]:
    pcm = np.frombuffer(tone(hz, n * 20, 8000, amplitude=0.5), dtype="<i2")
    payload = ulaw_encode(pcm)
    return [bytes(RtpPacket(0, (seq0 + i) & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc,
                            payload[i * 160:(i + 1) * 160])) for i in range(n)]


def _send_paced(sock: socket.socket, dest: tuple[str, int], packets: list[bytes],
                burst: int = 0) -> None:
    """`burst` packets back to back, the rest every 20 ms (traffic, not synchronisation)."""
    t = time.monotonic()
    for i, p in enumerate(packets):
        if i >= burst:
            t += 0.020
            time.sleep(max(0.0, t - time.monotonic()))
        sock.sendto(p, dest)


def _udp(ip: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, free_port(ip, both=False)))
    return s


def _received_from(sock: socket.socket, until: threading.Event,
                   bound_s: float = 60.0) -> set[tuple[str, int]]:
    """Sources of whatever reaches `sock` until `until` is set (the test sets it once the
    call has ended: a late packet of ours still counts), at most `bound_s`."""
    seen: set[tuple[str, int]] = set()
    end = time.monotonic() + bound_s
    while not until.is_set() and (left := end - time.monotonic()) > 0:
        sock.settimeout(min(left, 0.1))
        try:
            _, src = sock.recvfrom(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        seen.add(src)
    return seen


def _listen(sock: socket.socket) -> tuple[set[tuple[str, int]], threading.Event,
                                          threading.Thread]:
    """`_received_from` on a thread: (sources seen, the stop event, the thread)."""
    got: set[tuple[str, int]] = set()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: got.update(_received_from(sock, stop)))
    thread.start()
    return got, stop, thread


def _left_band_ratio(path: str, hz: int, ref_hz: int) -> float:
    """Energy around `hz` over energy around `ref_hz` in the recording's caller channel."""
    with wave.open(path) as w:
        left = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)[:, 0]
    spec = np.abs(np.fft.rfft(left.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(left), 1 / 8000)

    def band(f: int) -> float:
        return float(spec[(freqs >= f - 30) & (freqs <= f + 30)].sum())

    return band(hz) / band(ref_hz)


def _sipp_popen(srv: Server, scenario: str, work: Path, hold_ms: int,
                extra: list[str]) -> subprocess.Popen[str]:
    sipp = shutil.which("sipp")
    assert sipp is not None, "sipp not installed"
    cmd = [sipp, srv.addr, "-sf", str(SCENARIOS / scenario), "-s", "+14155550101",
           "-i", TRUNK_IP, "-p", str(free_port(TRUNK_IP)), "-mi", TRUNK_IP,
           "-mp", str(free_rtp_range(TRUNK_IP, 4)[0]), "-m", "1", "-l", "1", "-nostdin",
           "-d", str(hold_ms), "-timeout", "40s", "-timeout_error",
           "-trace_msg", "-message_file", str(work / "sipp.msg"), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            text=True, cwd=work)


def _our_rtp_port(msg_file: Path, timeout: float = 10.0) -> int:
    """Our RTP port, from the 200 OK's SDP in SIPp's message trace (bounded poll)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = msg_file.read_text(errors="replace") if msg_file.exists() else ""
        for part in text.split("message received")[1:]:
            m = re.search(r"SIP/2.0 200 .*?m=audio (\d+) ", part, re.S)
            if m and "CSeq: 1 INVITE" in part:
                return int(m.group(1))
        time.sleep(0.05)
    raise TimeoutError("no 200 OK with SDP in SIPp's trace")


def _finish(proc: subprocess.Popen[str], timeout: float = 30.0) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise


# -- injection: a stranger sends RTP into a live call ------------------------------------

@pytest.mark.parametrize("policy", ["latch", "off"])
def test_stranger_rtp_during_a_call(tmp_path: Path, policy: str) -> None:
    """SIPp plays a 1 kHz tone; 127.0.0.9 sends 100 packets of a 2 kHz tone to our RTP
    port (20 back to back - enough for pjmedia's 10-packet probation - then one every
    20 ms). latch: all dropped and counted, nothing of ours goes to the stranger, the
    recording has no 2 kHz. off (pjmedia's stock switching): the hijack happens."""
    work = tmp_path / "sipp"
    work.mkdir()
    pcm = np.frombuffer(tone(LEGIT_HZ, 7000, 8000, amplitude=0.5), dtype="<i2")
    write_rtp_pcap(pcm, 8000, "PCMU", work / "tone.pcap")
    with _server(tmp_path, policy) as (srv, http):
        sipp = _sipp_popen(srv, "uac_tone_hold.xml", work, 6000, [])
        stranger = _udp(STRANGER_IP)
        got, stop, listener = _listen(stranger)  # until the call has ended (or finally)
        try:
            ev = srv.wait_event("rtp_receiving", timeout=20)  # the tone is flowing: latched
            port = _our_rtp_port(work / "sipp.msg")
            _send_paced(stranger, ("127.0.0.1", port),
                        _tone_packets(STRANGER_HZ, 100, 0x5EEDBAD), burst=20)
            assert _finish(sipp) == 0
            # listened to the end of the call: our RTP cannot reach the stranger later
            end = srv.wait_event("call_ended", call_id=ev["call_id"])
            stop.set()
            listener.join(10)
        finally:
            stop.set()
            stranger.close()
            if sipp.poll() is None:
                sipp.kill()
                sipp.wait(5)
        row = srv.call_row(sip_call_id(srv, end["sip_call_id"]))
        assert row["status"] == "ended" and row["hangup_side"] == "caller"
        ratio = _left_band_ratio(row["recording_path"], STRANGER_HZ, LEGIT_HZ)
        events = {e["kind"]: e["data"] for e in srv.events(row["id"])}
        if policy == "latch":
            assert got == set(), f"our RTP went to the stranger: {got}"
            assert end["rtp_dropped_source"] == 100 and end["rtp_dropped_malformed"] == 0
            assert events["rtp_dropped"] == "source=100 malformed=0"
            assert _metric(http, "source") == 100
            assert ratio < 0.001, ratio
        else:  # the attack this guards against, made visible
            assert ("127.0.0.1", port) in got, "pjmedia did not switch to the stranger"
            assert end["rtp_dropped_source"] == 0  # (pjmedia may discard 1 on the switch)
            assert ratio > 0.05, ratio
        print(f"{policy}: stranger/legit band energy in the caller channel {ratio:.2e}, "
              f"our RTP seen by the stranger from {sorted(got)}")


# -- strict: the SDP's address:port only ---------------------------------------------------

def _media_call(srv: Server, work: Path, media: socket.socket,
                hold_ms: int) -> subprocess.Popen[str]:
    ip, port = media.getsockname()
    return _sipp_popen(srv, "uac_media_at.xml", work, hold_ms,
                       ["-key", "rtp_ip", ip, "-key", "rtp_port", str(port)])


def _first_from_server(sock: socket.socket, timeout: float = 15.0) -> tuple[str, int]:
    sock.settimeout(timeout)
    _, src = sock.recvfrom(4096)
    return (str(src[0]), int(src[1]))


@pytest.mark.parametrize("policy", ["strict", "latch"])
def test_same_ip_other_port(tmp_path: Path, policy: str) -> None:
    """The SDP names 127.0.0.2:A; 127.0.0.2:B (same address, other port) sends first.
    strict: B is dropped, A is accepted and gets our RTP. latch: B is latched (it came
    first), A is dropped - the difference strict makes for a NAT-less carrier."""
    work = tmp_path / "sipp"
    work.mkdir()
    a, b = _udp(TRUNK_IP), _udp(TRUNK_IP)
    with _server(tmp_path, policy) as (srv, _):
        sipp = _media_call(srv, work, a, 5000)
        try:
            ours = _first_from_server(a)  # our RTP goes to the SDP's address first
            _send_paced(b, ours, _tone_packets(STRANGER_HZ, 30, 0xB0B), burst=0)
            if policy == "strict":
                srv.wait_event("rtp_dropped", rtp_dropped_source=30)
            else:
                srv.wait_event("rtp_receiving")
            to_b, stop, listener = _listen(b)
            _send_paced(a, ours, _tone_packets(LEGIT_HZ, 50, 0xA11CE), burst=0)
            assert _finish(sipp) == 0
            end = srv.wait_event("call_ended")  # B heard to the end of the call
            stop.set()
            listener.join(10)
        finally:
            a.close()
            b.close()
        if policy == "strict":
            assert end["rtp_dropped_source"] == 30
            assert to_b == set(), "strict: our RTP went to the other port"
        else:
            assert end["rtp_dropped_source"] == 50
            assert to_b == {ours}, "latch: our RTP follows the latched source"


def test_stranger_spray_does_not_keep_a_dead_call_alive(tmp_path: Path) -> None:
    """The caller's RTP stops; a stranger keeps sending. Its packets are dropped, not
    received, so rtp.inactivity_timeout_s still ends the call."""
    work = tmp_path / "sipp"
    work.mkdir()
    a, stranger = _udp(TRUNK_IP), _udp(STRANGER_IP)
    with _server(tmp_path, "latch", "  inactivity_timeout_s: 2\n") as (srv, _):
        sipp = _media_call(srv, work, a, 15000)
        stop = threading.Event()
        sent = [0]

        def spray(dest: tuple[str, int]) -> None:
            pkts = _tone_packets(STRANGER_HZ, 500, 0x5EED)
            t = time.monotonic()
            for p in pkts:  # bounded: at most 10 s
                if stop.is_set():
                    break
                t += 0.020
                time.sleep(max(0.0, t - time.monotonic()))
                stranger.sendto(p, dest)
                sent[0] += 1

        try:
            ours = _first_from_server(a)
            _send_paced(a, ours, _tone_packets(LEGIT_HZ, 25, 0xA11CE))
            srv.wait_event("rtp_receiving")
            sprayer = threading.Thread(target=spray, args=(ours,))
            sprayer.start()
            timeout = srv.wait_event("rtp_timeout", timeout=10)
            stop.set()
            sprayer.join(5)
        finally:  # SIPp's scenario does not expect our BYE: it is stopped, not judged
            stop.set()
            if sipp.poll() is None:
                sipp.terminate()
                sipp.wait(10)
            a.close()
            stranger.close()
        end = srv.wait_event("call_ended", call_id=timeout["call_id"])
        assert end["hangup_side"] == "system"
        assert 0 < end["rtp_dropped_source"] <= sent[0]


# -- malformed RTP ------------------------------------------------------------------------

def _malformed(rng: random.Random, seq: int) -> list[tuple[str, bytes, bool]]:
    """(kind, datagram, counted by pjmedia as a discard) for one round."""
    hdr = struct.pack("!BBHLL", 0x80, 0, seq, seq * 160, 0xA11CE)
    return [
        ("bad_version", struct.pack("!BBHLL", 0x40, 0, seq, 0, 0xA11CE) + bytes(160), True),
        ("csrc_beyond", struct.pack("!BBHLL", 0x8F, 0, seq, 0, 0xA11CE) + bytes(20), True),
        ("ext_header_cut", struct.pack("!BBHLL", 0x90, 0, seq, 0, 0xA11CE), True),
        ("ext_beyond", struct.pack("!BBHLL", 0x90, 0, seq, 0, 0xA11CE)
         + struct.pack("!HH", 0xBEDE, 200) + bytes(8), True),
        ("padding_beyond", struct.pack("!BBHLL", 0xA0, 0, seq, 0, 0xA11CE) + bytes(9) + b"\xff",
         True),
        ("runt", bytes(rng.randrange(1, 12)), False),
        ("oversize", bytes([0x00]) + rng.randbytes(1599), True),
        ("oversize_beyond_mru", bytes([0x3F]) + rng.randbytes(2999), True),
        ("unknown_pt", hdr[:1] + bytes([77]) + hdr[2:] + bytes(160), False),
        ("random", bytes([rng.randrange(0, 0x40)]) + rng.randbytes(rng.randrange(11, 300)),
         True),
    ]


def test_malformed_rtp_is_dropped_and_the_call_goes_on(tmp_path: Path) -> None:
    """A 3 s 1 kHz tone (150 packets) interleaved with 10 kinds of malformed datagrams
    every 5th packet: the process stays up, the call ends normally, the tone is in the
    recording, pjmedia's discards are exactly the malformed packets it rejects, and a
    normal call works afterwards."""
    work = tmp_path / "sipp"
    work.mkdir()
    rng = random.Random(8)
    a = _udp(TRUNK_IP)
    with _server(tmp_path, "latch") as (srv, http):
        sipp = _media_call(srv, work, a, 5000)
        counted = sent_bad = 0
        try:
            ours = _first_from_server(a)
            good = _tone_packets(LEGIT_HZ, 150, 0xA11CE, seq0=1)
            mixed: list[bytes] = []
            for i, p in enumerate(good):
                mixed.append(p)
                if i % 5 == 4:
                    for _, d, disc in _malformed(rng, i + 1):  # seq of the last good one
                        mixed.append(d)
                        sent_bad += 1
                        counted += disc
            t = time.monotonic()
            tone_ids = {id(p) for p in good}
            for p in mixed:
                if id(p) in tone_ids:  # a tone packet: keep 20 ms pacing
                    t += 0.020
                    time.sleep(max(0.0, t - time.monotonic()))
                a.sendto(p, ours)
            assert _finish(sipp) == 0
        finally:
            a.close()
        end = srv.wait_event("call_ended")
        assert srv.proc.poll() is None
        row = srv.call_row(sip_call_id(srv, end["sip_call_id"]))
        assert row["status"] == "ended" and row["hangup_side"] == "caller"
        assert end["rtp_dropped_malformed"] == counted, (end, counted, sent_bad)
        assert end["rtp_dropped_source"] == 0
        assert _metric(http, "malformed") == counted
        with wave.open(row["recording_path"]) as w:
            left = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)[:, 0]
        frames = left[: len(left) // 160 * 160].reshape(-1, 160).astype(np.float64)
        rms = np.sqrt((frames ** 2).mean(axis=1))
        toned = int((rms > 5000).sum())  # a 0.5 full-scale tone has RMS ~11,600
        assert 140 <= toned <= 155, toned
        print(f"malformed: {sent_bad} sent, {counted} discarded by pjmedia, "
              f"{toned} tone frames recorded of 150")
        assert _left_band_ratio(row["recording_path"], LEGIT_HZ, 3000) > 100
        r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                     extra=["-rtp_echo", "-d", "1000"])
        assert r.rc == 0, r.output + r.errors
