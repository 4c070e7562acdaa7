"""Message limits and offers against the real server (raw sockets on 127.0.0.x):
what we offer when pjsua writes the offer itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import TRUNK_IP, Server, start_server
from tests.integration.dialog_peer import RawCall

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("limits"))
    try:
        yield server
    finally:
        assert server.stop() == 0, server.raw[-20:]


def test_delayed_offer_200_offers_audio_only(srv: Server) -> None:
    """An INVITE without SDP: our 200 carries the offer, with one m=audio line and no
    m=text (pjsua's default call setting also offers real-time text)."""
    call = RawCall(srv.port, TRUNK_IP)
    try:
        answer = call.start(offer=False)
        body = answer.text.split("\r\n\r\n", 1)[1]
        media = [ln for ln in body.split("\r\n") if ln.startswith("m=")]
        assert len(media) == 1 and media[0].startswith("m=audio "), body
        call.wait_rtp(10, 0.0)  # our answer in the ACK was taken: audio flows
        assert [r.status for r in call.bye()] == [200]
    finally:
        call.close()
