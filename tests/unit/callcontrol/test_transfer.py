from __future__ import annotations

import pytest

from vio_sbc.callcontrol.transfer import (
    Outcome,
    TransferAttempt,
    TransferTargetError,
    check_target,
    refer_uri,
)


@pytest.mark.parametrize(("target", "host", "want"), [
    ("sip:alice@pbx.example.com", "127.0.0.2", "sip:alice@pbx.example.com"),
    ("sips:+1415@carrier.example;transport=tls", "x", "sips:+1415@carrier.example;transport=tls"),
    ("+14155550999", "127.0.0.2", "sip:+14155550999@127.0.0.2"),
    ("1001", "127.0.0.2", "sip:1001@127.0.0.2"),
    ("1001", "::1", "sip:1001@[::1]"),
])
def test_refer_uri(target: str, host: str, want: str) -> None:
    assert refer_uri(target, host) == want


@pytest.mark.parametrize("target", ["alice", "http://x", "", "sip:a b@c"])
def test_bad_targets_are_refused_with_a_precise_message(target: str) -> None:
    with pytest.raises(TransferTargetError) as exc:
        check_target(target)
    assert str(exc.value) == (
        f"transfer target {target!r} is neither a sip:/sips: URI nor a number (+, digits, *, #)")


def test_number_without_host() -> None:
    with pytest.raises(TransferTargetError, match="no host to send number '1001' to"):
        refer_uri("1001", "")


def _run(reports: list[tuple[int, str, bool]]) -> tuple[list[Outcome | None], TransferAttempt]:
    t = TransferAttempt("1001", "sip:1001@h")
    return [t.on_status(*r) for r in reports], t


def test_accepted_then_sipfrag_200_completes_once() -> None:
    got, t = _run([(202, "Accepted", False), (100, "Trying", False), (200, "OK", True),
                   (200, "OK", True)])
    assert got == [None, None, Outcome.COMPLETED, None]
    assert t.summary == "completed 200 OK"


@pytest.mark.parametrize("status", [405, 501, 603, 408])
def test_refer_rejected_fails(status: int) -> None:
    got, t = _run([(status, "Nope", True)])
    assert got == [Outcome.FAILED]
    assert t.summary == f"failed {status} Nope"


def test_sipfrag_busy_after_accept_fails() -> None:
    got, _ = _run([(202, "Accepted", False), (486, "Busy Here", True)])
    assert got == [None, Outcome.FAILED]


def test_final_without_a_result_fails_and_pending_summary() -> None:
    t = TransferAttempt("1001", "sip:1001@h")
    assert t.summary == "pending 0"
    assert t.on_status(100, "Trying", True) is Outcome.FAILED


def test_timeout_without_a_final_notify_fails_once() -> None:
    got, t = _run([(202, "Accepted", False), (100, "Trying", False)])
    assert got == [None, None]
    assert t.on_timeout() is Outcome.FAILED
    assert t.summary == "failed 408 no final NOTIFY"
    assert t.on_status(200, "OK", True) is None  # a NOTIFY after the timeout changes nothing
    assert t.on_timeout() is None
    _, t2 = _run([(202, "Accepted", False), (200, "OK", True)])
    assert t2.on_timeout() is None and t2.summary == "completed 200 OK"
