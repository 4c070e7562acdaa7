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
