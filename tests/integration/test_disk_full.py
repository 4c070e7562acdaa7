"""Disk full under a live call: the server's recordings directory is a small tmpfs
mounted in a mount namespace of the server process only (`unshare -m`), so the
disk fills for real (ENOSPC from the kernel) while a SIPp call is up. The call
goes on, its recording stops once (logged and kept as a call event) and the WAV
on the full disk stays valid; the next call is answered too."""

from __future__ import annotations

import shutil
import threading
import time
import wave
from pathlib import Path

import pytest

from tests.integration.conftest import Server, SippResult, run_sipp, sip_call_id, start_server
from tests.integration.rtpsink import RtpSink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# WAV byte rate at the default 8 kHz bridge: 2 channels x 2 bytes x 8000 (docs/calllog.md)
BYTE_RATE = 2 * 2 * 8000
TMPFS_KB = 64  # fills after ~2 s of recorded audio
FILL_S = TMPFS_KB * 1024 / BYTE_RATE
CALL_MS = 6000

MOUNT = 'mkdir -p "$0" && mount -t tmpfs -o size={kb}k,mode=0755 vio-test-rec "$0" && exec "$@"'


def _start_on_tmpfs(tmp_path: Path) -> tuple[Server, Path]:
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing: the disk-full test needs a mount "
                    "namespace")
    mnt = tmp_path / "var" / "recordings"
    prefix = ["unshare", "-m", "sh", "-c", MOUNT.format(kb=TMPFS_KB), str(mnt)]
    try:
        srv = start_server(tmp_path, prefix=prefix)
    except RuntimeError as exc:  # the process ended before listening: the mount failed
        pytest.fail(f"cannot mount a tmpfs for the recordings in a private mount "
                    f"namespace (needs root or CAP_SYS_ADMIN): {exc}")
    mounts = Path(f"/proc/{srv.proc.pid}/mounts").read_text()
    if not any(ln.split()[1:3] == [str(mnt), "tmpfs"] for ln in mounts.splitlines()):
        srv.stop()
        pytest.fail(f"the server's mount namespace has no tmpfs on {mnt}: {mounts}")
    # private to the server: this process still sees the normal disk there
    assert not any(ln.split()[1:2] == [str(mnt)]
                   for ln in Path("/proc/self/mounts").read_text().splitlines())
    return srv, mnt


def _in_server_ns(srv: Server, path: str) -> Path:
    """A path as the server process sees it (inside its mount namespace)."""
    return Path(f"/proc/{srv.proc.pid}/root") / path.lstrip("/")


def _check_wav(path: Path) -> int:
    """The WAV's header describes exactly the whole frames the file holds; its frames."""
    size = path.stat().st_size
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        frames = w.getnframes()
        assert len(w.readframes(frames)) == frames * 4
    assert size == 44 + frames * 4, (size, frames)
    return frames


def _call(srv: Server, sink: RtpSink, ms: int, out: dict[str, SippResult]) -> None:
    out["r"] = run_sipp(srv.addr, "uac_rtp_elsewhere.xml", number="+14155550101",
                        extra=["-set", "rtp_port", str(sink.port), "-d", str(ms)])


def _stopped_lines(srv: Server, call_id: str) -> list[dict[str, object]]:
    return [ev for ev in srv.lines
            if ev.get("event") == "recording_stopped" and ev.get("call_id") == call_id]


def test_disk_full_stops_the_recording_not_the_call(tmp_path: Path) -> None:
    srv, mnt = _start_on_tmpfs(tmp_path)
    try:
        out: dict[str, SippResult] = {}
        with RtpSink() as sink:
            t = threading.Thread(target=_call, args=(srv, sink, CALL_MS, out))
            t.start()
            try:
                ev = srv.wait_event("recording_stopped", timeout=20)
                filled = time.monotonic()
            finally:
                t.join(40)
            r = out["r"]
            assert r.rc == 0, r.output + r.errors  # BYE answered 200: the call ran its course
            after = sink.after(filled)
        call_id = str(ev["call_id"])
        assert ev["reason"] == "disk_full"
        assert abs(float(ev["seconds"]) - FILL_S) < 0.5, ev  # the disk was full, not less
        # our RTP kept reaching the caller after the disk filled (50 packets/s)
        assert after >= 50 * (CALL_MS / 1000 - FILL_S - 1.5), after
        row = srv.call_row(sip_call_id(srv, r.call_id))
        assert row["id"] == call_id
        assert (row["status"], row["hangup_side"]) == ("ended", "caller")
        assert row["duration_s"] >= CALL_MS / 1000 - 0.5
        assert row["rx_frames"] >= 50 * (CALL_MS / 1000 - 1)  # the caller heard to the end
        # one log line for the whole call, not one per frame; no saved recording
        srv.wait_event("call_ended", call_id=call_id)
        assert len(_stopped_lines(srv, call_id)) == 1
        assert not [e for e in srv.lines if e.get("event") in ("recording_saved",
                                                                "recording_writer_error")]
        # the call log says the recording stopped and why
        events = [(e["kind"], e["data"]) for e in srv.events(call_id)]
        stopped = [d for k, d in events if k == "recording_stopped"]
        assert len(stopped) == 1 and stopped[0].startswith("disk_full"), events
        # the WAV on the full disk has a header for exactly the audio it holds
        wav = _in_server_ns(srv, row["recording_path"])
        frames = _check_wav(wav)
        assert abs(frames / 8000 - FILL_S) < 0.5, frames
        assert row["recording_path"].startswith(str(mnt))

        # the disk is still full: the next call is answered, its recording fails at once
        out.clear()
        with RtpSink() as sink:
            _call(srv, sink, 2000, out)
            assert sink.after(0) >= 50  # audio flowed
        r2 = out["r"]
        assert r2.rc == 0, r2.output + r2.errors
        row2 = srv.call_row(sip_call_id(srv, r2.call_id))
        assert (row2["status"], row2["hangup_side"]) == ("ended", "caller")
        ev2 = srv.wait_event("recording_stopped", call_id=row2["id"])
        assert ev2["reason"] == "disk_full" and ev2["seconds"] < 0.5  # the last free page
        assert len(_stopped_lines(srv, row2["id"])) == 1
        assert [k for k, _ in ((e["kind"], e["data"]) for e in srv.events(row2["id"]))
                if k == "recording_stopped"] == ["recording_stopped"]
        if row2["recording_path"] is not None:  # a file is kept only if it is valid
            _check_wav(_in_server_ns(srv, row2["recording_path"]))
    finally:
        rc = srv.stop()
    assert rc == 0, srv.raw[-20:]
