"""vio_sbc.sip.tcpguard: settings into the patch's globals, counters into the metric,
and a library without the patch (ctypes symbols faked)."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from vio_sbc.config.model import TcpSettings
from vio_sbc.sip import tcpguard
from vio_sbc.sip.tcpguard import COUNTERS, SETTINGS, TcpGuard


@pytest.fixture
def fake_lib(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    values: dict[str, Any] = {"vio_tp_accept": object()}
    values.update({name: ctypes.c_int(0) if name == "vio_tp_backlog" else ctypes.c_uint(0)
                   for name in SETTINGS})
    values.update({name: ctypes.c_ulong(0) for name in COUNTERS})
    monkeypatch.setattr(tcpguard.native, "symbol", lambda name, kind=None: values.get(name))
    return values


def test_configure_sets_every_global(fake_lib: dict[str, Any]) -> None:
    g = TcpGuard(lambda event, n: None)
    g.configure(TcpSettings(backlog=77, max_connections_per_source=3, idle_timeout_s=9,
                            first_message_timeout_s=2))
    assert g.available
    assert [fake_lib[n].value for n in SETTINGS] == [77, 3, 9, 2]


def test_tick_adds_what_the_counters_gained(fake_lib: dict[str, Any]) -> None:
    seen: list[tuple[str, int]] = []
    g = TcpGuard(lambda event, n: seen.append((event, n)), poll_s=0.0)
    g.configure(TcpSettings())
    fake_lib["vio_tp_refused_stranger"].value = 5
    g.tick()
    fake_lib["vio_tp_refused_stranger"].value = 7
    fake_lib["vio_tp_closed_idle"].value = 1
    g.tick()
    g.tick()
    assert seen == [("refused_stranger", 5), ("refused_stranger", 2), ("closed_idle", 1)]


def test_without_the_patch_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcpguard.native, "symbol", lambda name, kind=None: None)
    monkeypatch.setattr(tcpguard.native, "library_path", lambda: "/lib/x.so")
    g = TcpGuard(lambda event, n: None)
    g.configure(TcpSettings())
    g.tick()
    assert not g.available and set(g.counts().values()) == {0}
