"""SIP INFO carrying DTMF as `application/dtmf`, which pjsua leaves unanswered.

pjsua answers `application/dtmf-relay` INFO itself and reports its digit through
`onDtmfDigit` (method SIP INFO); an `application/dtmf` INFO it neither answers nor
reports. `on_tsx_state` (the call's `onCallTsxState`, on the SIP thread, before
pjsua's own handling) reads such an INFO (`vio_sbc.callcontrol.dtmf`), hands its
digit to the call and answers it (200, or 400 for a body that is no digit) with
pjsip's own response functions through ctypes: pjsua2 has no call for answering
an in-dialog request.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from vio_sbc.callcontrol.dtmf import InfoDtmfError, parse_info_dtmf
from vio_sbc.sip.message import SipParseError, parse_request
from vio_sbc.sip.native import symbol


def _body(msg: str) -> str:
    _head, sep, body = msg.partition("\r\n\r\n")
    return body if sep else msg.partition("\n\n")[2]


def respond(tsx_ptr: int, rdata_ptr: int, status: int) -> bool:
    """Answer the UAS transaction `tsx_ptr` of request `rdata_ptr` with `status`."""
    endpt_fn = symbol("pjsua_get_pjsip_endpt")
    create = symbol("pjsip_endpt_create_response")
    send = symbol("pjsip_tsx_send_msg")
    if endpt_fn is None or create is None or send is None or not tsx_ptr or not rdata_ptr:
        return False
    endpt_fn.restype = ctypes.c_void_p
    create.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                       ctypes.POINTER(ctypes.c_void_p)]
    create.restype = ctypes.c_int
    send.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    send.restype = ctypes.c_int
    tdata = ctypes.c_void_p()
    if create(endpt_fn(), rdata_ptr, status, None, ctypes.byref(tdata)) != 0:
        return False
    return bool(send(tsx_ptr, tdata) == 0)


def on_tsx_state(prm: Any, digit: Callable[[str, int, str], None],
                 log: Any) -> None:
    """An incoming `application/dtmf` INFO: its digit to `digit(d, ms, "info")`, answered."""
    ev = prm.e
    if ev.type != pj.PJSIP_EVENT_TSX_STATE:
        return
    tsx = ev.body.tsxState.tsx
    if (tsx.role != pj.PJSIP_ROLE_UAS or tsx.state != pj.PJSIP_TSX_STATE_TRYING
            or tsx.method != "INFO" or ev.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG):
        return
    rdata = ev.body.tsxState.src.rdata
    text = str(rdata.wholeMsg)
    try:
        req = parse_request(text)
        found = parse_info_dtmf(req.header("content-type") or "", _body(text))
    except (SipParseError, InfoDtmfError) as exc:
        log.warning("info_dtmf_unreadable", error=str(exc))
        respond(int(tsx.pjTransaction), int(rdata.pjRxData), 400)
        return
    if found is None:
        return  # not application/dtmf: pjsua's (dtmf-relay) or nobody's
    digit(found.digit, found.duration_ms, "info")
    if not respond(int(tsx.pjTransaction), int(rdata.pjRxData), 200):
        log.warning("info_dtmf_answer_failed")
