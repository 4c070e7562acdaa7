"""Registration backoff (exponential, jittered, slower on 403) and state, and OPTIONS
health transitions."""

from __future__ import annotations

import random

import pytest

from vio_sbc.config.model import TrunkRegister
from vio_sbc.trunks.health import Health, ping_ok
from vio_sbc.trunks.registration import (
    Registration,
    RegStatus,
    backoff_s,
    refresh_margin_s,
)

REG = TrunkRegister(enabled=True, expires=60, retry_min_s=2, retry_max_s=30,
                    forbidden_retry_s=600)


@pytest.mark.parametrize(("failures", "status", "rand", "delay"), [
    (1, 408, 0.999999, 2.0), (1, 408, 0.0, 1.0), (2, 503, 0.999999, 4.0), (3, 401, 0.0, 4.0),
    (4, 408, 0.999999, 16.0), (5, 408, 0.999999, 30.0), (50, 408, 0.0, 15.0),
    (1, 403, 0.999999, 600.0), (7, 403, 0.0, 300.0),
])
def test_backoff(failures: int, status: int, rand: float, delay: float) -> None:
    assert backoff_s(REG, failures, status, rand) == pytest.approx(delay, rel=1e-5)


def test_backoff_jitter_spreads_retries() -> None:
    rng = random.Random(7)
    delays = {round(backoff_s(REG, 3, 408, rng.random()), 3) for _ in range(50)}
    assert len(delays) > 40 and min(delays) >= 4.0 and max(delays) <= 8.0


@pytest.mark.parametrize(("expires", "margin"), [(4, 1), (6, 2), (300, 60), (3600, 60), (60, 20)])
def test_refresh_margin(expires: int, margin: int) -> None:
    assert refresh_margin_s(expires) == margin


def test_registration_state() -> None:
    r = Registration("pbx")
    r.attempt()
    assert r.status is RegStatus.REGISTERING
    delay = r.failed(REG, 408, "Request Timeout", now=100.0, rng=random.Random(1))
    assert r.status is RegStatus.FAILING and r.failures == 1 and r.last_code == 408
    assert r.next_retry_at == pytest.approx(100.0 + delay) and 1.0 <= delay <= 2.0
    r.attempt()  # the retry: still failing until it succeeds
    assert r.status is RegStatus.FAILING
    r.failed(REG, 408, "Request Timeout", now=102.0, rng=random.Random(1))
    assert r.failures == 2
    r.registered(200, "OK", 60, now=110.0)
    assert r.as_dict() == {
        "trunk": "pbx", "status": "registered", "last_code": 200, "last_reason": "OK",
        "expires_s": 60, "registered_at": 110.0, "next_retry_at": None, "failures": 0,
    }
    r.attempt()  # a refresh keeps showing registered
    assert r.status is RegStatus.REGISTERED


@pytest.mark.parametrize(("status", "ok"), [(200, True), (404, True), (405, True), (486, True),
                                            (408, False), (503, False), (0, False)])
def test_ping_ok(status: int, ok: bool) -> None:
    assert ping_ok(status) is ok


def test_health_goes_down_after_n_failures_and_up_on_first_success() -> None:
    h = Health("tw", down_after=2)
    assert h.result(408, 1.0) is None and h.up
    assert h.result(408, 2.0) is False and not h.up
    assert h.result(408, 3.0) is None and not h.up
    assert h.result(200, 4.0) is True and h.up and h.failures == 0 and h.last_ok_at == 4.0


def test_health_is_unknown_until_a_ping_has_a_result() -> None:
    """Rough edge 7: a new trunk is not shown `up` before any OPTIONS was answered."""
    from vio_sbc.ops.glance import health_text

    h = Health("tw")
    assert h.as_dict()["state"] == "unknown" and h.up  # calls are not refused meanwhile
    assert health_text(h.as_dict()) == "unknown (no OPTIONS answer yet)"
    h.result(200, 1.0)
    assert h.as_dict()["state"] == "up" and health_text(h.as_dict()) == "up"
    h.result(408, 2.0)
    h.result(408, 3.0)
    assert h.as_dict()["state"] == "down" and health_text(h.as_dict()) == "down (last 408)"
