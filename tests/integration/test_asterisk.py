"""Opt-in interop with a real Asterisk as the trunk (pytest -m asterisk).

Asterisk runs from a Debian root made by `scripts/asterisk-root.sh DIR` (chroot, same
network namespace), its PJSIP bound to the trunk address 127.0.0.2 on a free port, with
a config of its own (nothing of the root's /etc/asterisk is read). It originates a call
to vio-sbc's number +14155550101 (the receptionist agent) and echoes what it hears for
4 s, then hangs up: our call row says the call was answered, ended by the caller, PCMU,
with the greeting echoed back (voiced frames received); Asterisk saw the call answered.

Skipped unless VIO_ASTERISK_ROOT names such a root (it needs root, network for the
first build and a few minutes). Asterisk's SIP and RTP sockets are bound to 127.0.0.2
(`bind`, `bind_rtp_to_media_address`); what else it opens are two unbound ephemeral UDP
client sockets (its pjproject's resolver), idle: every address here is an IP literal."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import TRUNK_IP, Server, free_port, start_server

pytestmark = [pytest.mark.integration, pytest.mark.asterisk, pytest.mark.timeout(180)]

ROOT = os.environ.get("VIO_ASTERISK_ROOT", "")
if not ROOT or not Path(ROOT, "usr/sbin/asterisk").exists():
    pytest.skip("opt-in: set VIO_ASTERISK_ROOT to a root made by scripts/asterisk-root.sh",
                allow_module_level=True)

NUMBER = "+14155550101"


def asterisk_conf(base: str, sip_port: int, vio_port: int, rtp: int) -> dict[str, str]:
    """File name -> text, for a config directory `base` inside the root."""
    return {
        "asterisk.conf": f"""[directories]
astetcdir => {base}/etc
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => /var/lib/asterisk
astdbdir => {base}/db
astkeydir => {base}/keys
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {base}/spool
astrundir => {base}/run
astlogdir => {base}/log
[options]
verbose = 3
""",
        "modules.conf": """[modules]
autoload = yes
noload => chan_iax2.so
noload => chan_sip.so
noload => res_ari.so
noload => res_http_websocket.so
noload => cdr_csv.so
noload => cel_custom.so
noload => res_resolver_unbound.so
noload => res_stun_monitor.so
noload => res_statsd.so
noload => res_hep.so
noload => res_xmpp.so
noload => chan_motif.so
noload => res_phoneprov.so
noload => res_pjsip_phoneprov_provider.so
""",
        "logger.conf": "[general]\n[logfiles]\nconsole => notice,warning,error\n",
        "rtp.conf": f"[general]\nrtpstart={rtp}\nrtpend={rtp + 19}\n",
        "pjsip.conf": f"""[udp]
type = transport
protocol = udp
bind = {TRUNK_IP}:{sip_port}

[vio]
type = endpoint
transport = udp
context = from-vio
disallow = all
allow = ulaw
aors = vio
direct_media = no
from_user = caller
media_address = {TRUNK_IP}
bind_rtp_to_media_address = yes

[vio]
type = aor
contact = sip:127.0.0.1:{vio_port}

[vio]
type = identify
endpoint = vio
match = 127.0.0.1
""",
        "extensions.conf": """[from-vio]
exten => s,1,Hangup()

[echo4]
exten => s,1,Set(TIMEOUT(absolute)=4)
 same => n,Echo()
""",
    }


@pytest.fixture
def vio(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.raw[-20:]


def test_asterisk_trunk_calls_the_receptionist(vio: Server, tmp_path: Path) -> None:
    base = f"/tmp/vio-asterisk-{os.getpid()}-{time.monotonic_ns()}"
    host_base = Path(ROOT) / base.lstrip("/")
    for sub in ("etc", "db", "keys", "spool", "run", "log"):
        (host_base / sub).mkdir(parents=True, exist_ok=True)
    sip_port = free_port(TRUNK_IP)
    for name, text in asterisk_conf(base, sip_port, vio.port, 44000).items():
        (host_base / "etc" / name).write_text(text)
    conf = f"{base}/etc/asterisk.conf"
    console = (tmp_path / "asterisk.out").open("w")
    ast = subprocess.Popen(["chroot", ROOT, "asterisk", "-f", "-n", "-C", conf],
                           stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def cli(command: str) -> str:
        r = subprocess.run(["chroot", ROOT, "asterisk", "-C", conf, "-rx", command],
                           capture_output=True, text=True, timeout=20)
        return r.stdout + r.stderr

    try:
        deadline = time.monotonic() + 60
        while "fully booted" not in cli("core waitfullybooted") or not re.search(
                r"Endpoint:\s+vio\b", cli("pjsip show endpoints")):  # booted, ours read
            assert ast.poll() is None, (tmp_path / "asterisk.out").read_text()[-3000:]
            assert time.monotonic() < deadline, cli("core show version")
            time.sleep(0.5)
        said = cli(f"channel originate PJSIP/{NUMBER}@vio extension s@echo4")
        try:
            ev = vio.wait_event("call_ended", timeout=60)
        except TimeoutError as exc:
            raise AssertionError(f"originate: {said}\nasterisk: "
                                 f"{(tmp_path / 'asterisk.out').read_text()[-3000:]}") from exc
        row = vio.call_row(ev["sip_call_id"])
    finally:
        if ast.poll() is None:
            cli("core stop now")
            try:
                ast.wait(20)
            except subprocess.TimeoutExpired:
                ast.kill()
                ast.wait(5)
        console.close()
        shutil.rmtree(host_base, ignore_errors=True)
    assert (row["number"], row["trunk"], row["direction"]) == (NUMBER, "pbx", "inbound")
    assert (row["status"], row["hangup_side"], row["codec"]) == ("ended", "caller", "PCMU/8000")
    assert row["answered_at"] is not None
    assert row["rx_voiced_frames"] > 20, dict(row)  # our greeting, echoed back by Asterisk
