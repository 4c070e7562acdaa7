"""`vio-sbc check --limits`: the figures docs/security.md quotes, as enforced."""

from __future__ import annotations

from vio_sbc.cli.limits import limits_lines
from vio_sbc.config import parse_config_text


def test_limits_lines_show_each_limit_its_answer_and_the_buffer_cap() -> None:
    cfg = parse_config_text("sip: {limits: {max_message_bytes: 9000, max_headers: 50}, "
                            "tcp: {backlog: 65535}}\n",
                            "vio.yaml")
    text = "\n".join(limits_lines(cfg))
    assert "receive buffer (PJSIP_MAX_PKT_LEN): 4000 bytes" in text  # our build's
    assert "sip.limits.max_message_bytes: 4000 -> 413 Request Entity Too Large" in text
    assert "sip.limits.max_headers: 50 -> 400 Too Many Headers (reason too_many_headers)" in text
    assert "sip.limits.sdp_max_formats: 32 -> 488" in text
    assert "sip.tcp.backlog: 65535 (in effect " in text
    assert "sip.tcp.max_connections_per_source: 32" in text
