"""A pjsua2 endpoint (its own process) with a leg the application did not create.

Places two calls to the same URI: one through a pjsua2 `Call` (the application's,
listed in the table `ForeignCalls` is given) and one through pjsua's C API with no
Call object at all — what pjsua does on its own for a far-end REFER or a Replaces.
Once both have media it runs `vio_sbc.sip.trust.ForeignCalls.sweep()` (the code the
server runs every main-loop tick), then waits for pjsua to have only the
application's call left, and finally hangs that one up itself. One JSON line per
step on stdout; the structlog lines (`foreign_call_hung_up`) go there too.

    python foreign_leg.py sip:+1415...@127.0.0.3:5070 --local 127.0.0.1 --rtp-port P
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pjsua2 as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.integration.pj_client import start_endpoint
from vio_sbc import log as vlog
from vio_sbc.sip import native
from vio_sbc.sip.trust import ForeignCalls


def emit(**kw: Any) -> None:
    print(json.dumps(kw), flush=True)


class PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_long)]


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, acc: Any) -> None:
        super().__init__(acc)
        self.states: list[str] = []

    def onCallState(self, prm: Any) -> None:
        self.states.append(self.getInfo().stateText)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("--local", default="127.0.0.1")
    ap.add_argument("--rtp-port", type=int, default=46000)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    vlog.configure("info")
    ep, acfg = start_endpoint(a.local, a.rtp_port)
    acc = pj.Account()
    acc.create(acfg)
    lib = native.library()
    deadline = time.monotonic() + a.timeout

    def until(cond: Any) -> bool:
        while time.monotonic() < deadline:
            if cond():
                return True
            ep.libHandleEvents(10)
        return False

    ours = Call(acc)
    rc = 1
    try:
        ours.makeCall(a.uri, pj.CallOpParam(True))
        ours_id = ours.getId()
        make = lib.pjsua_call_make_call
        make.argtypes = [ctypes.c_int, ctypes.POINTER(PjStr), ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        uri = a.uri.encode()
        foreign_id = ctypes.c_int(-1)
        status = make(acc.getId(), ctypes.byref(PjStr(uri, len(uri))), None, None, None,
                      ctypes.byref(foreign_id))
        emit(event="placed", ours=ours_id, foreign=foreign_id.value, status=status)
        has_media = lib.pjsua_call_has_media
        both = until(lambda: has_media(ours_id) and has_media(foreign_id.value))
        emit(event="answered", both=both, count=int(lib.pjsua_call_get_count()))
        table = {"ours": SimpleNamespace(id="ours", pj_id=ours_id)}
        sweep = ForeignCalls(table)  # type: ignore[arg-type]
        swept = sweep.sweep()
        emit(event="swept", ids=swept, again=sweep.sweep())
        alone = until(lambda: int(lib.pjsua_call_get_count()) == 1)
        confirmed = ours.isActive() and ours.getInfo().stateText == "CONFIRMED"
        emit(event="after_sweep", count=int(lib.pjsua_call_get_count()), ours_up=confirmed)
        ours.hangup(pj.CallOpParam())
        gone = until(lambda: int(lib.pjsua_call_get_count()) == 0)
        emit(event="done", ours_ended=gone)
        rc = 0 if both and alone and confirmed and gone else 1
    finally:
        ep.hangupAllCalls()
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            ep.libHandleEvents(10)
        del ours
        acc.shutdown()
        gc.collect()
        ep.libDestroy()
    return rc


if __name__ == "__main__":
    sys.exit(main())
