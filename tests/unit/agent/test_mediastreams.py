"""The Media Streams serializer, message by message, against Twilio's documented shape."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from vio_sbc.agent.audio import tone
from vio_sbc.agent.frames import Interrupt, OutputAudio, PlayoutMark
from vio_sbc.agent.mediastreams import (
    Encoder,
    MediaStreamsError,
    StreamClock,
    StreamInfo,
    parse,
)
from vio_sbc.rtp.g711 import ulaw_decode, ulaw_encode

INFO = StreamInfo(stream_sid="MZ1", call_sid="CA1", account_sid="AC1",
                  custom_parameters={"from": "sip:a@b", "team": "blue"})


def test_outgoing_messages_have_twilio_shape_and_numbering() -> None:
    enc = Encoder(INFO, 8000)
    assert json.loads(enc.connected()) == {"event": "connected", "protocol": "Call",
                                           "version": "1.0.0"}
    start = json.loads(enc.start())
    assert start == {
        "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1",
                  "tracks": ["inbound"], "customParameters": {"from": "sip:a@b", "team": "blue"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                  "channels": 1}},
    }
    pcm = tone(440, 20, 8000)
    m1, m2 = json.loads(enc.media(pcm, 0)), json.loads(enc.media(pcm, 20))
    assert m1["event"] == "media" and m1["sequenceNumber"] == "2" and m1["streamSid"] == "MZ1"
    assert m1["media"]["track"] == "inbound"
    assert (m1["media"]["chunk"], m1["media"]["timestamp"]) == ("1", "0")
    assert (m2["media"]["chunk"], m2["media"]["timestamp"]) == ("2", "20")
    assert m2["sequenceNumber"] == "3"
    payload = base64.b64decode(m1["media"]["payload"])
    assert payload == ulaw_encode(np.frombuffer(pcm, dtype="<i2")) and len(payload) == 160
    assert json.loads(enc.dtmf("5")) == {"event": "dtmf", "sequenceNumber": "4", "streamSid": "MZ1",
                                         "dtmf": {"track": "inbound_track", "digit": "5"}}
    assert json.loads(enc.mark("m")) == {"event": "mark", "sequenceNumber": "5", "streamSid": "MZ1",
                                         "mark": {"name": "m"}}
    assert json.loads(enc.stop()) == {"event": "stop", "sequenceNumber": "6", "streamSid": "MZ1",
                                      "stop": {"accountSid": "AC1", "callSid": "CA1"}}


def test_media_at_16k_is_sent_as_8k() -> None:
    enc = Encoder(INFO, 16000)
    m = json.loads(enc.media(tone(440, 20, 16000), 0))
    assert len(base64.b64decode(m["media"]["payload"])) == 160


def _server(event: str, **body: object) -> str:
    return json.dumps({"event": event, "streamSid": "MZ1", **body})


def test_server_media_clear_mark() -> None:
    ulaw = ulaw_encode(np.frombuffer(tone(1000, 40, 8000), dtype="<i2"))
    payload = base64.b64encode(ulaw).decode()
    f = parse(_server("media", media={"payload": payload}), 8000, t_ms=0)
    assert isinstance(f, OutputAudio) and f.sample_rate == 8000
    assert f.pcm == ulaw_decode(ulaw).astype("<i2").tobytes()
    f16 = parse(_server("media", media={"payload": payload}), 16000, t_ms=0)
    assert isinstance(f16, OutputAudio) and len(f16.pcm) == 2 * len(f.pcm)
    assert parse(_server("clear"), 8000, t_ms=4120) == Interrupt(t_ms=4120)
    assert parse(_server("mark", mark={"name": "greeting-done"}), 8000, t_ms=0) == PlayoutMark(
        "greeting-done")
    assert parse(_server("something-new"), 8000, t_ms=0) is None


@pytest.mark.parametrize(("data", "message"), [
    (b"\x00", "binary message: Media Streams messages are JSON text"),
    ("{", "message is not JSON: Expecting property name enclosed in double quotes: "
          "line 1 column 2 (char 1)"),
    ("[1]", "message is not a JSON object"),
    ('{"event": 3}', "message without a string 'event'"),
    ('{"event": "media"}', "media message without a 'media' object"),
    ('{"event": "media", "media": {"payload": 5}}',
     "media message without a string 'media.payload'"),
    ('{"event": "media", "media": {"payload": "***"}}',
     "media message with a payload that is not base64"),
    ('{"event": "mark", "mark": {}}', "mark message without a string 'mark.name'"),
])
def test_malformed_server_messages(data: str | bytes, message: str) -> None:
    with pytest.raises(MediaStreamsError) as exc:
        parse(data, 8000, t_ms=0)
    assert str(exc.value) == message


def test_stream_clock_follows_the_caller_frames() -> None:
    now = [100.0]
    clock = StreamClock(lambda: now[0])
    assert clock.t_ms() == 0
    now[0] = 100.25  # no caller audio yet: the time since the stream was opened
    assert clock.t_ms() == 250
    clock.saw(4000)  # the frame 4000-4020 ms was handed over now
    assert clock.t_ms() == 4020
    now[0] = 100.3
    assert clock.t_ms() == 4070
    clock.saw(4020)
    assert clock.t_ms() == 4040
