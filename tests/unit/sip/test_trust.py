"""vio_sbc.sip.trust: the decider's glue (facts from C, our call by pjsua id, the
refusal's count and log line) and the foreign-call sweep, without pjsua."""

from __future__ import annotations

import ctypes
import textwrap
from dataclasses import dataclass, field
from typing import Any

import structlog
from structlog.testing import capture_logs

from vio_sbc.callcontrol.routing import Route
from vio_sbc.config import Config, parse_config_text
from vio_sbc.ops.metrics import Metrics
from vio_sbc.sip.trust import (
    DialogRequest,
    DialogTrust,
    ForeignCalls,
    TrustRequest,
    refuse_transfer,
)

CONFIG = """\
sip: {stranger_response: reject}
trunks:
  pbx: {kind: byoc, inbound: {allow: [127.0.0.2/32, 10.0.0.0/24]}}
  other: {kind: byoc, inbound: {allow: [127.0.0.3/32]}}
  reg:
    kind: byoc
    outbound: {host: sip.example.com}
numbers:
  "+14155550100": {trunk: pbx, direction: both}
"""


def cfg(text: str = CONFIG) -> Config:
    return parse_config_text(textwrap.dedent(text), "vio.yaml")


@dataclass
class FakeCall:
    id: str
    pj_id: int
    source: str
    route: Route | None
    log: Any = field(default_factory=lambda: structlog.get_logger("test").bind(call_id="c1"))


def route(c: Config, trunk: str = "pbx") -> Route:
    return Route(trunk=c.trunks[trunk], number=c.numbers["+14155550100"],
                 agent=c.agent_for(c.numbers["+14155550100"])[0], default_agent=True)


def req(method: str = "BYE", source: str = "127.0.0.2", pj_call: int = 3, *,
        replaces: bool = False, refer_to: str = "") -> DialogRequest:
    return DialogRequest(method, source, 5060, "UDP", pj_call, replaces, refer_to, "cid@x")


def trust(c: Config, calls: dict[str, FakeCall], registrars: dict[str, str] | None = None,
          ) -> tuple[DialogTrust, Metrics]:
    m = Metrics()
    return DialogTrust(lambda: c, calls, lambda: registrars or {}, m), m


def count(m: Metrics, reason: str) -> float:
    return float(m.registry.get_sample_value("vio_rejected_requests_total",
                                             {"reason": reason}) or 0)


def test_peer_and_trunk_act_in_their_call_others_do_not() -> None:
    c = cfg()
    calls = {"c1": FakeCall("c1", 3, "127.0.0.2", route(c))}
    t, m = trust(c, calls)
    assert t.decide(req("BYE", "127.0.0.2")).code == 0
    assert t.decide(req("INVITE", "10.0.0.9")).code == 0  # another pbx address
    assert t.decide(req("BYE", "127.0.0.3")).code == 403  # trunk `other`
    assert t.decide(req("BYE", "127.0.0.9")).code == 403  # stranger, reject mode
    assert t.decide(req("ACK", "127.0.0.9")).code == -1
    assert count(m, "in_dialog_refused") == 3


def test_drop_mode_and_a_reload_apply_at_once() -> None:
    holder = {"cfg": cfg()}
    calls = {"c1": FakeCall("c1", 3, "127.0.0.2", route(holder["cfg"]))}
    m = Metrics()
    t = DialogTrust(lambda: holder["cfg"], calls, dict, m)
    assert t.decide(req("BYE", "127.0.0.9")).code == 403
    holder["cfg"] = cfg(CONFIG.replace("reject", "drop"))
    assert t.decide(req("BYE", "127.0.0.9")).code == -1


def test_refer_is_declined_and_logged_with_its_target() -> None:
    c = cfg()
    calls = {"c1": FakeCall("c1", 3, "127.0.0.2", route(c))}
    t, m = trust(c, calls)
    with capture_logs() as logs:
        v = t.decide(req("REFER", refer_to="<sip:+1900@127.0.0.77>"))
    assert v.code == 603 and count(m, "refer_refused") == 1
    (line,) = logs
    assert line["event"] == "refer_refused" and line["target"] == "<sip:+1900@127.0.0.77>"
    assert (line["source"], line["answer"], line["source_class"]) == ("127.0.0.2", 603, "peer")


def test_replaces_names_the_call_or_none() -> None:
    c = cfg()
    calls = {"c1": FakeCall("c1", 3, "127.0.0.2", route(c))}
    t, _ = trust(c, calls)
    with capture_logs() as logs:
        assert t.decide(req("INVITE", "127.0.0.3", 3, replaces=True)).code == 403
        assert t.decide(req("INVITE", "127.0.0.2", -1, replaces=True)).code == 481
        assert t.decide(req("INVITE", "127.0.0.9", 3, replaces=True)).code == 403
    assert [ln["replaces_call"] for ln in logs] == ["c1", None, "c1"]


