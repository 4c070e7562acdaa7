"""SRTP offer/answer policy: the whole table of `decide_srtp`, SDP reading, and the
488 `decide_inbound` gives a plain offer on a mandatory trunk."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.admission import Admission
from vio_sbc.callcontrol.inbound import Accept, InboundState, Invite, Refuse, decide_inbound
from vio_sbc.callcontrol.srtp import (
    MediaOffer,
    SrtpPlan,
    SrtpRefusal,
    answered_suite,
    decide_srtp,
    read_offer,
)
from vio_sbc.config import parse_config_text

PLAIN = MediaOffer("RTP/AVP")
BEST = MediaOffer("RTP/AVP", ("AES_CM_128_HMAC_SHA1_80",))
SAVP = MediaOffer("RTP/SAVP", ("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"))
SAVP_ODD = MediaOffer("RTP/SAVP", ("AES_256_CM_HMAC_SHA1_80",))
AVP_ODD = MediaOffer("RTP/AVP", ("F8_128_HMAC_SHA1_80",))
DTLS = MediaOffer("UDP/TLS/RTP/SAVP")

R = "refuse"
TABLE = [
    # policy, offer, expected: (srtp, mode) or (R, label)
    ("off", None, (False, "off")),
    ("off", PLAIN, (False, "off")),
    ("off", BEST, (False, "off")),
    ("off", SAVP, (R, "srtp_not_enabled")),
    ("off", AVP_ODD, (False, "off")),
    ("off", DTLS, (R, "srtp_not_enabled")),
    ("optional", None, (True, "optional")),
    ("optional", PLAIN, (False, "off")),
    ("optional", BEST, (True, "optional")),
    ("optional", SAVP, (True, "optional")),
    ("optional", SAVP_ODD, (R, "srtp_no_suite")),
    ("optional", AVP_ODD, (False, "off")),
    ("optional", DTLS, (R, "srtp_no_suite")),
    ("mandatory", None, (True, "mandatory")),
    ("mandatory", PLAIN, (R, "srtp_required")),
    ("mandatory", BEST, (True, "optional")),
    ("mandatory", SAVP, (True, "optional")),
    ("mandatory", SAVP_ODD, (R, "srtp_no_suite")),
    ("mandatory", AVP_ODD, (R, "srtp_required")),
]


@pytest.mark.parametrize(("policy", "offer", "expected"), TABLE)
def test_decide_srtp_table(policy, offer, expected) -> None:
    got = decide_srtp(policy, offer, "pbx")
    if expected[0] == R:
        assert isinstance(got, SrtpRefusal)
        assert (got.status, got.label) == (488, expected[1])
        assert got.mode != "off"  # pjsua must let the INVITE reach our 488
    else:
        assert got == SrtpPlan(*expected)


def test_refusal_reasons_name_the_cause() -> None:
    plain = decide_srtp("mandatory", PLAIN, "pbx")
    assert isinstance(plain, SrtpRefusal)
    assert plain.reason == "plain RTP offer but media.srtp is mandatory on trunk pbx"
    odd = decide_srtp("optional", SAVP_ODD)
    assert isinstance(odd, SrtpRefusal)
    assert "AES_256_CM_HMAC_SHA1_80" in odd.reason and "AES_CM_128_HMAC_SHA1_80" in odd.reason


OFFER = """v=0\r
o=- 1 1 IN IP4 127.0.0.2\r
s=-\r
c=IN IP4 127.0.0.2\r
t=0 0\r
m=audio 4000 RTP/SAVP 0 101\r
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r
a=crypto:2 aes_cm_128_hmac_sha1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r
m=video 4002 RTP/SAVP 96\r
a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:x\r
"""


def test_read_offer_first_audio_stream_only() -> None:
    assert read_offer(OFFER) == MediaOffer(
        "RTP/SAVP", ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"))
    assert read_offer("v=0\r\nm=audio 4000 RTP/AVP 0\r\n") == PLAIN
    assert read_offer("") is None
    assert read_offer("v=0\r\nm=video 1 RTP/AVP 96\r\n") is None


def test_answered_suite() -> None:
    assert answered_suite(OFFER) == "AES_CM_128_HMAC_SHA1_80"
    assert answered_suite("m=audio 4000 RTP/AVP 0\r\n") is None
    assert answered_suite("m=audio 4000 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 "
                          "inline:x\r\n") is None


CFG = parse_config_text("""
trunks:
  secure:
    kind: byoc
    inbound: {allow: [127.0.0.2]}
    media: {srtp: mandatory}
  plain:
    kind: byoc
    inbound: {allow: [127.0.0.3]}
numbers:
  "+14155550100": {trunk: secure}
  "+14155550101": {trunk: plain}
""")


def _decide(src: str, uri: str, media: MediaOffer | None) -> Accept | Refuse:
    state = InboundState(CFG, Admission(CFG.sip.admission, CFG.sip.max_cps, 0.0))
    return decide_inbound(Invite(src, "tls", uri, media=media), state, 1.0)


def test_inbound_plain_offer_on_mandatory_trunk_is_488_with_a_row() -> None:
    got = _decide("127.0.0.2", "sip:+14155550100@127.0.0.1", PLAIN)
    assert isinstance(got, Refuse)
    assert (got.status, got.reason, got.metric_label) == (488, "Not Acceptable Here",
                                                          "srtp_required")
    assert got.kind.value == "refused" and got.trunk is not None
    assert got.trunk.name == "secure" and "mandatory" in got.detail


def test_inbound_srtp_offers_accepted() -> None:
    assert isinstance(_decide("127.0.0.2", "sip:+14155550100@127.0.0.1", SAVP), Accept)
    assert isinstance(_decide("127.0.0.3", "sip:+14155550101@127.0.0.1", PLAIN), Accept)
    refused = _decide("127.0.0.3", "sip:+14155550101@127.0.0.1", SAVP)
    assert isinstance(refused, Refuse) and refused.metric_label == "srtp_not_enabled"
