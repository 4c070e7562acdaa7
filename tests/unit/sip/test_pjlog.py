"""pjsip's own log lines (vio_sbc/sip/pjlog.py): cut to MAX_MSG characters, rate-limited
per message shape (digits ignored) with the suppressed count on the next line allowed,
nothing cut or suppressed with `log.sip_trace`, and digest values masked even when the
cut falls inside one. Lines go through pjsua2's LogEntry and the writer's own thread,
into the structlog configuration the server uses (JSON, redaction)."""

from __future__ import annotations

import io
import json
from typing import Any

import pjsua2 as pj

from vio_sbc import log as vlog
from vio_sbc.log import RateLimiter
from vio_sbc.sip.pjlog import MAX_MSG, StructlogWriter


class ClockLimiter(RateLimiter):
    """The writer's limiter on a clock the test moves."""

    def __init__(self, burst: int, window: float) -> None:
        super().__init__(burst, window)
        self.t = 0.0

    def allow(self, key: str, now: float | None = None) -> tuple[bool, int]:
        return super().allow(key, self.t)


def run(writer: StructlogWriter, *lines: str, level: int = 1) -> list[dict[str, Any]]:
    """Write `lines` as pjsip would, drain the writer, return the JSON lines logged."""
    buf = io.StringIO()
    vlog.configure("debug", buf)
    for text in lines:
        entry = pj.LogEntry()
        entry.level, entry.msg, entry.threadName = level, text, "pjsip-worker"
        writer.write(entry)
    writer.close()
    return [json.loads(ln) for ln in buf.getvalue().splitlines()]


def test_a_long_line_is_cut_to_max_msg_with_the_count_of_the_rest() -> None:
    text = "sip_endpoint.c Error processing packet: " + "X-Big: " + "a" * 50_000
    [line] = run(StructlogWriter(), text)
    assert line["event"] == "pjsip" and line["level"] == "error"
    assert line["msg"] == text[:MAX_MSG] + f"... [{len(text) - MAX_MSG} more]"
    assert MAX_MSG == 400


def test_lines_of_one_shape_are_rate_limited_and_the_next_one_says_how_many() -> None:
    writer = StructlogWriter(burst=5, window=60.0)
    limiter = ClockLimiter(5, 60.0)
    writer.limiter = limiter
    # eight lines that differ only in their digits: one shape; another shape passes
    shape = [f"sip_transport.c Error parsing packet from 127.0.0.{i}:50{i}0" for i in range(8)]
    buf = io.StringIO()
    vlog.configure("debug", buf)
    for text in [*shape, "pjsua_core.c other message"]:
        writer._emit(1, text, "t")
    limiter.t = 61.0  # a window later
    writer._emit(1, shape[0], "t")
    writer.close()
    lines = [json.loads(ln) for ln in buf.getvalue().splitlines()]
    msgs = [ln["msg"] for ln in lines]
    assert msgs == [*shape[:5], "pjsua_core.c other message", shape[0]]
    assert "suppressed" not in lines[0] and lines[-1]["suppressed"] == 3


def test_sip_trace_cuts_and_suppresses_nothing() -> None:
    long_text = "TX 60000 bytes Request msg INVITE\n" + "a" * 60_000
    repeated = [f"RX 500 bytes Request msg OPTIONS/cseq={i}" for i in range(20)]
    lines = run(StructlogWriter(burst=5, trace=True), long_text, *repeated, level=4)
    assert [ln["msg"] for ln in lines] == [long_text.rstrip(), *repeated]


def test_digest_values_are_masked_even_where_the_cut_falls_inside_one() -> None:
    vlog.redactor.set([])
    head = "sip_endpoint.c Error processing packet: REGISTER\nAuthorization: Digest "
    auth = 'username="vio-trunk", nonce="n0nce", response="' + "9f8e7d6c5b4a" * 40 + '"'
    text = head + auth
    cut = MAX_MSG - len(head) - len('username="vio-trunk", nonce="n0nce", response="') - 5
    assert 0 < cut < len("9f8e7d6c5b4a" * 40)  # the cut is inside the response value
    [line] = run(StructlogWriter(), text)
    assert "9f8e7d" not in line["msg"] and "n0nce" not in line["msg"]
    assert 'response="***' in line["msg"] and 'username="vio-trunk"' in line["msg"]
