"""What a failed TLS certificate check is called in a call's outcome."""

from __future__ import annotations

import pjsua2 as pj

from vio_sbc.sip.tlsctl import verify_reason


def test_verify_reason_names_each_failed_check() -> None:
    assert verify_reason(pj.PJ_SSL_CERT_EUNTRUSTED, []) == (
        "TLS certificate check failed: not signed by a trusted CA")
    both = pj.PJ_SSL_CERT_EIDENTITY_NOT_MATCH | pj.PJ_SSL_CERT_EVALIDITY_PERIOD
    assert verify_reason(both, ["ignored"]) == (
        "TLS certificate check failed: name does not match the host; expired or not yet valid")
    assert verify_reason(pj.PJ_SSL_CERT_EUNKNOWN, ["bad chain"]) == (
        "TLS certificate check failed: bad chain")
