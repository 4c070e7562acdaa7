"""Why queued calls do not move (vio_sbc.dialer.why): pure, pinned on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

from vio_sbc.config import parse_config_text
from vio_sbc.dialer.why import campaign_reasons, config_reasons, server_reasons, window_reason

CFG = """
dialer: {enabled: true}
trunks:
  pbx: {kind: byoc, outbound: {host: 127.0.0.5}}
  bare: {kind: byoc}
numbers:
  "+14155550100": {trunk: pbx, direction: both}
  "+14155550101": {trunk: pbx, direction: inbound}
  "+14155550102": {trunk: bare, direction: outbound}
"""


def test_config_reasons() -> None:
    cfg = parse_config_text(CFG, "vio.yaml")
    assert config_reasons(cfg, "+14155550100") == []
    assert config_reasons(cfg, "+14155550101") == [
        "+14155550101 is inbound-only: set its direction to outbound or both"]
    assert config_reasons(cfg, "+14155550102") == [
        "trunk bare of +14155550102 has no outbound section: the dialer has nowhere to send "
        "the call"]
    assert config_reasons(cfg, "+14155550199") == [
        "+14155550199 is not a configured number any more"]
    off = parse_config_text(CFG.replace("enabled: true", "enabled: false"), "vio.yaml")
    assert config_reasons(off, "+14155550100") == [
        "the dialer is off (dialer.enabled: false in vio.yaml): nothing is placed until it "
        "is set to true and the server reloaded"]


def test_window_reason() -> None:
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 in New York
    windows = ("Mon-Fri 09:00-18:00",)
    assert window_reason(windows, "America/New_York", saturday) == (
        "outside the calling window (Mon-Fri 09:00-18:00 America/New_York): next opening "
        "Mon 2026-11-30 09:00 America/New_York")
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert window_reason(windows, "America/New_York", monday) is None
    assert window_reason((), "UTC", saturday) is None


def test_server_reasons() -> None:
    assert server_reasons("pbx", None, "c.yaml") == [
        "no server is running on c.yaml (start it: vio-sbc run -c c.yaml)"]
    status = {"draining": False, "trunks": [
        {"trunk": "pbx", "health": {"up": False, "last_status": 408}},
        {"trunk": "other", "health": {"up": False, "last_status": 408}}]}
    assert server_reasons("pbx", status, "c.yaml") == [
        "trunk pbx is down (OPTIONS unanswered, last status 408): calls wait until it "
        "answers again"]
    assert server_reasons("pbx", {"draining": True, "trunks": []}, "c.yaml") == [
        "the server is draining (shutting down): it starts no new call"]


def test_campaign_reasons_paused() -> None:
    cfg = parse_config_text(CFG, "vio.yaml")
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert campaign_reasons(cfg, from_number="+14155550100", status="paused", windows=(),
                            tz="UTC", now=now, server={"trunks": []}, config="vio.yaml") == [
        "the campaign is paused (vio-sbc campaign resume NAME)"]
