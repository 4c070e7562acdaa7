"""The front's generated kamailio.cfg and dispatcher.list (pure): what the YAML says is
what the front enforces. Kamailio itself parses and runs them in
tests/integration/test_cluster.py."""

from __future__ import annotations

import re
from pathlib import Path

from vio_sbc.cluster.kamailio import Where, dispatcher_list, kamailio_cfg, kamailio_files
from vio_sbc.config import load_config
from vio_sbc.config.model import Config
from vio_sbc.config.trunks import twilio_networks

YAML = """\
sip: {{listen: 127.0.0.1:5070, transports: [udp], max_calls: 40, max_cps: 7.5,
       stranger_response: {stranger}}}
cluster: {{front: "127.0.0.1:5090", workers: 3, first_worker: 127.0.0.21, probe_interval_s: 3}}
trunks:
  pbx:
    kind: byoc
    inbound: {{allow: [127.0.0.2/32, 10.1.0.0/16, "2001:db8::/48"]}}
    outbound: {{host: 127.0.0.3, port: 5080, max_calls: 5, cps: 2.5}}
  tw: {{kind: twilio, inbound: {{allow: [twilio]}}}}
numbers:
  "+14155550100": {{trunk: pbx, direction: both}}
"""


def config(tmp_path: Path, stranger: str = "reject") -> Config:
    path = tmp_path / "vio.yaml"
    path.write_text(YAML.format(stranger=stranger))
    return load_config(path)


def route(text: str, name: str) -> str:
    """The body of route[NAME] (up to the next top-level closing brace)."""
    m = re.search(rf"^(?:failure_)?route\[{name}\] \{{\n(.*?)^\}}", text, re.S | re.M)
    assert m is not None, name
    return m.group(1)


def test_trunk_acls_name_each_trunk_with_the_twilio_preset(tmp_path: Path) -> None:
    text = kamailio_cfg(config(tmp_path), Where("/d"))
    body = route(text, "TRUNK_OF_SOURCE")
    pbx, tw = body.split('$var(trunk) = "pbx";')
    assert "if (src_ip==127.0.0.2 || src_ip==10.1.0.0/16 || src_ip==[2001:db8::]/48 || " \
           "src_ip==127.0.0.3) {  # pbx" in pbx  # the outbound host is the trunk's too
    nets = twilio_networks()
    assert len(nets) >= 5 and '$var(trunk) = "tw";' in tw
    assert "the twilio preset" in tw
    for net in nets:
        assert f"src_ip=={net.network_address}/{net.prefixlen}" in tw


def test_strangers_get_what_a_worker_would_answer(tmp_path: Path) -> None:
    reject = route(kamailio_cfg(config(tmp_path), Where("/d")), "STRANGER")
    assert reject == ('    if (is_method("ACK")) { exit; }\n'
                      '    sl_send_reply("403", "Forbidden");\n    exit;\n')
    drop = route(kamailio_cfg(config(tmp_path, "drop"), Where("/d")), "STRANGER")
    assert drop == "    drop;\n"
    source = route(kamailio_cfg(config(tmp_path), Where("/d")), "SOURCE")
    assert "src_ip==127.0.0.21 || src_ip==127.0.0.22 || src_ip==127.0.0.23" in source
    assert 'if ($var(trunk) == "") { route(STRANGER); }' in source


def test_the_source_headers_are_the_fronts_own(tmp_path: Path) -> None:
    """Whatever a carrier sent in X-Vio-Source / X-Vio-Trunk is removed first."""
    body = route(kamailio_cfg(config(tmp_path), Where("/d")), "INBOUND")
    lines = [ln.strip() for ln in body.splitlines()]
    i = lines.index('remove_hf("X-Vio-Source");')
    assert lines[i:i + 4] == ['remove_hf("X-Vio-Source");', 'remove_hf("X-Vio-Trunk");',
                              'append_hf("X-Vio-Source: $si\\r\\n");',
                              'append_hf("X-Vio-Trunk: $var(trunk)\\r\\n");']


def test_cluster_wide_limits_and_failover(tmp_path: Path) -> None:
    text = kamailio_cfg(config(tmp_path), Where("/d"))
    inbound = route(text, "INBOUND")
    assert 'pl_check("inbound", "TAILDROP", "7")' in inbound  # whole calls per second
    assert "if ($var(live) >= 40) {" in inbound  # sip.max_calls for the cluster
    assert 'ds_select_dst("1", "4")' in inbound and 't_on_failure("WORKER_FAILED")' in inbound
    failure = route(text, "WORKER_FAILED")
    assert 't_check_status("503") || (t_branch_timeout() && !t_branch_replied())' in failure
    assert "ds_next_dst()" in failure and 'ds_mark_dst("ip")' in failure
    assert 'modparam("dispatcher", "ds_ping_interval", 3)' in text
    assert 'modparam("tm", "fr_timer", 2000)' in text


def test_outbound_only_to_a_trunk_within_its_limits(tmp_path: Path) -> None:
    text = kamailio_cfg(config(tmp_path), Where("/d"))
    body = route(text, "TRUNK_OF_RURI")
    assert body == ('    $var(trunk) = "";\n    if ($rd == "127.0.0.3") {\n'
                    '        $var(trunk) = "pbx";\n        $var(pipe) = "out_pbx";\n'
                    '        $var(max_calls) = 5;\n        $var(cps) = 2;\n'
                    "        return;\n    }\n")
    out = route(text, "OUTBOUND")
    assert 'if ($var(trunk) == "") { sl_send_reply("403", "Not A Trunk"); exit; }' in out
    assert 'set_dlg_profile("outbound", "$var(trunk)");' in out and "record_route();" in out


def test_files_and_listen(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    files = kamailio_files(cfg, Where("/srv/front"), "vio.yaml")
    assert set(files) == {"kamailio.cfg", "dispatcher.list"}
    text = files["kamailio.cfg"]
    assert "listen=udp:127.0.0.1:5090" in text and "listen=tcp" not in text
    assert 'modparam("dispatcher", "list_file", "/srv/front/dispatcher.list")' in text
    assert "from vio.yaml" in text.splitlines()[1]
    assert dispatcher_list(cfg).splitlines()[1:] == [
        "1 sip:127.0.0.21:5070 0 0 name=w1", "1 sip:127.0.0.22:5070 0 0 name=w2",
        "1 sip:127.0.0.23:5070 0 0 name=w3"]
