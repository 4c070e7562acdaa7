"""`sip.tls`: the certificate, key and trust of the TLS listener (docs/config.md).

The files are checked when the config is read (start, `vio-sbc check`, a reload):
each missing or unreadable file, a certificate that does not parse or has expired,
a key that is not the certificate's, a CA bundle that does not load is an error at
the key that names it (FILE:LINE: sip.tls.cert_file: ...). A certificate expiring
within `EXPIRY_WARN_DAYS` is a warning. The server installs only files that passed
(a reload with a bad file keeps the running certificate: vio_sbc/sip/tlsctl.py).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from vio_sbc.config.fields import read, setting
from vio_sbc.config.nodes import (
    Issues,
    Item,
    Reported,
    boolean,
    choice,
    integer,
    nullable,
    string,
)

EXPIRY_WARN_DAYS = 21
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"  # Debian's ca-certificates bundle


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What `status` and /metrics show of the certificate in use."""

    subject: str
    issuer: str
    not_after: float  # Unix time
    names: tuple[str, ...] = ()  # subjectAltName entries (DNS/IP)


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """The TLS listener on `sip.listen`'s address (`tls` in `sip.transports`) and the
    trust used when we connect out to a trunk over TLS."""

    port: int = field(default=5061, metadata=setting(integer(1, 65535)))
    cert_file: str | None = field(default=None, metadata=setting(nullable(string(nonempty=True))))
    key_file: str | None = field(default=None, metadata=setting(nullable(string(nonempty=True))))
    # CA bundle for the peers' certificates (default: the system's)
    ca_file: str | None = field(default=None, metadata=setting(nullable(string(nonempty=True))))
    # verify the certificate of a peer we connect to (its chain and the trunk's host name)
    verify_peer: bool = field(default=True, metadata=setting(boolean))
    min_version: Literal["1.2", "1.3"] = field(default="1.2",
                                               metadata=setting(choice("1.2", "1.3")))
    cert: CertInfo | None = None  # read from cert_file at load (not a key)

    @property
    def ca_path(self) -> str | None:
        """The CA bundle in use: `ca_file`, else the system's when present."""
        if self.ca_file:
            return self.ca_file
        return SYSTEM_CA_FILE if os.path.isfile(SYSTEM_CA_FILE) else None


def _name(parts: Any) -> str:
    """`((('commonName', 'x'),), ...)` -> `CN=x, O=...`."""
    short = {"commonName": "CN", "organizationName": "O", "countryName": "C"}
    return ", ".join(f"{short.get(k, k)}={v}" for rdn in parts for k, v in rdn)


def cert_info(path: str) -> CertInfo:
    """The first certificate of a PEM file; ValueError when it does not parse."""
    decode = ssl._ssl._test_decode_cert  # type: ignore[attr-defined]
    try:
        raw = decode(path)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"not a PEM certificate ({exc})") from None
    not_after = ssl.cert_time_to_seconds(raw["notAfter"])
    names = tuple(v for k, v in raw.get("subjectAltName", ()) if k in ("DNS", "IP Address"))
    return CertInfo(_name(raw.get("subject", ())), _name(raw.get("issuer", ())),
                    float(not_after), names)


def _unreadable(path: str) -> str | None:
    if not os.path.exists(path):
        return f"file {path!r} does not exist"
    if not os.path.isfile(path):
        return f"{path!r} is not a file"
    if not os.access(path, os.R_OK):
        return f"file {path!r} is not readable by this user"
    return None


def _key_problem(cert: str, key: str) -> str | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            return f"the key in {key!r} is not the key of the certificate in {cert!r}"
        return f"cannot load the key {key!r} with its certificate ({exc.reason or exc})"
    except OSError as exc:
        return f"cannot read the key {key!r} ({exc.strerror or exc})"
    return None


def _ca_problem(path: str) -> str | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        return f"{path!r} is not a PEM CA bundle ({exc})"
    return None


def check_files(tls: TlsSettings, items: dict[str, Item], issues: Issues,
                now: float) -> CertInfo | None:
    """Check the files `tls` names (see the module doc); the certificate's facts."""
    info: CertInfo | None = None
    files_ok = True
    for key in ("cert_file", "key_file", "ca_file"):
        path = getattr(tls, key)
        if path is not None and (why := _unreadable(path)) is not None:
            issues.at(items[key], why)
            files_ok = False if key != "ca_file" else files_ok
    if not files_ok or tls.cert_file is None:
        return None
    try:
        info = cert_info(tls.cert_file)
    except ValueError as exc:
        issues.at(items["cert_file"], f"{tls.cert_file!r}: {exc}")
        return None
    left_days = (info.not_after - now) / 86400
    until = dt.datetime.fromtimestamp(info.not_after, dt.UTC).strftime("%Y-%m-%d %H:%M")
    if left_days <= 0:
        issues.at(items["cert_file"], f"the certificate {info.subject} expired on {until} UTC")
    elif left_days < EXPIRY_WARN_DAYS:
        issues.warn(items["cert_file"], f"the certificate {info.subject} expires on {until} "
                    f"UTC ({left_days:.0f} days)")
    if tls.key_file is not None and (why := _key_problem(tls.cert_file, tls.key_file)):
        issues.at(items["key_file"], why)
    if tls.ca_file is not None and "ca_file" in items and os.path.isfile(tls.ca_file) and (
            why := _ca_problem(tls.ca_file)):
        issues.at(items["ca_file"], why)
    return info


def build_tls(item: Item, issues: Issues) -> TlsSettings:
    """The `sip.tls` section: settings, then its files checked against the wall clock."""
    tls, sec = read(TlsSettings, item, issues)
    if tls is None or sec is None:
        raise Reported
    if (tls.cert_file is None) != (tls.key_file is None):
        missing = "key_file" if tls.key_file is None else "cert_file"
        issues.add(item.file, item.key_line, item.path, f"a certificate needs both cert_file "
                   f"and key_file ({missing} is missing)")
        raise Reported
    errors = len(issues.items)
    info = check_files(tls, sec.items, issues, time.time())
    if len(issues.items) != errors:
        raise Reported
    return replace(tls, cert=info)
