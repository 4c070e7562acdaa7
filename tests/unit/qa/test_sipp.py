"""The one SIPp command line builder (QA runner, benchmarks, integration tests) and
stopping our processes by PID."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vio_sbc.qa.sipp import sipp_command, stop_process

SF = Path("/s/uac.xml")


def test_single_call_as_the_qa_runner_and_the_tests_run_it() -> None:
    cmd = sipp_command("127.0.0.1:5060", SF, source="127.0.0.2", number="+14155550100",
                       port=40000, media_port=40010, transport="t1", timeout_s=35,
                       stat_file=Path("stat.csv"), error_file=Path("e.log"),
                       cid_prefix="vio-1", extra=["-d", "2000"])
    assert cmd == ["sipp", "127.0.0.1:5060", "-sf", "/s/uac.xml", "-s", "+14155550100",
                   "-i", "127.0.0.2", "-p", "40000", "-mi", "127.0.0.2", "-mp", "40010",
                   "-t", "t1", "-m", "1", "-l", "1", "-nostdin", "-timeout", "35s",
                   "-timeout_error", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
                   "-trace_err", "-error_file", "e.log", "-cid_str", "vio-1-%u-%p@%s",
                   "-d", "2000"]


def test_load_run_as_the_benchmarks_run_it() -> None:
    cmd = sipp_command("127.0.0.1:5060", SF, source="127.0.0.2", port=40000, calls=500,
                       limit=100, rate=20.0, timeout_s=90.7, timeout_error=False,
                       stat_file=Path("s.csv"), stat_period_s=2)
    assert cmd == ["sipp", "127.0.0.1:5060", "-sf", "/s/uac.xml", "-i", "127.0.0.2",
                   "-p", "40000", "-mi", "127.0.0.2", "-m", "500", "-l", "100", "-r", "20",
                   "-rp", "1000", "-nostdin", "-timeout", "90s", "-trace_stat", "-stf",
                   "s.csv", "-fd", "2"]


def test_the_signalling_port_defaults_to_a_free_one_on_the_source() -> None:
    cmd = sipp_command("127.0.0.1:5060", SF, source="127.0.0.5", timeout_s=10)
    port = int(cmd[cmd.index("-p") + 1])
    assert 0 < port < 65536 and cmd[cmd.index("-i") + 1] == "127.0.0.5"
    assert "-mp" not in cmd and "-t" not in cmd and "-s" not in cmd


def test_stop_process_terminates_then_kills() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert stop_process(polite, 10) == -15
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time; "
         "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
         "time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    assert stop_process(stubborn, 0.3) == -9
    stubborn.stdout.close()
    assert stop_process(stubborn, 1) == -9  # already gone: just its exit code
