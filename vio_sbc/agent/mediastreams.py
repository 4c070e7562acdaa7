"""Twilio Media Streams messages <-> frames. Pure: no sockets, no threads.

We play Twilio's part: to the agent server we send `connected`, `start`,
`media` (caller audio, base64 8 kHz μ-law), `dtmf`, `mark` (a mark the server
sent has been played) and `stop`; from it we take `media` (audio for the
caller), `clear` (flush what is queued) and `mark` (tell me when the audio
before this has played). Field names and string-typed counters follow Twilio's
documentation, so servers written for Twilio (Pipecat's Twilio serializer
among them) work unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vio_sbc.agent.audio import resample
from vio_sbc.agent.frames import FRAME_MS, Frame, Interrupt, OutputAudio, PlayoutMark
from vio_sbc.errors import VioError
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

STREAM_RATE = 8000
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": STREAM_RATE, "channels": 1}


class MediaStreamsError(VioError):
    """A message from the agent server that is not a valid Media Streams message."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)
    tracks: tuple[str, ...] = ("inbound",)


class Encoder:
    """Builds the messages we send, numbering them as Twilio does: `sequenceNumber`
    counts every message after `connected` from "1"; `media.chunk` counts media."""

    def __init__(self, info: StreamInfo, sample_rate: int) -> None:
        self.info = info
        self.sample_rate = sample_rate
        self._seq = 0
        self._chunk = 0

    def _msg(self, event: str, **body: Any) -> str:
        self._seq += 1
        msg: dict[str, Any] = {"event": event, "sequenceNumber": str(self._seq)}
        msg.update(body)
        msg["streamSid"] = self.info.stream_sid
        return json.dumps(msg, separators=(",", ":"))

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self) -> str:
        i = self.info
        return self._msg("start", start={
            "streamSid": i.stream_sid, "accountSid": i.account_sid, "callSid": i.call_sid,
            "tracks": list(i.tracks), "customParameters": dict(i.custom_parameters),
            "mediaFormat": dict(MEDIA_FORMAT),
        })

    def media(self, pcm: bytes, t_ms: int) -> str:
        """Caller audio (16-bit PCM at the call's rate), `t_ms` from the stream start."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if self.sample_rate != STREAM_RATE:
            samples = resample(samples, self.sample_rate, STREAM_RATE)
        self._chunk += 1
        payload = base64.b64encode(ulaw_encode(samples)).decode("ascii")
        return self._msg("media", media={
            "track": "inbound", "chunk": str(self._chunk), "timestamp": str(t_ms),
            "payload": payload,
        })

    def dtmf(self, digit: str) -> str:
        return self._msg("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    def mark(self, name: str) -> str:
        return self._msg("mark", mark={"name": name})

    def stop(self) -> str:
        return self._msg("stop", stop={"accountSid": self.info.account_sid,
                                       "callSid": self.info.call_sid})


class StreamClock:
    """The call's time now (ms from its answer, the clock of `InputAudio.t_ms`) as seen
    from the WebSocket side: the end of the latest caller frame handed over plus the
    time since; before any, the time since the stream was opened."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._last = (0, now())  # (t_ms at the end of the latest frame, when it came)

    def saw(self, t_ms: int) -> None:
        """A caller frame starting at `t_ms` was handed over now."""
        self._last = (t_ms + FRAME_MS, self._now())

    def t_ms(self) -> int:
        t_ms, at = self._last
        return t_ms + max(0, round((self._now() - at) * 1000))


def _field(msg: dict[str, Any], event: str, key: str, sub: str) -> str:
    body = msg.get(key)
    if not isinstance(body, dict):
        raise MediaStreamsError(f"{event} message without a '{key}' object")
    value = body.get(sub)
    if not isinstance(value, str):
        raise MediaStreamsError(f"{event} message without a string '{key}.{sub}'")
    return value


def parse(data: str | bytes, sample_rate: int, *, t_ms: int) -> Frame | None:
    """One message from the agent server -> the frame it asks for (None: nothing to do).

    media -> OutputAudio at `sample_rate`, clear -> Interrupt at `t_ms` (the call's
    time when the message arrived, from its answer), mark -> PlayoutMark.
    Other events (Twilio defines none we act on) are ignored; malformed messages
    raise MediaStreamsError.
    """
    if isinstance(data, bytes):
        raise MediaStreamsError("binary message: Media Streams messages are JSON text")
    try:
        msg = json.loads(data)
    except ValueError as exc:
        raise MediaStreamsError(f"message is not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise MediaStreamsError("message is not a JSON object")
    event = msg.get("event")
    if not isinstance(event, str):
        raise MediaStreamsError("message without a string 'event'")
    if event == "media":
        raw = _field(msg, event, "media", "payload")
        try:
            ulaw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise MediaStreamsError("media message with a payload that is not base64") from None
        samples = ulaw_decode(ulaw)
        if sample_rate != STREAM_RATE:
            samples = resample(samples, STREAM_RATE, sample_rate)
        return OutputAudio(pcm=samples.astype("<i2").tobytes(), sample_rate=sample_rate)
    if event == "clear":
        return Interrupt(t_ms=t_ms)
    if event == "mark":
        return PlayoutMark(_field(msg, event, "mark", "name"))
    return None
