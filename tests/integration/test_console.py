"""The web console in a real browser against the real server and real SIPp calls.

Debian's chromium, headless, driven by selenium through Debian's chromedriver (nothing
downloads a browser or a driver: both paths are given, selenium's manager is told to
stay offline). The browser logs in with the token; an agent assigned on the Numbers
page answers the next call; a number switched to outbound-only gets the next INVITE
refused with 403; the call's recording loads in the audio element; the Live page
refreshes by itself; the Connect page writes a trunk that Live then shows answering.
Without the token every page and API answers 401. Screenshots go
to $VIO_CONSOLE_SCREENSHOTS (docs/img for docs/console.md) or the test's directory.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    BASE_CONFIG,
    Server,
    free_port,
    run_sipp,
    sip_call_id,
    start_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOKEN = "console-test-token-0123456789"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def get(url: str, token: str | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers={
        **headers, **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, str]]:
    monkeypatch.setenv("VIO_CONSOLE_TOKEN", TOKEN)
    port = free_port()
    text = (BASE_CONFIG.replace('  "+14155550101": {{trunk: pbx, direction: inbound}}',
                                '  # the support line\n'
                                '  "+14155550101": {{trunk: pbx, direction: inbound}}  # DID 1')
            + f"http:\n  listen: 127.0.0.1:{port}\n  console:\n"
            + '    token: "${{VIO_CONSOLE_TOKEN}}"\ninclude: [trunks/*.yaml]\n')
    srv = start_server(tmp_path, text)
    try:
        srv.wait_event("http_listening")
        yield srv, f"http://127.0.0.1:{port}"
    finally:
        rc = srv.stop()
        assert rc == 0, srv.raw[-20:]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} missing (make install installs chromium and chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"  # selenium's manager never downloads anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str, tmp_path: Path) -> None:
    out = Path(os.environ.get("VIO_CONSOLE_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out / f"console-{name}.png"))


def wait_for(cond: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout}s")
        time.sleep(0.1)


def save_number(driver: Any, base: str, number: str, *, direction: str | None = None,
                agent: str | None = None) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(base + "/numbers")
    row = driver.find_element(By.ID, "num-" + number.lstrip("+"))
    if direction is not None:
        Select(row.find_element(By.NAME, "direction")).select_by_value(direction)
    if agent is not None:
        Select(row.find_element(By.NAME, "agent")).select_by_value(agent)
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return str(wait_for(lambda: driver.find_elements(By.ID, "message")
                        or driver.find_elements(By.ID, "errors"), what="save result")[0].text)


def test_console_in_a_browser(console: tuple[Server, str], browser: Any,
                              tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    srv, base = console
    # 401 without the token: pages, APIs, the recording route
    for path in ("/numbers", "/calls", "/live", "/api/live", "/live/fragment",
                 "/calls/x/recording"):
        assert get(base + path)[0] == 401, path
        assert get(base + path, token="wrong-token-0123456789")[0] == 401, path
    assert get(base + "/numbers", Cookie="vio_console=forged")[0] == 401
    # the browser is sent to the login page, logs in with the token
    browser.get(base + "/numbers")
    assert browser.find_elements(By.ID, "token")
    shot(browser, "login", tmp_path)
    browser.find_element(By.ID, "token").send_keys("not-the-token-0000")
    browser.find_element(By.ID, "login").click()
    assert "wrong token" in browser.page_source
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "login").click()
    wait_for(lambda: browser.find_elements(By.ID, "num-14155550101"), what="Numbers page")
    shot(browser, "numbers", tmp_path)

    # assign an agent: the next call to the number is answered by it
    msg = save_number(browser, base, "+14155550101", agent="echo")
    assert "+14155550101 saved to" in msg, msg
    text = srv.config.read_text()
    assert '  # the support line\n  "+14155550101": {trunk: pbx, direction: inbound, agent: ' \
           'echo}' in text and "# DID 1" in text  # comments kept
    r = run_sipp(srv.addr, "uac_echo_audio.xml", number="+14155550101",
                 extra=["-rtp_echo", "-d", "3000"])
    assert r.rc == 0, r.output[-2000:]
    row = srv.call_row(sip_call_id(srv, r.call_id))
    assert (row["agent"], row["status"]) == ("echo", "ended")

    # switch it to outbound-only: the next INVITE gets 403
    msg = save_number(browser, base, "+14155550101", direction="outbound")
    assert "saved to" in msg, msg
    refused = run_sipp(srv.addr, "uac_expect_403.xml", number="+14155550101")
    assert refused.rc == 0, refused.output[-2000:]

    # an edit the loader refuses is shown with FILE:LINE and nothing is written
    before = srv.config.read_text()
    status, _, body = _post(base, "number=%2B14155550101&direction=both&agent=nobody")
    assert status == 400 and b"unknown agent" in body
    assert srv.config.read_text() == before

    # the call's page: transcript, summary, cost, events, and the recording plays
    browser.get(base + "/calls?number=%2B14155550101")
    shot(browser, "calls", tmp_path)
    browser.find_element(By.CSS_SELECTOR, "tbody a").click()
    audio = wait_for(lambda: browser.find_elements(By.ID, "recording"), what="audio")[0]
    wait_for(lambda: browser.execute_script("return arguments[0].readyState", audio) >= 1,
             what="recording metadata")
    duration = browser.execute_script("return arguments[0].duration", audio)
    assert 2.0 < duration < 30.0, duration
    assert browser.execute_script("return arguments[0].error", audio) is None
    assert "Transcript" in browser.page_source and "Events" in browser.page_source
    shot(browser, "call", tmp_path)
    rec = f"{base}/calls/{row['id']}/recording"
    status, headers, part = get(rec, token=TOKEN, Range="bytes=0-43")
    assert status == 206 and part[:4] == b"RIFF" and len(part) == 44
    assert headers["Content-Range"].startswith("bytes 0-43/")

    # Live refreshes by itself
    browser.get(base + "/live")
    first = browser.find_element(By.ID, "live").text
    assert "pbx" in first and "Dialer" in first
    wait_for(lambda: browser.find_element(By.ID, "live").text != first, timeout=10,
             what="live refresh")
    shot(browser, "live", tmp_path)
    live = json.loads(get(base + "/api/live", token=TOKEN)[2])
    assert [t["trunk"] for t in live["status"]["trunks"]] == ["other", "pbx"]


def test_connect_page_writes_a_trunk_the_live_page_then_shows_answering(
        console: tuple[Server, str], browser: Any, tmp_path: Path) -> None:
    """Guided set-up on the console: the PBX form writes a checked trunk file, the
    server reloads it, and Live shows the trunk's OPTIONS answered by the SIPp peer."""
    from selenium.webdriver.common.by import By

    from tests.integration.trunk_harness import TERM_IP, start_uas

    srv, base = console
    port = free_port(TERM_IP)
    peer = start_uas(tmp_path, "uas_options.xml", TERM_IP, port, [])
    try:
        browser.get(base + "/login")
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "login").click()
        wait_for(lambda: browser.find_elements(By.ID, "num-14155550101"), what="login")
        browser.get(base + "/connect")
        shot(browser, "connect", tmp_path)
        for name, value in (("host", TERM_IP), ("port", str(port)),
                            ("numbers", "+14155550180"), ("name", "office")):
            box = browser.find_element(By.ID, f"pbx-{name}")
            box.clear()
            box.send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "#connect-pbx button").click()
        steps = wait_for(lambda: browser.find_elements(By.ID, "steps"), what="steps")[0]
        assert "FreePBX > Connectivity > Trunks" in steps.text
        written = srv.config.parent / "trunks" / "office.yaml"
        assert '"+14155550180": {trunk: "office", direction: both}' in written.read_text()
        browser.get(base + "/live")
        wait_for(lambda: "office" in browser.find_element(By.ID, "live").text
                 and "up" in [td.text for td in browser.find_elements(By.CSS_SELECTOR,
                                                                       "#live td")],
                 timeout=20, what="office trunk up on Live")
        shot(browser, "live", tmp_path)  # with the new trunk answering
    finally:
        peer.stop()


def _post(base: str, form: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(base + "/numbers", data=form.encode(), method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def test_console_is_off_unless_configured(tmp_path: Path) -> None:
    port = free_port()
    srv = start_server(tmp_path, BASE_CONFIG + f"http:\n  listen: 127.0.0.1:{port}\n")
    try:
        srv.wait_event("http_listening")
        assert get(f"http://127.0.0.1:{port}/numbers")[0] == 404
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        assert srv.stop() == 0
