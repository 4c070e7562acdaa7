"""A worker's view of the cluster config, and whom it believes about a call's source."""

from __future__ import annotations

from pathlib import Path

import pytest

from vio_sbc.cluster.worker import as_worker, front_of, original_source, worker_index
from vio_sbc.config import load_config
from vio_sbc.config.model import HostPort

YAML = """\
sip: {listen: 127.0.0.1:5070}
http: {listen: 127.0.0.1:9100}
storage: {dir: /srv/vio}
cluster: {front: "127.0.0.1:5090", workers: 2, first_worker: 127.0.0.11}
trunks:
  pbx:
    kind: byoc
    inbound: {allow: [127.0.0.2/32]}
    outbound: {host: 127.0.0.3, username: u, password: "${PW:-x}"}
    register: {enabled: true}
numbers:
  "+14155550100": {trunk: pbx, direction: both}
"""

FRONT = HostPort("127.0.0.1", 5090)


def test_each_worker_on_its_own_address_and_dir_w1_registers(tmp_path: Path) -> None:
    path = tmp_path / "vio.yaml"
    path.write_text(YAML)
    cfg = load_config(path)
    assert front_of(cfg) is None  # the file alone is no worker
    w1, w2 = as_worker(cfg, 1), as_worker(cfg, 2)
    assert (str(w1.sip.listen), str(w2.sip.listen)) == ("127.0.0.11:5070", "127.0.0.12:5070")
    assert w2.http is not None and str(w2.http.listen) == "127.0.0.12:9100"
    assert (w1.storage.dir, w2.storage.dir) == ("/srv/vio/w1", "/srv/vio/w2")
    assert w1.trunks["pbx"].register.enabled and not w2.trunks["pbx"].register.enabled
    assert w2.cluster is not None and w2.cluster.worker == "w2"
    assert front_of(w2) == FRONT and worker_index("w2") == 2
    with pytest.raises(ValueError, match=r"^worker 3: the cluster has workers 1\.\.2$"):
        as_worker(cfg, 3)


@pytest.mark.parametrize(("packet", "header", "front", "believed"), [
    ("127.0.0.1", "127.0.0.2", FRONT, "127.0.0.2"),     # from the front: its header
    ("127.0.0.1", " 2001:db8::5 ", FRONT, "2001:db8::5"),
    ("127.0.0.2", "127.0.0.66", FRONT, "127.0.0.2"),    # anyone else: never believed
    ("127.0.0.9", "127.0.0.2", FRONT, "127.0.0.9"),
    ("127.0.0.1", None, FRONT, "127.0.0.1"),            # the front's own request
    ("127.0.0.1", "not-an-ip", FRONT, "127.0.0.1"),     # malformed: the front, a stranger
    ("127.0.0.1", "127.0.0.2", None, "127.0.0.1"),      # no cluster: headers mean nothing
])
def test_the_source_header_is_believed_only_from_the_front(
        packet: str, header: str | None, front: HostPort | None, believed: str) -> None:
    assert original_source(packet, header, front) == believed
