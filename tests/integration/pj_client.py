"""A second pjsua2 endpoint (its own process) acting as the caller or the registering
client for the UAS scenarios. Prints one JSON line per event; exits when done.

    python pj_client.py call sip:+1415...@127.0.0.3:5070 [--user U --password P]
                        [--hangup-after S | --cancel-after S]
    python pj_client.py register sip:127.0.0.4:5070 --user U --password P
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from typing import Any

import pjsua2 as pj


def emit(**kw: Any) -> None:
    print(json.dumps(kw), flush=True)


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, acc: Any) -> None:
        super().__init__(acc)
        self.states: list[str] = []
        self.status = 0
        self.done = False

    def onCallState(self, prm: Any) -> None:
        ci = self.getInfo()
        self.states.append(ci.stateText)
        emit(event="state", state=ci.stateText, code=ci.lastStatusCode)
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.status = ci.lastStatusCode
            self.done = True


class Acc(pj.Account):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.reg_code = 0

    def onRegState(self, prm: Any) -> None:
        self.reg_code = prm.code
        emit(event="reg", code=prm.code, expiration=prm.expiration)


def start_endpoint(local: str, rtp_port: int, user: str = "qa"
                   ) -> tuple[pj.Endpoint, pj.AccountConfig]:
    """A started single-threaded pjsua2 endpoint on `local` (UDP, null audio, 8 kHz) and
    the account config of `user` with RTP from `rtp_port`; the caller adds to it."""
    ep = pj.Endpoint()
    ep.libCreate()
    ec = pj.EpConfig()
    ec.uaConfig.threadCnt = 0
    ec.uaConfig.mainThreadOnly = True
    ec.medConfig.clockRate = 8000
    ec.medConfig.sndClockRate = 8000
    ec.logConfig.consoleLevel = 0
    ec.logConfig.level = 0
    ep.libInit(ec)
    tc = pj.TransportConfig()
    tc.boundAddress = local
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{user}@{local}"
    acfg.mediaConfig.transportConfig.boundAddress = local
    acfg.mediaConfig.transportConfig.port = rtp_port
    acfg.mediaConfig.transportConfig.portRange = 20
    return ep, acfg


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["call", "register"])
    ap.add_argument("uri")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--local", default="127.0.0.1")
    ap.add_argument("--hangup-after", type=float, default=2.0)
    ap.add_argument("--cancel-after", type=float, default=None)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--rtp-port", type=int, default=46000)
    a = ap.parse_args()
    ep, acfg = start_endpoint(a.local, a.rtp_port, a.user or "qa")
    if a.user:
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", a.user, 0,
                                                        a.password or ""))
    if a.mode == "register":
        acfg.regConfig.registrarUri = a.uri
    acc = Acc()
    acc.create(acfg)
    deadline = time.monotonic() + a.timeout
    rc = 1
    call: Call | None = None
    try:
        if a.mode == "register":
            while (time.monotonic() < deadline and acc.reg_code == 0) or acc.reg_code in (
                    100, 401, 407):
                if time.monotonic() >= deadline:
                    break
                ep.libHandleEvents(10)
            rc = 0 if acc.reg_code == 200 else 1
        else:
            call = Call(acc)
            call.makeCall(a.uri, pj.CallOpParam(True))
            t_conf: float | None = None
            t0 = time.monotonic()
            while time.monotonic() < deadline and not call.done:
                ep.libHandleEvents(10)
                now = time.monotonic()
                if "CONFIRMED" in call.states and t_conf is None:
                    t_conf = now
                if t_conf is not None and now - t_conf >= a.hangup_after:
                    call.hangup(pj.CallOpParam())
                    t_conf = float("inf")
                if (a.cancel_after is not None and t_conf is None
                        and now - t0 >= a.cancel_after):
                    call.hangup(pj.CallOpParam())
                    a.cancel_after = None
            emit(event="result", status=call.status, confirmed="CONFIRMED" in call.states)
            rc = 0 if call.done else 1
    finally:
        ep.hangupAllCalls()
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            ep.libHandleEvents(10)
        call = None
        acc.shutdown()
        gc.collect()
        ep.libDestroy()
    return rc


if __name__ == "__main__":
    sys.exit(main())
