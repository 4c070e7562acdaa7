"""bench/harness.py: the capacity benchmark's server config loads against today's
defaults and sets what the benchmark needs; the histogram quantile it prints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from harness import AGENTS, histogram, quantile, vio_config

from vio_sbc.config import parse_config_text


@pytest.mark.parametrize("agent", sorted(AGENTS))
@pytest.mark.parametrize("record", [True, False])
def test_every_variant_loads_and_lifts_the_limits_a_ramp_hits(agent: str, record: bool,
                                                              tmp_path: Path) -> None:
    cfg = parse_config_text(vio_config(5070, 1100, (40000, 44400), tmp_path, http_port=9100,
                                       agent=agent, record=record,
                                       ws_url="ws://127.0.0.1:9/bench"))
    assert cfg.sip.max_calls == 1100
    assert cfg.sip.max_cps == 0  # no server-wide rate limit: a 50/s ramp is not refused
    assert cfg.sip.admission.burst >= 1100 and cfg.sip.admission.rate >= 100
    assert cfg.storage.recordings is record and cfg.trunks["bench"].recording is record
    assert cfg.http is not None  # the engine lag histogram is read from /metrics
    a = cfg.agents["bench"]
    assert a.kind == ("websocket" if agent == "ws" else "scripted")
    assert bool(a.intents) is (agent == "stt")


def test_quantile_interpolates_within_the_bucket_like_prometheus() -> None:
    text = "\n".join([
        'vio_engine_lag_seconds_bucket{le="0.01"} 90.0',
        'vio_engine_lag_seconds_bucket{le="0.02"} 100.0',
        'vio_engine_lag_seconds_bucket{le="+Inf"} 100.0',
    ])
    h = histogram(text, "vio_engine_lag_seconds")
    assert h == {0.01: 90.0, 0.02: 100.0, float("inf"): 100.0}
    assert quantile({}, h, 0.5) == pytest.approx(0.01 * 50 / 90)
    assert quantile({}, h, 0.99) == pytest.approx(0.01 + 0.01 * 9 / 10)
    before = {0.01: 90.0, 0.02: 90.0, float("inf"): 90.0}
    assert quantile(before, h, 0.5) == pytest.approx(0.015)  # only what came after
    assert quantile(h, h, 0.5) is None
