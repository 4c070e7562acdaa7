from __future__ import annotations

import io
import json

from vio_sbc import log as vlog


def test_secrets_redacted_in_json_logs() -> None:
    buf = io.StringIO()
    vlog.redactor.set(["s3cr3t-pass", "ab"])  # too-short secrets are ignored
    try:
        vlog.configure("info", buf)
        import structlog

        structlog.get_logger().info(
            "register", uri="sip:u:s3cr3t-pass@h", err=ValueError("s3cr3t-pass")
        )
        line = json.loads(buf.getvalue())
        assert line["uri"] == "sip:u:***@h" and line["err"] == "***"
        assert "s3cr3t" not in buf.getvalue()
    finally:
        vlog.redactor.set([])


def test_rate_limiter() -> None:
    rl = vlog.RateLimiter(burst=2, window=10)
    assert rl.allow("a", now=0) == (True, 0)
    assert rl.allow("a", now=1) == (True, 0)
    assert rl.allow("a", now=2) == (False, 1)
    assert rl.allow("a", now=3) == (False, 2)
    assert rl.allow("b", now=3) == (True, 0)
    assert rl.allow("a", now=11) == (True, 2)


AUTH = ('Authorization: Digest username="vio-trunk", realm="asterisk", nonce="5f1a2b3c", '
        'uri="sip:127.0.0.3", response="9f8e7d6c5b4a", algorithm=MD5, cnonce="c0ffee", '
        'nc=00000001, qop=auth')


def test_digest_values_masked_with_no_secrets_configured() -> None:
    buf = io.StringIO()
    vlog.redactor.set([])
    vlog.configure("info", buf)
    import structlog

    structlog.get_logger().info("pjsip", msg=f"TX 512 bytes Request msg REGISTER\n{AUTH}")
    text = json.loads(buf.getvalue())["msg"]
    for value in ("5f1a2b3c", "9f8e7d6c5b4a", "c0ffee"):
        assert value not in text
    assert 'nonce="***"' in text and 'response="***"' in text and 'cnonce="***"' in text
    assert 'username="vio-trunk"' in text and "nc=00000001" in text  # the rest is kept


def test_mask_digest_forms() -> None:
    assert vlog.mask_digest('NONCE=abc, Response = "x"') == 'NONCE=***, Response = "***"'
    assert vlog.mask_digest('nextnonce="n1"; x=1') == 'nextnonce="***"; x=1'
    assert vlog.mask_digest("no digest, response time 5 ms") == "no digest, response time 5 ms"
    # a value cut before its closing quote (a pjsip line cut at 400 characters)
    assert vlog.mask_digest('nonce="ab", response="9f8e7d... [40 more]') == (
        'nonce="***", response="***"')
