"""vio_sbc.sip.guard: the allow list pushed to the pjsip guard, and the start check."""

from __future__ import annotations

import ctypes
import ipaddress
import textwrap

import pytest

from vio_sbc.config import Config, parse_config_text
from vio_sbc.sip import guard, native
from vio_sbc.sip.guard import allowed_networks, pack, patch_problem

CONFIG = """\
trunks:
  pbx:
    kind: byoc
    inbound: {allow: [127.0.0.2/32, 10.1.0.0/16, "2001:db8::/32"]}
  carrier:
    kind: byoc
    inbound: {allow: [10.1.0.0/16]}
    outbound: {host: 192.0.2.10, port: 5080, username: u, password: p}
    register: {enabled: true, registrar: "sip:198.51.100.7:5060;transport=tcp"}
  named:
    kind: byoc
    outbound: {host: sip.example.com}
"""


def cfg(text: str = CONFIG) -> Config:
    return parse_config_text(textwrap.dedent(text), "vio.yaml", env={})


def test_allow_list_is_inbound_allow_outbound_peers_and_registrars() -> None:
    nets = allowed_networks(cfg(), ["203.0.113.5", "127.0.0.2"])
    assert [str(n) for n in nets] == [
        "127.0.0.2/32", "10.1.0.0/16", "2001:db8::/32",  # pbx inbound.allow
        "192.0.2.10/32", "198.51.100.7/32",  # carrier's outbound host and registrar
        "203.0.113.5/32",  # a registrar answered from here (duplicates dropped)
    ]


def test_hostnames_are_not_resolved_and_no_trunks_means_nobody() -> None:
    assert allowed_networks(cfg("trunks: {}\n"), []) == ()
    assert allowed_networks(cfg(), ["not-an-ip"])[-1] == ipaddress.ip_network("198.51.100.7")


def test_pack_lays_out_families_addresses_and_prefixes() -> None:
    nets = (ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("2001:db8::/32"))
    fams, addrs, prefixes = pack(nets)
    assert list(fams) == [4, 6] and list(prefixes) == [16, 32]
    raw = bytes(addrs)
    assert raw[:4] == bytes([10, 1, 0, 0]) and raw[4:16] == bytes(12)
    assert raw[16:32] == ipaddress.ip_address("2001:db8::").packed
    assert len(bytes(pack(())[1])) == 16  # an empty list still passes valid pointers


def test_drop_on_a_library_without_the_patch_names_the_library(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = native.symbol

    def without_patch(name: str, ctype: object = None) -> object:
        return None if name == guard.INSTALL else real(name, ctype)

    monkeypatch.setattr(guard.native, "symbol", without_patch)
    why = patch_problem("drop")
    assert why is not None
    assert why.startswith("sip.stranger_response: drop needs the 20-sip-guard pjproject patch, "
                          f"which {native.library_path()} lacks")
    assert patch_problem("reject") is None  # reject works (as pjsua does) without it


def test_the_installed_library_has_the_patch() -> None:
    assert patch_problem("drop") is None
    assert native.symbol("vio_sip_guard_dropped", ctypes.c_ulong) is not None


def test_set_allow_refuses_bad_input_and_keeps_the_list() -> None:
    set_allow = native.symbol("vio_sip_guard_set_allow")
    set_allow.restype = ctypes.c_int
    fams, addrs, _ = pack((ipaddress.ip_network("10.0.0.0/8"),))
    assert set_allow(1, fams, addrs, (ctypes.c_int * 1)(33)) == -1  # /33 is no IPv4 prefix
    assert set_allow(guard.MAX_NETS + 1, fams, addrs, (ctypes.c_int * 1)(8)) == -1
    assert set_allow(1, fams, addrs, (ctypes.c_int * 1)(8)) == 1
    assert set_allow(0, *pack(())) == 0
