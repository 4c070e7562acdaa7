from __future__ import annotations

from vio_sbc.sip.limits import Limits, check_limits, read_limits


def test_four_call_build_never_passes_for_a_server() -> None:
    lim = Limits("2.15.1", "/x/_pjsua2.so", max_calls=4, max_conf_ports=254)
    assert check_limits(lim, 200, 416) == (
        "pjsua2 2.15.1 at /x/_pjsua2.so allows 4 concurrent calls, sip.max_calls is 200: "
        "this is not a server build of pjsua2 (the PyPI wheels stop at 4); "
        "run `make install` to build one"
    )


def test_conference_ports_checked() -> None:
    lim = Limits("2.17", "/x", max_calls=1024, max_conf_ports=100)
    assert check_limits(lim, 50, 116) == (
        "pjsua2 2.17 at /x has 100 conference ports, 116 are needed for 50 calls"
    )
    assert check_limits(Limits("2.17", "/x", 1024, 4096), 1000, 2016) is None


def test_installed_build_is_a_server_build() -> None:
    lim = read_limits()
    assert lim.max_calls >= 1024
