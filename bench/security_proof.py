"""Security proof runs on loopback, bounded in time; prints the figures quoted in
docs/security.md. Needs `make install` (SIPp) and the test extras (sipvicious).

    .venv/bin/python bench/security_proof.py [--cps 10] [--seconds 10]

1. the malformed-SIP corpus (tests/fuzz/corpus.jsonl.gz) over UDP, a tenth over TCP;
2. SIPVicious svmap / svwar / svcrack from 127.0.0.9 (a stranger), with
   `sip.stranger_response: reject` and again with `drop`;
3. an overload run at 2x sip.max_cps from the trunk address 127.0.0.2;
after each, the server must still be running and take a legitimate call.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.gen_corpus import load  # noqa: E402
from tests.fuzz.runner import run_tcp, run_udp  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    BASE_CONFIG,
    SCENARIOS,
    STRANGER_IP,
    TRUNK_IP,
    Server,
    free_port,
    free_rtp_range,
    run_sipp,
    start_server,
)
from vio_sbc.cli.status import samples  # noqa: E402


def legit_call(srv: Server) -> str:
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101", extra=["-d", "300"])
    alive = srv.proc.poll() is None
    return f"server alive: {alive}; legitimate call afterwards: {'ok' if r.rc == 0 else 'FAILED'}"


def corpus(tmp: Path) -> None:
    low, high = free_rtp_range(size=400)
    text = BASE_CONFIG.replace("  max_calls: 50\n", "  max_calls: 300\n  max_cps: 0\n"
                               "  admission: {{rate: 10000, burst: 10000}}\n")
    srv = start_server(tmp, text.replace("{rtp_min}-{rtp_max}", f"{low}-{high}"),
                       ["--grace", "2"])
    try:
        entries = load()
        t0 = time.monotonic()
        udp = run_udp(entries, srv.port, TRUNK_IP)
        print(f"corpus UDP ({time.monotonic() - t0:.0f} s): {udp.summary()}")
        tcp = run_tcp([e for e in entries if int(e["id"]) % 10 == 0], srv.port, TRUNK_IP)
        print(f"corpus TCP: {tcp.summary()}")
        errors = sum(1 for ev in srv.lines if ev.get("event") == "incoming_call_failed")
        print(f"corpus: handler exceptions {errors}; {legit_call(srv)}")
    finally:
        print(f"corpus: server exit code {srv.stop()}")


def rejected_counts(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        got = samples(resp.read().decode()).get("vio_rejected_requests_total", [])
    return ", ".join(f"{lb.get('reason')}={v:g}" for lb, v in got if v)


def scanners(tmp: Path, mode: str) -> None:
    http = free_port()
    text = BASE_CONFIG.replace("  max_calls: 50\n",
                               f"  max_calls: 50\n  stranger_response: {mode}\n")
    srv = start_server(tmp, text + f"http: {{{{listen: 127.0.0.1:{http}}}}}\n")
    srv.wait_event("http_listening")
    bindir = Path(sys.executable).parent
    try:
        common = ["-b", STRANGER_IP, "-p", str(srv.port)]
        runs = [
            ("svmap", [*common, "127.0.0.1"]),
            ("svwar", [*common, "-e", "14155550000-14155550199", "--force",
                       "--maximumtime", "8", "127.0.0.1"]),
            ("svwar", [*common, "-m", "INVITE", "-e", "14155550000-14155550199", "--force",
                       "--maximumtime", "8", "127.0.0.1"]),
            ("svcrack", [*common, "-u", "14155550100", "-r", "1000-1999",
                         "--maximumtime", "8", "127.0.0.1"]),
        ]
        for tool, args in runs:
            exe = shutil.which(f"sipvicious_{tool}", path=str(bindir))
            if exe is None:
                print(f"{tool}: not installed (pip install sipvicious)")
                continue
            t0 = time.monotonic()
            # svcrack never stops by itself when every REGISTER gets 403: bounded here
            try:
                p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30,
                                   cwd=tmp)
                rc, out = str(p.returncode), (p.stdout + p.stderr).strip().splitlines()
            except subprocess.TimeoutExpired:
                rc, out = "none (still running, stopped after 30 s)", []
            print(f"[{mode}] {tool} {' '.join(args[3:])}: rc {rc}, "
                  f"{time.monotonic() - t0:.0f} s: {out[-1] if out else ''}")
        with srv.db() as c:
            rows = c.execute("SELECT count(*) FROM calls").fetchone()[0]
        refused = sum(1 for ev in srv.lines if ev.get("event") == "stranger_refused")
        blocks = sum(1 for ev in srv.lines if ev.get("event") == "source_blocked")
        print(f"[{mode}] scanners: call rows {rows}; stranger log lines {refused}; "
              f"blocks {blocks}; rejected requests "
              f"{{{rejected_counts(f'http://127.0.0.1:{http}/metrics')}}}; {legit_call(srv)}")
    finally:
        print(f"[{mode}] scanners: server exit code {srv.stop()}")


def overload(tmp: Path, cps: float, seconds: float) -> None:
    low, high = free_rtp_range(size=600)  # RTP ports for every admitted call
    text = BASE_CONFIG.replace(
        "  max_calls: 50\n", f"  max_calls: 200\n  max_cps: {cps:g}\n"
        "  admission: {{rate: 1000, burst: 1000}}\n")  # max_cps alone sheds
    srv = start_server(tmp, text.replace("{rtp_min}-{rtp_max}", f"{low}-{high}"))
    total = int(2 * cps * seconds)
    try:
        cmd = [shutil.which("sipp") or "sipp", srv.addr, "-sf",
               str(SCENARIOS / "uac_overload.xml"), "-s", "+14155550101", "-i", TRUNK_IP,
               "-p", str(free_port(TRUNK_IP)), "-mi", TRUNK_IP,
               "-mp", str(free_rtp_range(TRUNK_IP, 4)[0]), "-rtp_echo", "-d", "2000",
               "-r", f"{2 * cps:g}", "-m", str(total), "-l", str(total), "-nostdin",
               "-timeout", f"{int(seconds) + 60}s", "-timeout_error", "-cid_str", "ovl-%u-%p@%s"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90, cwd=tmp)
        if p.returncode != 0:
            print("sipp:", (p.stdout + p.stderr)[-1500:])
        deadline = time.monotonic() + 20
        while True:
            with srv.db() as c:
                rows = c.execute("SELECT status, final_status, rx_voiced_frames, "
                                 "tx_audio_frames FROM calls WHERE ended_at IS NOT NULL "
                                 "AND sip_call_id LIKE 'ovl-%'").fetchall()
            if len(rows) >= total or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        admitted = [r for r in rows if r["status"] == "ended"]
        shed = [r for r in rows if r["final_status"] == 503]
        audio = [r for r in admitted if r["rx_voiced_frames"] > 5 and r["tx_audio_frames"] > 20]
        other = len(rows) - len(admitted) - len(shed)
        print(f"overload: offered {total} calls at {2 * cps:g}/s against max_cps {cps:g} "
              f"(sipp rc {p.returncode}): admitted {len(admitted)} ({len(audio)} with audio "
              f"both ways), shed with 503 {len(shed)}, other {other}")
        print(f"overload: {legit_call(srv)}")
    finally:
        print(f"overload: server exit code {srv.stop()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cps", type=float, default=10.0, help="sip.max_cps of the overload run")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the overload run")
    ap.add_argument("--overload-only", action="store_true")
    ap.add_argument("--only", help="run only the parts whose name contains this "
                    "(corpus, scanners, scanners-drop, overload)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        runs: list[tuple[str, Callable[[Path], None]]] = [
            ("corpus", corpus),
            ("scanners-reject", lambda p: scanners(p, "reject")),
            ("scanners-drop", lambda p: scanners(p, "drop"))]
        for name, fn in ([] if args.overload_only else runs):
            if args.only and args.only not in name:
                continue
            sub = Path(d) / name
            sub.mkdir()
            fn(sub)
        if args.only and args.only != "overload":
            return
        sub = Path(d) / "overload"
        sub.mkdir()
        overload(sub, args.cps, args.seconds)


if __name__ == "__main__":
    main()
