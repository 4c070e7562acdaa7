"""Throwaway certificates for tests, made with the `openssl` command line: a CA, and
leaf certificates it signs (or self-signed ones) with the names and lifetime asked."""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str = "ca") -> Cert:
    """A self-signed CA (EC P-256, ten days)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "10",
         "-subj", f"/CN=vio test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    return Cert(cert, key)


def make_cert(directory: Path, name: str, ca: Cert | None, *, dns: tuple[str, ...] = (),
              ips: tuple[str, ...] = (), days: int = 5, expired: bool = False) -> Cert:
    """A leaf certificate for `dns`/`ips` signed by `ca` (self-signed when None).
    `expired`: valid from two days ago to yesterday."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    csr = directory / f"{name}.csr"
    cn = (dns or ips or (name,))[0]
    san = ",".join([*(f"DNS:{d}" for d in dns), *(f"IP:{i}" for i in ips)])
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n" if san else
                   "basicConstraints=CA:FALSE\n")
    _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}", cwd=directory)
    if expired:
        _expired(directory, ca or Cert(cert, key), csr, cert, ext, self_signed=ca is None)
    else:
        signer = ["-CA", str(ca.cert), "-CAkey", str(ca.key)] if ca else ["-key", str(key)]
        _run("x509", "-req", "-in", str(csr), *signer, "-out", str(cert), "-days", str(days),
             "-extfile", str(ext), cwd=directory)
    key.chmod(0o600)
    return Cert(cert, key)


def _expired(directory: Path, ca: Cert, csr: Path, out: Path, ext: Path, *,
             self_signed: bool) -> None:
    """Sign with `openssl ca`, which takes explicit dates (two days ago to yesterday)."""
    now = dt.datetime.now(dt.UTC)
    fmt = "%Y%m%d%H%M%SZ"
    db = directory / "ca-db"
    db.mkdir(exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    conf = directory / "ca.cnf"
    conf.write_text(f"""[ca]
default_ca = test
[test]
dir = {db}
database = {db}/index.txt
serial = {db}/serial
new_certs_dir = {db}
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
""")
    _run("ca", "-batch", "-config", str(conf), "-in", str(csr), "-out", str(out),
         "-cert", str(ca.cert), "-keyfile", str(ca.key), *(["-selfsign"] if self_signed else []),
         "-startdate", (now - dt.timedelta(days=2)).strftime(fmt),
         "-enddate", (now - dt.timedelta(days=1)).strftime(fmt),
         "-extfile", str(ext), "-notext", cwd=directory)
