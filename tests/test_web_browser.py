"""The web view in a real browser: Debian's chromium, driven by selenium through
Debian's chromedriver (the path is given, so nothing downloads a browser), against a
TLS server with tokens and a history made through the gRPC API.

Screenshots of the main pages go to $CITC_WEB_SCREENSHOTS when it is set (the
README's come from `CITC_WEB_SCREENSHOTS=docs pytest tests/test_web_browser.py`),
else to the test's tmp_path; each is checked to be a PNG of the page.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait
from server_support import TOKENS
from web_support import MAIN_V1, make_history, tls_web_server

from citcfs.server.app import CitcServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,860")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitcServer]:
    with tls_web_server(tmp_path_factory.mktemp("browser")) as running:
        make_history(running)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless chromium with a fresh profile; quit, and its driver stopped, at the end."""
    profile = tempfile.mkdtemp(prefix="citc-chromium-", dir="/dev/shm")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.accept_insecure_certs = True  # the test server's self-signed certificate
    service = Service(executable_path=CHROMEDRIVER)
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        service.stop()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def url(server: CitcServer) -> str:
    assert server.http is not None
    return server.http.url


def follow(browser: webdriver.Chrome, element: WebElement) -> None:
    """Click a link or a button and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(page))


def log_in(browser: webdriver.Chrome, url: str, token: str, page: str = "/") -> None:
    """Log in through the form, as a person would, starting from `page`."""
    browser.delete_all_cookies()
    browser.get(url + page)
    assert browser.current_url.startswith(url + "/login?next=")
    browser.find_element(By.ID, "token").send_keys(token)
    follow(browser, browser.find_element(By.ID, "login"))
    assert browser.current_url == url + page


def shoot(browser: webdriver.Chrome, name: str, tmp_path: Path) -> None:
    """A PNG of the whole page (up to 1400 px high), through the DevTools protocol."""
    directory = Path(os.environ.get("CITC_WEB_SCREENSHOTS") or tmp_path)
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 1400),
            "scale": 1}
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    (directory / f"web-{name}.png").write_bytes(png)


def test_login_keeps_the_token_in_an_httponly_secure_cookie(browser: webdriver.Chrome,
                                                            url: str) -> None:
    log_in(browser, url, TOKENS["alice"], "/ws/demo/diff?from=base&to=1")
    cookie = browser.get_cookie("citc_token")
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Lax")
    # No script may read it, and the next page needs no login.
    assert "citc_token" not in browser.execute_script("return document.cookie")
    browser.get(url + "/")
    assert browser.find_element(By.CSS_SELECTOR, "header .who").text.startswith("alice")

    follow(browser, browser.find_element(By.CSS_SELECTOR, "header form button"))  # log out
    assert browser.get_cookie("citc_token") is None
    browser.get(url + "/ws/demo")
    assert browser.current_url.startswith(url + "/login")


def test_a_diff_shows_its_lines(browser: webdriver.Chrome, url: str, tmp_path: Path) -> None:
    log_in(browser, url, TOKENS["alice"], "/ws/demo/diff?from=base&to=1")
    removed = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "tr.del td.src")]
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "tr.add td.src")]
    assert removed == ['-    print("hello")'] and added == ['+    print("hello, web")']
    shoot(browser, "diff", tmp_path)

    follow(browser, browser.find_element(By.LINK_TEXT, "side by side"))
    assert browser.current_url.endswith("/ws/demo/diff?from=base&to=1&view=split")
    left = browser.find_element(By.CSS_SELECTOR, "td.src.del").text
    right = browser.find_element(By.CSS_SELECTOR, "td.src.add").text
    assert (left, right) == ('    print("hello")', '    print("hello, web")')
    shoot(browser, "diff-split", tmp_path)

    browser.get(url + "/ws/demo/diff?from=v1&to=3")
    headings = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "section.file h2")]
    assert [h.split()[0] for h in headings] == ["MODIFIED", "ADDED", "DELETED", "ADDED"]
    assert browser.find_element(By.CSS_SELECTOR, "p.binary").text.startswith("binary file")


def test_history_and_a_file_at_an_old_version(browser: webdriver.Chrome, url: str,
                                              tmp_path: Path) -> None:
    log_in(browser, url, TOKENS["alice"])
    rows = browser.find_elements(By.CSS_SELECTOR, "#workspaces tbody tr")
    assert [row.find_element(By.TAG_NAME, "a").text for row in rows] == ["demo"]
    shoot(browser, "workspaces", tmp_path)

    follow(browser, rows[0].find_element(By.TAG_NAME, "a"))
    versions = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert [v.find_element(By.TAG_NAME, "td").text for v in versions] == ["4", "3", "2", "1", "0"]
    assert "v1" in browser.find_element(By.ID, "v1").text
    shoot(browser, "history", tmp_path)

    follow(browser, browser.find_element(By.CSS_SELECTOR, "#v1 a"))  # the tree at version 1
    follow(browser, browser.find_element(By.LINK_TEXT, "src/"))
    follow(browser, browser.find_element(By.LINK_TEXT, "main.py"))
    assert browser.current_url == url + "/ws/demo/file/src/main.py?at=1"
    lines = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#file td.src")]
    assert lines == MAIN_V1.decode().splitlines()
    shoot(browser, "file", tmp_path)


def test_a_user_without_a_grant_is_refused(browser: webdriver.Chrome, url: str) -> None:
    log_in(browser, url, TOKENS["bob"], "/ws/demo/diff?from=base&to=1")
    assert browser.find_element(By.TAG_NAME, "h1").text == "403 Forbidden"
    assert "may not read workspace 'demo'" in browser.find_element(By.ID, "message").text
    assert "hello" not in browser.page_source
    browser.get(url + "/")
    assert "demo" not in browser.find_element(By.TAG_NAME, "main").text
