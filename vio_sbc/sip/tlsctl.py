"""The TLS listener on pjsua2: its certificate, its reload, and what failed TLS checks said.

The server runs on private copies of `sip.tls`'s files (`<storage.dir>/tls/`, 0600),
made only from files the config load checked (vio_sbc/config/tls.py): a later bad file
at the configured path never reaches a handshake. A reload whose files differ in
content (a renewed certificate at the same path, or new paths) copies them and replaces
the listener: `transportClose` stops the old one accepting (its connections and calls
live on), `transportCreate` listens again on the same port with the new files. A reload
whose files are bad never gets here: the load fails, the old config and certificate stay.

A trunk with `outbound.verify_server: false` (while `sip.tls.verify_peer` is on) sends
through a second, client-only TLS transport that does not check the server (bound to
its account by trunkside.py). pjsip reports a failed certificate check of a server we
connected to as a transport state change: `on_transport_state` keeps the last one per
remote address, so an outbound call that failed on it can name the check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import pjsua2 as pj
import structlog

from vio_sbc.config.model import CertInfo, Config, TlsSettings
from vio_sbc.fileperm import private_dir, private_file
from vio_sbc.ops.metrics import Metrics
from vio_sbc.sip.endpoint import StartupError
from vio_sbc.sip.message import source_ip

log = structlog.get_logger("vio_sbc.tls")

PROTO = {"1.2": pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3,
         "1.3": pj.PJ_SSL_SOCK_PROTO_TLS1_3}
FAILURE_TTL_S = 60.0
_VERIFY_FLAGS = (
    (pj.PJ_SSL_CERT_EUNTRUSTED, "not signed by a trusted CA"),
    (pj.PJ_SSL_CERT_EISSUER_NOT_FOUND, "issuer not found"),
    (pj.PJ_SSL_CERT_EIDENTITY_NOT_MATCH, "name does not match the host"),
    (pj.PJ_SSL_CERT_EVALIDITY_PERIOD, "expired or not yet valid"),
    (pj.PJ_SSL_CERT_EREVOKED, "revoked"),
    (pj.PJ_SSL_CERT_EINVALID_PURPOSE, "not for TLS servers"),
    (pj.PJ_SSL_CERT_EISSUER_MISMATCH, "issuer mismatch"),
)


def verify_reason(status: int, messages: list[str]) -> str:
    """A certificate check's failure in words: `TLS certificate check failed: ...`."""
    what = [text for flag, text in _VERIFY_FLAGS if status & flag]
    detail = "; ".join(what or messages or [f"status {status:#x}"])
    return f"TLS certificate check failed: {detail}"


