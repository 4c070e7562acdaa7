"""What a cluster worker runs: the shared config seen from worker i, and whom it trusts
for the original source of a call. Pure.

`as_worker(cfg, i)` is the config `vio-sbc run --worker I` runs (and re-applies on every
reload): SIP (and the HTTP endpoint) on the worker's own address, its own
`<storage.dir>/w<i>` (control socket, recordings; the call log and the queue are the
shared `storage.database`), and trunk registration only on the designated worker w1,
with the contact at the front (docs/cluster.md says why).

`original_source(packet_source, header, front)` is the source the worker's admission,
routing and dialog-trust rules run on: the front's `X-Vio-Source` header when the
packet came from the front's address, the packet's own source otherwise (a header from
anyone else is ignored, never believed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

from vio_sbc.config.model import Config, HostPort

REGISTERING_WORKER = 1  # the one worker that registers the cluster's trunks


def worker_name(i: int) -> str:
    return f"w{i}"


def worker_index(name: str) -> int:
    if not (name.startswith("w") and name[1:].isdigit()):
        raise ValueError(f"not a worker name: {name!r} (w1, w2, ...)")
    return int(name[1:])


def as_worker(cfg: Config, i: int) -> Config:
    """The config of worker `i` (1-based) of `cfg.cluster`; raises ValueError when there
    is no such worker."""
    cl = cfg.cluster
    if cl is None:
        raise ValueError("no cluster section in the config")
    if not 1 <= i <= cl.workers:
        raise ValueError(f"worker {i}: the cluster has workers 1..{cl.workers}")
    name = worker_name(i)
    address = cl.worker_address(i)
    sip = replace(cfg.sip, listen=HostPort(address, cfg.sip.listen.port))
    http = replace(cfg.http, listen=HostPort(address, cfg.http.listen.port)) \
        if cfg.http is not None else None
    storage = replace(cfg.storage, dir=str(Path(cfg.storage.dir) / name))
    trunks = cfg.trunks
    if i != REGISTERING_WORKER:
        trunks = {n: replace(t, register=replace(t.register, enabled=False))
                  if t.register.enabled else t for n, t in cfg.trunks.items()}
    return replace(cfg, sip=sip, http=http, storage=storage, trunks=trunks,
                   cluster=replace(cl, worker=name))


def front_of(cfg: Config) -> HostPort | None:
    """The front's address when this process is a cluster worker, else None."""
    cl = cfg.cluster
    return cl.front if cl is not None and cl.worker is not None else None


def original_source(packet_source: str, header: str | None, front: HostPort | None) -> str:
    """The source a call is judged by (see the module doc). A malformed header from the
    front leaves the front's own address: no trunk's, so refused as a stranger's."""
    if front is None or header is None or not _same_ip(packet_source, front.host):
        return packet_source
    text = header.strip()
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return packet_source


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return False
