"""Recorded-speech helpers for real-peer agent tests: espeak-ng speech written as
G.711 RTP pcaps (vio_sbc.rtp.pcap) and SIPp scenarios that replay them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vio_sbc.agent.tts import EspeakTts
from vio_sbc.rtp.pcap import write_rtp_pcap

RATE = 8000
CALLER_VOICE = "en-us+m3"

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "QA" <sip:+14155559999@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:qa@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=qa 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
      a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "QA" <sip:+14155559999@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:qa@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_CALLER_BYE = """  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "QA" <sip:+14155559999@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:qa@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""

_AGENT_BYE = """  <recv request="BYE" timeout="{timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


def speech(text: str) -> np.ndarray:
    pcm = EspeakTts().render(text, RATE, CALLER_VOICE)
    return np.frombuffer(pcm, dtype="<i2")


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def make_pcap(path: Path, *parts: str | int) -> Path:
    """A PCMU pcap of the parts in order: text is spoken, an int is silence in ms."""
    audio = np.concatenate([silence(p) if isinstance(p, int) else speech(p) for p in parts])
    write_rtp_pcap(audio, RATE, "PCMU", path)
    return path


def scenario(path: Path, plays: list[tuple[str, int]], *, end: str,
             timeout_ms: int = 30000) -> Path:
    """Play each pcap then pause its ms; end with the caller's BYE ("caller") or by
    waiting for the server's BYE ("agent", answered 200)."""
    body = _HEAD.format(name=path.stem)
    for pcap, pause in plays:
        body += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        body += f'  <pause milliseconds="{pause}"/>\n'
    body += _CALLER_BYE if end == "caller" else _AGENT_BYE.format(timeout_ms=timeout_ms)
    path.write_text(body)
    return path
