"""TLS signalling and SRTP media against a real peer (Debian's baresip) on loopback, with
certificates made for the test by a throwaway CA (tests/tlscerts.py):

* inbound: baresip calls over TLS with an SRTP-only offer; the agent hears the caller
  and the caller hears the agent; the row says `tls` and the suite;
* `media.srtp: mandatory` refuses baresip's plain offer with 488 (a refused row);
* outbound: the server calls baresip as a TLS UAS, SRTP both ways, audio both ways;
* a UAS whose certificate our CA did not sign, or ours for another address: the call
  fails (outcome `failed`, the reason naming the check); `verify_server: false` takes it;
* the SIP guard answers over TLS as over UDP/TCP (200 to a trunk, 403 to a stranger);
* certificate reload: a key that is not the certificate's keeps the running one; a new
  good certificate is served to the next connection; status and /metrics show expiry;
  a call up over TLS lives on across the reload and ends normally.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.baresip import Baresip, speech_wav
from tests.integration.conftest import Server, free_port, metric, start_server, wait_rejected
from tests.tlscerts import Cert, make_ca, make_cert

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

UAS_IP = "127.0.0.3"
SPEECH = "Hello, I would like to book a table for two people tomorrow evening, please."

CONFIG = """
sip:
  listen: 127.0.0.1:{port}
  transports: [udp, tcp, tls]
  tls:
    port: TLS_PORT
    cert_file: CERT
    key_file: KEY
    ca_file: CA
rtp:
  ports: {rtp_min}-{rtp_max}
storage:
  dir: {dir}
http:
  listen: 127.0.0.1:HTTP_PORT
workspace:
  default_agent: receptionist
agents:
  receptionist:
    kind: scripted
    greeting: "Thanks for calling. How can I help you today?"
trunks:
  pbx:
    kind: byoc
    inbound:
      allow: [127.0.0.1/32, {trunk_ip}/32]
    media:
      srtp: mandatory
  uas:
    kind: byoc
    inbound:
      allow: [UAS_IP/32]
    outbound:
      host: UAS_IP
      port: UAS_PORT
      transport: tls
      verify_server: VERIFY
      cps: 5
      options_interval_s: 0
    media:
      srtp: mandatory
numbers:
  "+14155550100":
    trunk: pbx
  "+14155550130":
    trunk: uas
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cert]:
    d = tmp_path_factory.mktemp("pki")
    ca, rogue = make_ca(d, "ca"), make_ca(d, "rogue-ca")
    return {"ca": ca,
            "server": make_cert(d, "server", ca, dns=("localhost",), ips=("127.0.0.1",)),
            "server2": make_cert(d, "server2", ca, dns=("vio.example.test",),
                                 ips=("127.0.0.1",), days=9),
            "uas": make_cert(d, "uas", ca, ips=(UAS_IP,)),
            "rogue": make_cert(d, "rogue", rogue, ips=(UAS_IP,)),
            "elsewhere": make_cert(d, "elsewhere", ca, ips=("127.0.0.5",))}


def combined(cert: Cert, where: Path) -> Path:
    """baresip's sip_certificate: certificate and key in one PEM file."""
    where.write_text(cert.cert.read_text() + cert.key.read_text())
    return where


def server_with(tmp: Path, pki: dict[str, Cert], uas_port: int = 9,
                verify: bool = True) -> tuple[Server, int, str]:
    tls_port, http_port = free_port(), free_port()
    text = (CONFIG.replace("TLS_PORT", str(tls_port)).replace("HTTP_PORT", str(http_port))
            .replace("CERT", str(pki["server"].cert)).replace("KEY", str(pki["server"].key))
            .replace("CA", str(pki["ca"].cert)).replace("UAS_IP", UAS_IP)
            .replace("UAS_PORT", str(uas_port)).replace("VERIFY", str(verify).lower()))
    srv = start_server(tmp, text)
    return srv, tls_port, f"http://127.0.0.1:{http_port}/metrics"


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    return speech_wav(tmp_path / "caller.wav", SPEECH)


