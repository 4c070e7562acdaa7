"""A pjsua2 load caller (its own process): N concurrent calls with speech, over UDP with
plain RTP or over TLS with SRTP (SDES), for bench/tls_capacity.py (SIPp here has no TLS).

    python bench/pj_caller.py --uri 'sip:+14155550100@127.0.0.1:5061;transport=tls' \
        --transport tls --srtp mandatory --ca ca.pem --bind 127.0.0.4 \
        --calls 50 --rate 10 --hold 20 --wav speech.wav

One WAV player (looped) feeds every call through the conference bridge. Prints JSON
lines: `{"event": "up", ...}` once all calls are confirmed (or the deadline passed),
then a summary with per-call RTP packets received/sent. Bounded by --deadline.
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
    def __init__(self, acc: Any, player: Any) -> None:
        super().__init__(acc)
        self.player = player
        self.t0 = time.monotonic()
        self.confirmed_at: float | None = None
        self.ended = False
        self.status = 0
        self.media_on = False

    def onCallState(self, prm: Any) -> None:
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended = True
            self.status = int(ci.lastStatusCode)

    def onCallMediaState(self, prm: Any) -> None:
        ci = self.getInfo()
        for mi in ci.media:
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.player.startTransmit(self.getAudioMedia(mi.index))
                self.media_on = True

    def rtp(self) -> tuple[int, int]:
        try:
            st = self.getStreamStat(0).rtcp
            return int(st.rxStat.pkt), int(st.txStat.pkt)
        except pj.Error:
            return 0, 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--transport", choices=["udp", "tls"], default="udp")
    ap.add_argument("--srtp", choices=["off", "mandatory"], default="off")
    ap.add_argument("--ca", default="")
    ap.add_argument("--bind", default="127.0.0.2")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--wav", required=True)
    ap.add_argument("--rtp-port", type=int, default=40000)
    ap.add_argument("--deadline", type=float, default=180.0)
    a = ap.parse_args()
    end_by = time.monotonic() + a.deadline

    ep = pj.Endpoint()
    ep.libCreate()
    ec = pj.EpConfig()
    ec.uaConfig.maxCalls = 1024
    ec.uaConfig.threadCnt = 0
    ec.uaConfig.mainThreadOnly = True
    ec.medConfig.clockRate = 8000
    ec.medConfig.sndClockRate = 8000
    ec.medConfig.noVad = True
    ec.medConfig.ecTailLen = 0
    ec.medConfig.maxMediaPorts = 2 * a.calls + 16
    ec.logConfig.consoleLevel = 0
    ec.logConfig.level = 0
    ep.libInit(ec)
    tc = pj.TransportConfig()
    tc.boundAddress = a.bind
    tc.port = 0
    if a.transport == "tls":
        tc.tlsConfig.CaListFile = a.ca
        tc.tlsConfig.verifyServer = True
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tc)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for ci in ep.codecEnum2():
        ep.codecSetPriority(ci.codecId, 255 if ci.codecId.startswith("PCMU/") else 0)
    ac = pj.AccountConfig()
    ac.idUri = f"sip:load@{a.bind}"
    ac.mediaConfig.transportConfig.boundAddress = a.bind
    ac.mediaConfig.transportConfig.port = a.rtp_port
    ac.mediaConfig.transportConfig.portRange = 4 * a.calls + 100
    ac.mediaConfig.srtpUse = (pj.PJMEDIA_SRTP_MANDATORY if a.srtp == "mandatory"
                              else pj.PJMEDIA_SRTP_DISABLED)
    ac.mediaConfig.srtpSecureSignaling = 0
    ac.natConfig.iceEnabled = False
    acc = pj.Account()
    acc.create(ac, True)
    player = pj.AudioMediaPlayer()
    player.createPlayer(a.wav, 0)  # looped

    calls: list[Call] = []
    next_at = time.monotonic()
    while len(calls) < a.calls and time.monotonic() < end_by:
        ep.libHandleEvents(5)
        if time.monotonic() >= next_at:
            c = Call(acc, player)
            prm = pj.CallOpParam(True)
            prm.opt.videoCount = 0
            prm.opt.textCount = 0
            c.makeCall(a.uri, prm)
            calls.append(c)
            next_at += 1.0 / a.rate
    while time.monotonic() < end_by and not all(c.confirmed_at or c.ended for c in calls):
        ep.libHandleEvents(10)
    up = [c for c in calls if c.confirmed_at and not c.ended]
    setup = sorted((c.confirmed_at - c.t0) * 1000 for c in up if c.confirmed_at)
    emit(event="up", calls=len(calls), confirmed=len(up), failed=len(calls) - len(up),
         setup_ms_p50=setup[len(setup) // 2] if setup else None,
         setup_ms_max=setup[-1] if setup else None, t=time.time())
    hold_end = min(end_by, time.monotonic() + a.hold)
    while time.monotonic() < hold_end:
        ep.libHandleEvents(10)
    rtp = [c.rtp() for c in calls]
    for c in calls:
        if not c.ended:
            try:
                c.hangup(pj.CallOpParam())
            except pj.Error:
                pass
    stop_at = time.monotonic() + 10
    while time.monotonic() < stop_at and not all(c.ended for c in calls):
        ep.libHandleEvents(10)
    emit(event="done", rx_packets=[r[0] for r in rtp], tx_packets=[r[1] for r in rtp],
         statuses=sorted({c.status for c in calls}), media=sum(c.media_on for c in calls))
    ep.audDevManager().setNoDev()
    player = None
    calls.clear()
    acc.shutdown()
    gc.collect()
    ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
