"""vio_sbc.callcontrol.limits: the answer of every limit and the values enforced."""

from __future__ import annotations

import pytest

from vio_sbc.callcontrol.limits import LIMITS, effective
from vio_sbc.config.model import MessageLimits


@pytest.mark.parametrize(("key", "status", "phrase", "reason"), [
    ("max_message_bytes", 413, "Request Entity Too Large", "too_large"),
    ("max_headers", 400, "Too Many Headers", "too_many_headers"),
    ("sdp_max_media", 488, "Not Acceptable Here", "sdp_too_many_media"),
    ("sdp_max_formats", 488, "Not Acceptable Here", "sdp_too_many_formats"),
])
def test_answers(key: str, status: int, phrase: str, reason: str) -> None:
    (lim,) = [x for x in LIMITS if x.key == key]
    assert (lim.status, lim.reason_phrase, lim.reason) == (status, phrase, reason)


def test_every_setting_has_a_rule_and_distinct_counters() -> None:
    assert {lim.key for lim in LIMITS} == set(MessageLimits.__dataclass_fields__)
    assert len({lim.counter for lim in LIMITS}) == len({lim.reason for lim in LIMITS}) == 4


def test_defaults_and_the_buffer_ceiling() -> None:
    assert effective(MessageLimits(), 4000) == {
        "max_message_bytes": 4000, "max_headers": 64, "sdp_max_media": 8,
        "sdp_max_formats": 32}
    assert effective(MessageLimits(max_message_bytes=9000), 4000)["max_message_bytes"] == 4000
    assert effective(MessageLimits(max_message_bytes=1500), 4000)["max_message_bytes"] == 1500