def cli(srv: Server, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vio_sbc.cli", *args, "-c", str(srv.config)],
                          capture_output=True, text=True, timeout=timeout, cwd=srv.config.parent)


def last_row(srv: Server, direction: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        with srv.db() as c:
            row = c.execute("SELECT * FROM calls WHERE direction = ? ORDER BY received_at DESC",
                            (direction,)).fetchone()
        if row is not None and row["ended_at"] is not None:
            return dict(row)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no final {direction} row: {dict(row) if row else None}")
        time.sleep(0.1)


@pytest.fixture
def stopper() -> Iterator[list[Baresip | Server]]:
    started: list[Baresip | Server] = []
    yield started
    for proc in reversed(started):
        proc.stop()


def test_inbound_tls_srtp_call_with_audio_both_ways(tmp_path: Path, pki: dict[str, Cert],
                                                    speech: Path, stopper: list) -> None:
    srv, tls_port, url = server_with(tmp_path, pki)
    stopper.append(srv)
    caller = Baresip(tmp_path / "caller", "127.0.0.2", ca=pki["ca"].cert, audio=speech,
                     account="<sip:caller@127.0.0.2;transport=tls>;regint=0;"
                             "mediaenc=srtp-mand;audio_codecs=PCMU",
                     cert=combined(pki["uas"], tmp_path / "caller.pem"),
                     commands=(f"/dial sip:+14155550100@127.0.0.1:{tls_port}",), run_s=9)
    stopper.append(caller.start())
    caller.wait_log(r"SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_80\)", 20)
    caller.wait_log(r"Call established", 10)
    assert caller.wait_exit(30) == 0
    row = last_row(srv, "inbound")
    assert (row["transport"], row["srtp"], row["status"]) == ("tls", "AES_CM_128_HMAC_SHA1_80",
                                                            "ended")
    assert row["final_status"] == 200 and row["hangup_side"] == "caller"
    assert int(row["rx_voiced_frames"] or 0) > 25, row  # the agent heard the caller
    assert caller.heard() > 25, caller.log()[-800:]       # the caller heard the agent
    received = srv.wait_event("call_received", transport="tls")
    assert received["srtp"] == "AES_CM_128_HMAC_SHA1_80" and received["trunk"] == "pbx"
    assert metric(url, "vio_tls_certificate_expiry_timestamp_seconds") == pytest.approx(
        pki_not_after(pki["server"]), abs=1)


def pki_not_after(cert: Cert) -> float:
    from vio_sbc.config.tls import cert_info

    return cert_info(str(cert.cert)).not_after


def test_mandatory_refuses_a_plain_offer_with_488(tmp_path: Path, pki: dict[str, Cert],
                                                  speech: Path, stopper: list) -> None:
    srv, tls_port, url = server_with(tmp_path, pki)
    stopper.append(srv)
    caller = Baresip(tmp_path / "plain", "127.0.0.2", ca=pki["ca"].cert, audio=speech,
                     account="<sip:caller@127.0.0.2;transport=tls>;regint=0;audio_codecs=PCMU",
                     commands=(f"/dial sip:+14155550100@127.0.0.1:{tls_port}",), run_s=6)
    stopper.append(caller.start())
    caller.wait_log(r"488 Not Acceptable Here", 20)
    row = last_row(srv, "inbound")
    assert (row["status"], row["final_status"], row["transport"]) == ("refused", 488, "tls")
    assert row["srtp"] is None
    refused = srv.wait_event("call_refused", status=488)
    assert refused["detail"] == "plain RTP offer but media.srtp is mandatory on trunk pbx"
    assert metric(url, "vio_rejected_requests_total", reason="srtp_required") == 1


def test_outbound_tls_srtp_call_to_baresip(tmp_path: Path, pki: dict[str, Cert],
                                           speech: Path, stopper: list) -> None:
    uas = Baresip(tmp_path / "uas", UAS_IP, ca=pki["ca"].cert, audio=speech,
                  account=f"<sip:+14155559000@{UAS_IP};transport=tls>;regint=0;"
                          "mediaenc=srtp-mand;audio_codecs=PCMU;answermode=auto",
                  cert=combined(pki["uas"], tmp_path / "uas.pem"), run_s=12)
    stopper.append(uas.start())
    srv, _, _ = server_with(tmp_path, pki, uas.tls_port)
    stopper.append(srv)
    out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ": answered (200 " in out.stdout, out.stdout + uas.log()[-800:]
    uas.wait_log(r"SRTP is Enabled", 5)
    row = last_row(srv, "outbound")
    assert (row["transport"], row["srtp"], row["status"]) == ("tls", "AES_CM_128_HMAC_SHA1_80",
                                                            "ended")
    assert int(row["rx_voiced_frames"] or 0) > 25, row   # the agent heard the callee
    assert int(row["tx_audio_frames"] or 0) > 25, row
    assert uas.heard() > 25, uas.log()[-800:]             # the callee heard the agent


@pytest.mark.parametrize(("cert", "why"), [
    ("rogue", "not signed by a trusted CA"),
    ("elsewhere", "name does not match the host"),
])
def test_a_wrong_certificate_fails_the_call(tmp_path: Path, pki: dict[str, Cert], speech: Path,
                                            stopper: list, cert: str, why: str) -> None:
    """Another CA's certificate, or ours for another address: no INVITE reaches the UAS."""
    uas = Baresip(tmp_path / "wrong", UAS_IP, ca=pki["ca"].cert, audio=speech,
                  account=f"<sip:+14155559000@{UAS_IP};transport=tls>;regint=0;"
                          "mediaenc=srtp-mand;audio_codecs=PCMU;answermode=auto",
                  cert=combined(pki[cert], tmp_path / "wrong.pem"), run_s=12)
    stopper.append(uas.start())
    srv, _, _ = server_with(tmp_path, pki, uas.tls_port)
    stopper.append(srv)
    out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
    reason = f"TLS certificate check failed: {why}"
    assert f": failed (503 {reason})" in out.stdout, out.stdout + out.stderr
    row = last_row(srv, "outbound")
    assert (row["status"], row["final_status"], row["final_reason"]) == ("failed", 503, reason)
    assert "answering call" not in uas.log()  # never reached the UAS's INVITE handling
    result = srv.wait_event("outbound_result", outcome="failed")
    assert result["reason"] == reason


def test_verify_server_false_takes_any_certificate(tmp_path: Path, pki: dict[str, Cert],
                                                  speech: Path, stopper: list) -> None:
    uas = Baresip(tmp_path / "lenient", UAS_IP, ca=pki["ca"].cert, audio=speech,
                  account=f"<sip:+14155559000@{UAS_IP};transport=tls>;regint=0;"
                          "mediaenc=srtp-mand;audio_codecs=PCMU;answermode=auto",
                  cert=combined(pki["rogue"], tmp_path / "rogue.pem"), run_s=10)
    stopper.append(uas.start())
    srv, _, _ = server_with(tmp_path, pki, uas.tls_port, verify=False)
    stopper.append(srv)
    out = cli(srv, "call-out", "--from", "+14155550130", "--to", "+14155559000")
    assert ": answered (200 " in out.stdout, out.stdout + out.stderr + uas.log()[-600:]
    assert last_row(srv, "outbound")["srtp"] == "AES_CM_128_HMAC_SHA1_80"


def options_over_tls(port: int, ca: Path, source: str) -> str:
    """One OPTIONS over a TLS connection from `source`; the first line of the answer."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(source, 0)) as raw, \
            ctx.wrap_socket(raw) as tls:
        local = f"{source}:{tls.getsockname()[1]}"
        tls.sendall((f"OPTIONS sip:127.0.0.1:{port};transport=tls SIP/2.0\r\n"
                     f"Via: SIP/2.0/TLS {local};branch=z9hG4bK-{time.time_ns()}\r\n"
                     f"From: <sip:probe@{source}>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                     f"Call-ID: probe-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\n"
                     "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_the_sip_guard_answers_over_tls(tmp_path: Path, pki: dict[str, Cert],
                                        stopper: list) -> None:
    srv, tls_port, url = server_with(tmp_path, pki)
    stopper.append(srv)
    assert options_over_tls(tls_port, pki["ca"].cert, "127.0.0.2") == "SIP/2.0 200 OK"
    assert options_over_tls(tls_port, pki["ca"].cert, "127.0.0.9") == "SIP/2.0 403 Forbidden"
    assert wait_rejected(url, "stranger", 1) >= 1


def served_certificate(port: int, ca: Path) -> dict[str, object]:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw) as tls:
        peer = tls.getpeercert()
    assert peer is not None
    return dict(peer)


def test_certificate_reload_keeps_the_running_one_on_a_bad_file(
        tmp_path: Path, pki: dict[str, Cert], stopper: list) -> None:
    srv, tls_port, url = server_with(tmp_path, pki)
    stopper.append(srv)
    first = served_certificate(tls_port, pki["ca"].cert)
    assert first["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    original = srv.config.read_text()
    # the key of another certificate: the reload fails, the running certificate stays
    srv.config.write_text(original.replace(str(pki["server"].key), str(pki["uas"].key)))
    bad = cli(srv, "reload")
    assert bad.returncode == 2
    assert "sip.tls.key_file: the key in" in bad.stdout + bad.stderr
    assert f"{srv.config}:8: sip.tls.key_file:" in bad.stderr  # FILE:LINE
    assert served_certificate(tls_port, pki["ca"].cert)["serialNumber"] == first["serialNumber"]
    # a renewed certificate: installed for the next connection, no restart
    srv.config.write_text(original.replace(str(pki["server"].cert), str(pki["server2"].cert))
                          .replace(str(pki["server"].key), str(pki["server2"].key)))
    good = cli(srv, "reload")
    assert good.returncode == 0, good.stdout + good.stderr
    srv.wait_event("tls_certificate_reloaded")
    second = served_certificate(tls_port, pki["ca"].cert)
    assert second["serialNumber"] != first["serialNumber"]
    assert ("DNS", "vio.example.test") in second["subjectAltName"]  # type: ignore[operator]
    assert metric(url, "vio_tls_certificate_expiry_timestamp_seconds") == pytest.approx(
        pki_not_after(pki["server2"]), abs=1)
    status = cli(srv, "status", "--json")
    assert status.returncode == 0, status.stderr
    tls = json.loads(status.stdout)["tls"]
    assert tls["subject"] == "CN=vio.example.test" and 8 < tls["days_left"] <= 9
    text = cli(srv, "status")
    assert "tls certificate: CN=vio.example.test (issuer CN=vio test ca), expires " in text.stdout


def test_a_call_up_over_tls_survives_a_certificate_reload(
        tmp_path: Path, pki: dict[str, Cert], speech: Path, stopper: list) -> None:
    srv, tls_port, _ = server_with(tmp_path, pki)
    stopper.append(srv)
    caller = Baresip(tmp_path / "caller", "127.0.0.2", ca=pki["ca"].cert, audio=speech,
                     account="<sip:caller@127.0.0.2;transport=tls>;regint=0;"
                             "mediaenc=srtp-mand;audio_codecs=PCMU",
                     cert=combined(pki["uas"], tmp_path / "caller.pem"),
                     commands=(f"/dial sip:+14155550100@127.0.0.1:{tls_port}",), run_s=12)
    stopper.append(caller.start())
    caller.wait_log(r"Call established", 20)
    original = srv.config.read_text()
    srv.config.write_text(original.replace(str(pki["server"].cert), str(pki["server2"].cert))
                          .replace(str(pki["server"].key), str(pki["server2"].key)))
    assert cli(srv, "reload").returncode == 0
    srv.wait_event("tls_certificate_reloaded")
    assert caller.wait_exit(30) == 0  # hangs up at -t: its BYE on the call's connection
    row = last_row(srv, "inbound")
    assert (row["status"], row["final_status"], row["hangup_side"]) == ("ended", 200, "caller")
    assert float(row["duration_s"] or 0) > 8 and int(row["rx_voiced_frames"] or 0) > 25
    assert caller.heard() > 25
