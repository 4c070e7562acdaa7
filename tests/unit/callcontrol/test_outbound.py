"""Outbound admission: the table of refusals, and the cps token bucket."""

from __future__ import annotations

import textwrap

import pytest

from vio_sbc.callcontrol.outbound import OutboundRefused, admit_outbound
from vio_sbc.config import Config, parse_config_text
from vio_sbc.trunks.bucket import TokenBucket

CFG = textwrap.dedent("""
    agents:
      receptionist: {kind: scripted}
      echo: {kind: echo}
    trunks:
      tw:
        kind: twilio
        outbound: {host: vio.pstn.twilio.com, username: u, password: "${PW}", max_calls: 2, cps: 1}
      pbx:
        kind: byoc
    numbers:
      "+14155550100": {trunk: tw, direction: both}
      "+14155550101": {trunk: tw, direction: inbound}
      "+14155550102": {trunk: tw, direction: outbound}
      "+14155550103": {trunk: pbx, direction: both}
""")


@pytest.fixture(scope="module")
def cfg() -> Config:
    return parse_config_text(CFG, "vio.yaml", env={"PW": "p"})


@pytest.mark.parametrize(("number", "live", "down", "status", "detail"), [
    ("+14155559999", 0, False, 404, "number +14155559999 is not configured"),
    ("+14155550101", 0, False, 403, "number +14155550101 is inbound-only"),
    ("+14155550103", 0, False, 503, "trunk 'pbx' has no outbound section"),
    ("+14155550100", 0, True, 503, "trunk 'tw' is down (OPTIONS unanswered)"),
    ("+14155550100", 2, False, 503, "trunk 'tw' is at max_calls (2)"),
])
def test_refusals(cfg: Config, number: str, live: int, down: bool, status: int,
                  detail: str) -> None:
    bucket = TokenBucket.for_cps(1)
    with pytest.raises(OutboundRefused) as info:
        admit_outbound(cfg, number, live_calls=live, bucket=bucket, trunk_down=down, now=0.0)
    assert (info.value.status, info.value.detail) == (status, detail)
    assert bucket.tokens == 1.0  # a refused call takes no token


@pytest.mark.parametrize("number", ["+14155550100", "+14155550102"])
def test_admitted(cfg: Config, number: str) -> None:
    bucket = TokenBucket.for_cps(1)
    adm = admit_outbound(cfg, number, live_calls=1, bucket=bucket, trunk_down=False, now=0.0)
    assert adm.trunk.name == "tw" and adm.number.number == number
    assert adm.outbound.host == "vio.pstn.twilio.com"
    assert bucket.tokens == 0.0


def test_cps_limit_refuses_then_refills(cfg: Config) -> None:
    bucket = TokenBucket.for_cps(1)
    admit_outbound(cfg, "+14155550100", live_calls=0, bucket=bucket, trunk_down=False, now=10.0)
    with pytest.raises(OutboundRefused) as info:
        admit_outbound(cfg, "+14155550100", live_calls=0, bucket=bucket, trunk_down=False,
                       now=10.5)
    assert info.value.status == 503
    assert info.value.detail == "trunk 'tw' is at its cps limit (1/s; next slot in 0.50s)"
    admit_outbound(cfg, "+14155550100", live_calls=0, bucket=bucket, trunk_down=False, now=11.0)


@pytest.mark.parametrize(("cps", "times", "admitted"), [
    (1, [0.0, 0.1, 0.2, 1.0, 1.05, 2.1], [True, False, False, True, False, True]),
    (5, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2], [True] * 5 + [False, True]),
    (0.5, [0.0, 1.0, 1.9, 2.0], [True, False, False, True]),
])
def test_token_bucket(cps: float, times: list[float], admitted: list[bool]) -> None:
    bucket = TokenBucket.for_cps(cps)
    assert [bucket.take(t) for t in times] == admitted


def test_token_bucket_ignores_clock_going_back() -> None:
    bucket = TokenBucket.for_cps(1)
    assert bucket.take(5.0)
    assert not bucket.take(4.0)
    assert bucket.take(6.0)


# plan_outbound: the switch's own checks come first, then the trunk's (admit_outbound)
PLAN_REFUSALS = [
    ({"draining": True}, "+14155550100", None, 503, "draining", "draining: not placing new calls"),
    ({"live_calls": 200}, "+14155550100", None, 503, "max_calls", "sip.max_calls (200) reached"),
    ({}, "+14155550100", "nobody", 404, "unknown_number", "unknown agent 'nobody'"),
    ({"bucket": None}, "+14155550100", "echo", 503, "unavailable", "trunk 'tw' is not ready"),
    ({"bucket": None}, "+14155550103", None, 503, "unavailable",
     "trunk 'pbx' has no outbound section"),  # no account to wait for
    ({"trunk_live": 2}, "+14155550100", None, 503, "unavailable", "trunk 'tw' is at max_calls (2)"),
]


@pytest.mark.parametrize(("kw", "number", "agent", "status", "label", "detail"), PLAN_REFUSALS)
def test_plan_refusals(cfg: Config, kw: dict[str, object], number: str, agent: str | None,
                       status: int, label: str, detail: str) -> None:
    from vio_sbc.callcontrol.outbound import OutboundRequest, plan_outbound

    args: dict[str, object] = {"draining": False, "live_calls": 0, "trunk_live": 0,
                               "bucket": TokenBucket.for_cps(1), "trunk_down": False, **kw}
    with pytest.raises(OutboundRefused) as info:
        plan_outbound(cfg, OutboundRequest(number, "+14155559000", agent=agent), now=0.0,
                      **args)  # type: ignore[arg-type]
    assert (info.value.status, info.value.label, info.value.detail) == (status, label, detail)


def test_plan_names_route_target_and_identity(cfg: Config) -> None:
    from vio_sbc.callcontrol.outbound import OutboundRequest, plan_outbound

    plan = plan_outbound(cfg, OutboundRequest("+14155550100", "+14155559000"), draining=False,
                         live_calls=0, trunk_live=0, bucket=TokenBucket.for_cps(1),
                         trunk_down=False, now=0.0)
    assert (plan.route.trunk.name, plan.route.number.number) == ("tw", "+14155550100")
    assert plan.route.default_agent and plan.route.agent.name == "receptionist"
    assert plan.target == "sip:+14155559000@vio.pstn.twilio.com:5060"
    assert plan.identity == "<sip:+14155550100@vio.pstn.twilio.com>"
    named = plan_outbound(cfg, OutboundRequest("+14155550102", "+14155559000", agent="echo"),
                          draining=False, live_calls=0, trunk_live=0,
                          bucket=TokenBucket.for_cps(1), trunk_down=False, now=0.0)
    assert (named.route.agent.name, named.route.default_agent) == ("echo", False)
