"""vio_sbc.rtp.guard: policy values, drop arithmetic, the refusal without the patch,
metrics counting (pure), and the policy global in the installed library."""

import ctypes

import pytest
from prometheus_client import CollectorRegistry

from vio_sbc.rtp.guard import RtpDrops, RtpGuard, missing_patch, policy_value
from vio_sbc.sip import native


def test_policy_values_match_the_patch() -> None:
    assert [policy_value(p) for p in ("off", "latch", "strict")] == [0, 1, 2]
    with pytest.raises(ValueError, match=r"unknown RTP source policy 'nat' \(expected one of: "
                                         r"off, latch, strict\)"):
        policy_value("nat")


def test_a_library_without_the_patch_is_refused_by_name() -> None:
    assert missing_patch("off", "/x/_pjsua2.so", False) is None
    assert missing_patch("latch", "/x/_pjsua2.so", True) is None
    assert missing_patch("strict", "/x/_pjsua2.so", False) == (
        "rtp.source_check is 'strict' but pjsua2 at /x/_pjsua2.so lacks vio_rtp_source_check "
        "(scripts/pjproject-patches/10-rtp-source-check.patch): run `make install` to build "
        "the patched library, or set rtp.source_check: off")


def test_drops_arithmetic() -> None:
    d = RtpDrops(by_source=7, malformed=3)
    assert d.total == 10
    assert d.since(RtpDrops(5, 3)) == RtpDrops(2, 0)
    assert d.since(RtpDrops(9, 9)) == RtpDrops(0, 0)  # a reset never counts negative
    assert d.log_fields() == {"rtp_dropped_source": 7, "rtp_dropped_malformed": 3}
    assert d.event_text() == "source=7 malformed=3"


def _value(reg: CollectorRegistry, reason: str) -> float:
    v = reg.get_sample_value("vio_rtp_dropped_packets_total", {"reason": reason})
    assert v is not None
    return v


def test_metrics_count_each_drop_once_across_polls() -> None:
    reg = CollectorRegistry()
    g = RtpGuard(reg)
    assert _value(reg, "source") == 0 and _value(reg, "malformed") == 0
    assert g.count("a", RtpDrops(3, 1)) == RtpDrops(3, 1)
    assert g.count("a", RtpDrops(5, 1)) == RtpDrops(2, 0)  # polled again: only the new
    assert g.count("b", RtpDrops(0, 4)) == RtpDrops(0, 4)
    g.forget("a")
    assert (_value(reg, "source"), _value(reg, "malformed")) == (5, 5)


@pytest.mark.parametrize("policy", ["off", "latch", "strict"])
def test_apply_sets_the_global_in_the_installed_library(policy: str) -> None:
    g = RtpGuard()
    assert g.apply(policy) is None
    flag = native.symbol("vio_rtp_source_check", ctypes.c_int)
    assert flag is not None, "the installed pjsua2 lacks the RTP source-check patch"
    assert flag.value == policy_value(policy)
    assert g.read(-1, 0) is None
    flag.value = 0
