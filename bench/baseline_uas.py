"""The stack's own ceiling: a bare pjsua2 UAS that auto-answers 200, no Python media.

Same pjsua2 build and media settings as vio-sbc (8 kHz bridge, null audio
device, PCMU/PCMA, threadCnt=0 with a main loop), each call's audio connected
both ways to the null sound device port (the usual pjsua auto-answer set-up),
no media port in Python, no agent. Runs until SIGTERM; prints one JSON line
`{"event": "listening"}` when ready and `{"event": "stopped", "answered": N}` at exit.

    .venv/bin/python bench/baseline_uas.py --listen 127.0.0.1:5090 --rtp 40000-44999
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import time
from typing import Any

import pjsua2 as pj


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, uas: Uas, acc: Any, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.uas = uas

    def onCallState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.uas.ended.append(self)
        except Exception as exc:
            print(json.dumps({"event": "error", "where": "state", "error": str(exc)}), flush=True)

    def onCallMediaState(self, prm: Any) -> None:
        try:
            ci = self.getInfo()
            for mi in ci.media:
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    aud = self.getAudioMedia(mi.index)
                    mgr = self.uas.ep.audDevManager()
                    aud.startTransmit(mgr.getPlaybackDevMedia())
                    mgr.getCaptureDevMedia().startTransmit(aud)
        except Exception as exc:
            print(json.dumps({"event": "error", "where": "media", "error": str(exc)}), flush=True)


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, uas: Uas) -> None:
        super().__init__()
        self.uas = uas

    def onIncomingCall(self, prm: Any) -> None:
        call = Call(self.uas, self, prm.callId)
        self.uas.calls[prm.callId] = call
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)
        self.uas.answered += 1


class Uas:
    def __init__(self, host: str, port: int, rtp_min: int, rtp_max: int, max_calls: int) -> None:
        self.calls: dict[int, Call] = {}
        self.ended: list[Call] = []
        self.answered = 0
        ep = pj.Endpoint()
        ep.libCreate()
        self.ep = ep
        ec = pj.EpConfig()
        ec.uaConfig.maxCalls = 1 << 20
        ec.uaConfig.threadCnt = 0
        ec.uaConfig.mainThreadOnly = True
        ec.medConfig.maxMediaPorts = 2 * max_calls + 16
        ec.medConfig.clockRate = 8000
        ec.medConfig.sndClockRate = 8000
        ec.medConfig.noVad = True
        ec.medConfig.ecTailLen = 0
        ec.medConfig.quality = 4
        ec.logConfig.consoleLevel = 1
        ec.logConfig.level = 1
        ec.logConfig.msgLogging = 0
        ep.libInit(ec)
        tc = pj.TransportConfig()
        tc.port = port
        tc.boundAddress = host
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        ep.libStart()
        ep.audDevManager().setNullDev()
        for ci in ep.codecEnum2():
            name = ci.codecId.split("/")[0].upper()
            ep.codecSetPriority(ci.codecId, {"PCMU": 255, "PCMA": 254}.get(name, 0))
        ac = pj.AccountConfig()
        ac.idUri = f"sip:baseline@{host}:{port}"
        ac.mediaConfig.transportConfig.port = rtp_min
        ac.mediaConfig.transportConfig.portRange = rtp_max - rtp_min
        ac.mediaConfig.transportConfig.boundAddress = host
        ac.natConfig.iceEnabled = False
        self.acc = Account(self)
        self.acc.create(ac, True)

    def run(self, stop: dict[str, bool]) -> None:
        while not stop["flag"]:
            self.ep.libHandleEvents(10)
            if self.ended:
                for call in self.ended:
                    self.calls = {k: v for k, v in self.calls.items() if v is not call}
                self.ended.clear()

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            self.ep.libHandleEvents(10)
        self.ep.audDevManager().setNoDev()
        self.calls.clear()
        self.ended.clear()
        self.acc.shutdown()
        gc.collect()
        self.ep.libDestroy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:5090")
    ap.add_argument("--rtp", default="40000-44999")
    ap.add_argument("--max-calls", type=int, default=1000)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    lo, hi = (int(x) for x in a.rtp.split("-"))
    stop = {"flag": False}

    def _sig(_n: int, _f: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _sig)
    signal.signal(signal.SIGINT, _sig)
    uas = Uas(host, int(port), lo, hi, a.max_calls)
    print(json.dumps({"event": "listening", "sip": a.listen}), flush=True)
    try:
        uas.run(stop)
    finally:
        answered = uas.answered
        uas.shutdown()
    print(json.dumps({"event": "stopped", "answered": answered}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