def test_a_dialog_that_is_no_call_of_ours_serves_any_trunk_only() -> None:
    c = cfg()
    t, _ = trust(c, {})
    assert t.decide(req("ACK", "127.0.0.3", 7)).code == 0  # e.g. a refused call's dialog
    assert t.decide(req("BYE", "127.0.0.9", 7)).code == 403


def test_registrar_sources_belong_to_their_trunk() -> None:
    c = cfg()
    calls = {"c1": FakeCall("c1", 3, "sip.example.com", route(c, "reg"))}
    t, _ = trust(c, calls, {"192.0.2.5": "reg"})
    assert t.decide(req("BYE", "192.0.2.5")).code == 0
    assert t.decide(req("BYE", "127.0.0.2")).code == 403  # pbx: another trunk


def test_lookup_follows_new_and_ended_calls() -> None:
    c = cfg()
    calls: dict[str, FakeCall] = {}
    t, _ = trust(c, calls)
    assert t.call(3) is None
    calls["c1"] = FakeCall("c1", 3, "127.0.0.2", route(c))
    assert t.call(3) is calls["c1"]
    del calls["c1"]  # ended; its pjsua slot reused by the next call
    calls["c2"] = FakeCall("c2", 3, "127.0.0.2", route(c))
    assert t.call(3) is calls["c2"]
    assert t.call(-1) is None


def test_log_lines_are_rate_limited_per_source_the_count_is_not() -> None:
    c = cfg()
    t, m = trust(c, {"c1": FakeCall("c1", 3, "127.0.0.2", route(c))})
    with capture_logs() as logs:
        for _ in range(20):
            t.decide(req("BYE", "127.0.0.9"))
    assert len(logs) == 5 and count(m, "in_dialog_refused") == 20


def test_facts_from_the_c_struct() -> None:
    r = TrustRequest(method_id=5, src_port=5099, call_id=2, replaces=0, method=b"REFER",
                     src_ip=b"127.0.0.2", transport=b"TCP", refer_to=b"<sip:x@y>",
                     sip_call_id=b"abc")
    assert DialogRequest.from_c(r) == DialogRequest("REFER", "127.0.0.2", 5099, "TCP", 2,
                                                    False, "<sip:x@y>", "abc")
    assert DialogRequest.from_c(TrustRequest()).method == ""  # NULL strings


def test_the_decider_never_raises_into_c() -> None:
    t = DialogTrust(lambda: 1 / 0, {}, dict, Metrics())  # type: ignore[arg-type,return-value]
    r = TrustRequest(method=b"BYE", src_ip=b"127.0.0.2")
    with capture_logs() as logs:
        assert t._on_request(ctypes.pointer(r)) == 500
    assert logs[0]["event"] == "dialog_trust_failed"


def test_refuse_transfer_second_line() -> None:
    c = cfg()
    call = FakeCall("c1", 3, "127.0.0.2", route(c))
    m = Metrics()

    class Prm:
        statusCode = 202
        dstUri = "sip:+1900@127.0.0.77"

    prm = Prm()
    with capture_logs() as logs:
        refuse_transfer(call, m, prm)
    assert prm.statusCode == 603 and count(m, "refer_refused") == 1
    assert logs[0]["target"] == "sip:+1900@127.0.0.77"


class FakeLib:
    """pjsua's C call API as ForeignCalls uses it: a few live calls."""

    def __init__(self, live: list[int]) -> None:
        self.live = live
        self.hung: list[int] = []
        self.cleared: list[int] = []
        self.pjsua_call_get_count = lambda: len(self.live)
        self.pjsua_call_get_max_count = lambda: 8
        self.pjsua_call_is_active = lambda i: i in self.live
        self.pjsua_call_set_user_data = lambda i, data: self.cleared.append(i)
        self.pjsua_call_hangup = lambda i, code, reason, msg: self.hung.append(i) or 0

    def pjsua_enum_calls(self, ids: Any, n: Any) -> int:
        count = n._obj
        for k, i in enumerate(self.live):
            ids[k] = i
        count.value = len(self.live)
        return 0


def test_foreign_calls_are_hung_up_ours_are_not() -> None:
    c = cfg()
    calls = {"c1": FakeCall("c1", 0, "127.0.0.2", route(c))}
    lib = FakeLib([0])
    sweep = ForeignCalls(calls, lib)  # type: ignore[arg-type]
    assert sweep.sweep() == [] and lib.hung == []
    lib.live.append(1)  # e.g. the leg pjsua would place for a REFER
    with capture_logs() as logs:
        assert sweep.sweep() == [1]
    assert lib.cleared == [1] and lib.hung == [1] and sweep.hung_up == 1
    assert logs[0]["event"] == "foreign_call_hung_up" and logs[0]["pj_call"] == 1