def _digest(paths: list[str | None]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(b"\0" if path is None else Path(path).read_bytes())
    return h.hexdigest()


class TlsControl:
    """Owned by the Softswitch (main thread). `start()` after libInit, `reload()` when a
    validated config is applied, `shutdown()` never needed (libDestroy closes)."""

    def __init__(self) -> None:
        self.listener_id: int | None = None
        self.noverify_id: int | None = None
        self.cert: CertInfo | None = None
        self.digest = ""
        self.generation = 0
        self.failures: dict[str, tuple[float, str]] = {}  # remote ip -> (when, reason)
        self._cfg: Config | None = None

    @property
    def on(self) -> bool:
        return self.listener_id is not None

    def start(self, ep: Any, cfg: Config, metrics: Metrics) -> None:
        """The TLS listener(s) and the expiry gauge; on failure the endpoint is destroyed
        and StartupError raised."""
        metrics.gauge_fn("vio_tls_certificate_expiry_timestamp_seconds",
                         "notAfter of the TLS server certificate in use (0: no TLS)",
                         self.expiry)
        try:
            self._start(ep, cfg)
        except pj.Error as exc:
            ep.libDestroy()
            raise StartupError(f"cannot listen on tls {cfg.sip.listen.host}:"
                               f"{cfg.sip.tls.port}: {exc.info()}") from exc

    def _start(self, ep: Any, cfg: Config) -> None:
        self._cfg = cfg
        if "tls" not in cfg.sip.transports:
            return
        self.listener_id = self._listen(ep, cfg, cfg.sip.tls)
        if cfg.sip.tls.verify_peer and any(
                t.outbound is not None and t.outbound.transport == "tls"
                and not t.outbound.verify_server for t in cfg.trunks.values()):
            tc = self._transport_config(cfg, cfg.sip.tls, None)
            tc.port = 0
            tc.tlsConfig.verifyServer = False
            self.noverify_id = int(ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tc))

    def _copies(self, cfg: Config, tls: TlsSettings) -> dict[str, str | None]:
        """Private copies of the (validated) files, one set per generation."""
        self.generation += 1
        folder = private_dir(Path(cfg.storage.dir) / "tls")
        out: dict[str, str | None] = {}
        for key, src in (("cert", tls.cert_file), ("key", tls.key_file),
                         ("ca", tls.ca_path)):
            if src is None:
                out[key] = None
                continue
            dst = private_file(folder / f"{key}-{self.generation}.pem")  # 0600 before data
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            out[key] = str(dst)
        for old in folder.glob("*.pem"):  # the generation before stays for open handshakes
            gen = old.stem.rsplit("-", 1)[-1]
            if gen.isdigit() and int(gen) < self.generation - 1:
                old.unlink(missing_ok=True)
        return out

    def _transport_config(self, cfg: Config, tls: TlsSettings,
                          files: dict[str, str | None] | None) -> Any:
        tc = pj.TransportConfig()
        tc.port = tls.port
        tc.boundAddress = cfg.sip.listen.host
        if cfg.sip.public_address:
            tc.publicAddress = cfg.sip.public_address
        t = tc.tlsConfig
        if files is not None:
            t.certFile = files["cert"] or ""
            t.privKeyFile = files["key"] or ""
            t.CaListFile = files["ca"] or ""
        elif tls.ca_path:
            t.CaListFile = tls.ca_path
        t.proto = PROTO[tls.min_version]
        t.verifyServer = tls.verify_peer
        t.verifyClient = False
        t.requireClientCert = False
        t.msecTimeout = 10000  # handshake
        return tc

    def _listen(self, ep: Any, cfg: Config, tls: TlsSettings) -> int:
        files = self._copies(cfg, tls)
        tc = self._transport_config(cfg, tls, files)
        tid = int(ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tc))
        self.cert = tls.cert
        self.digest = _digest([tls.cert_file, tls.key_file, tls.ca_path])
        log.info("tls_listening", port=tls.port, certificate=tls.cert.subject if tls.cert else None,
                 expires=tls.cert.not_after if tls.cert else None, min_version=tls.min_version,
                 verify_peer=tls.verify_peer)
        return tid

    def reload(self, ep: Any, cfg: Config) -> bool:
        """Install `cfg.sip.tls`'s files if their content changed (they passed the load's
        checks); True when the listener was replaced. On failure the old one stays."""
        tls = cfg.sip.tls
        if self.listener_id is None or tls.cert_file is None:
            return False
        if _digest([tls.cert_file, tls.key_file, tls.ca_path]) == self.digest:
            return False
        old = self.listener_id
        try:
            ep.transportClose(old)
        except pj.Error as exc:
            log.error("tls_reload_failed", step="close", error=exc.info())
            return False
        try:
            self.listener_id = self._listen(ep, cfg, tls)
        except pj.Error as exc:  # e.g. the port: listen again with the running files
            log.error("tls_reload_failed", step="listen", error=exc.info())
            assert self._cfg is not None
            self.listener_id = self._listen(ep, self._cfg, self._cfg.sip.tls)
            return False
        self._cfg = cfg
        log.info("tls_certificate_reloaded", certificate=tls.cert.subject if tls.cert else None,
                 expires=tls.cert.not_after if tls.cert else None)
        return True

    def reload_from(self, ep: Any, old: Config, new: Config) -> bool:
        """A reload from `old` to `new`: `new`'s tls files installed when they changed
        (the rest of sip and storage stay as running: they need a restart)."""
        sip = dataclasses.replace(old.sip, tls=new.sip.tls)
        return self.reload(ep, dataclasses.replace(new, sip=sip, storage=old.storage))

    # -- failed checks ---------------------------------------------------------------
    def on_transport_state(self, prm: Any) -> None:
        """Endpoint.onTransportState: keep a failed certificate check of a server."""
        info = prm.tlsInfo
        if info is None or info.isEmpty() or not int(info.verifyStatus):
            return
        remote = source_ip(str(info.remoteAddr))
        reason = verify_reason(int(info.verifyStatus), [str(m) for m in info.verifyMsgs])
        self.failures[remote] = (time.monotonic(), reason)
        log.warning("tls_verify_failed", remote=str(info.remoteAddr), reason=reason)

    def failure_for(self, ip: str) -> str | None:
        found = self.failures.get(ip)
        if found is None or time.monotonic() - found[0] > FAILURE_TTL_S:
            return None
        return found[1]

    def expiry(self) -> float:
        """The certificate's notAfter (Unix time; 0 without TLS), for /metrics."""
        return self.cert.not_after if self.cert is not None and self.on else 0.0

    def status(self) -> dict[str, object] | None:
        if self.cert is None or not self.on:
            return None
        return {"subject": self.cert.subject, "issuer": self.cert.issuer,
                "not_after": self.cert.not_after, "names": list(self.cert.names),
                "days_left": round((self.cert.not_after - time.time()) / 86400, 1)}

