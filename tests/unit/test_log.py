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


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_auto_is_human_on_a_terminal_and_json_elsewhere() -> None:
    """Rough edge 6: `log.format: auto` (the default)."""
    import structlog

    vlog.redactor.set(["s3cr3t-pass"])
    try:
        tty = _Tty()
        vlog.configure("info", tty, fmt="auto")
        structlog.get_logger().info("ready", sip="127.0.0.1:5060", uri="sip:u:s3cr3t-pass@h")
        text = tty.getvalue()
        assert not text.startswith("{") and "ready" in text and "127.0.0.1:5060" in text
        assert "s3cr3t" not in text
        pipe = io.StringIO()
        vlog.configure("info", pipe, fmt="auto")
        structlog.get_logger().info("ready", sip="127.0.0.1:5060")
        assert json.loads(pipe.getvalue())["event"] == "ready"
        forced = io.StringIO()
        vlog.configure("info", forced, fmt="console")
        structlog.get_logger().info("ready", sip="127.0.0.1:5060")
        assert not forced.getvalue().startswith("{") and "\x1b[" not in forced.getvalue()
    finally:
        vlog.redactor.set([])
        vlog.configure("info")


def test_ready_line_says_how_to_place_a_test_call() -> None:
    from vio_sbc.cli.run import ready_fields
    from vio_sbc.config import parse_config_text

    cfg = parse_config_text("""
sip: {listen: 127.0.0.1:5070}
http: {listen: 127.0.0.1:8080}
trunks:
  pbx: {kind: byoc, inbound: {allow: [127.0.0.2/32]}}
numbers:
  "+14155550102": {trunk: pbx, direction: outbound}
  "+14155550101": {trunk: pbx, direction: inbound}
""")
    assert ready_fields(cfg, "vio.yaml") == {
        "sip": "127.0.0.1:5070 (udp/tcp)", "http": "http://127.0.0.1:8080",
        "test_call": "cd sipp_scenarios && sipp 127.0.0.1:5070 -sf uac_speech_pcmu.xml "
                     "-s +14155550101 -i 127.0.0.2 -mi 127.0.0.2 -m 1; then: vio-sbc calls -c "
                     "vio.yaml --limit 1"}
    assert "no number accepts inbound calls" in ready_fields(
        parse_config_text(""), "vio.yaml")["test_call"]
