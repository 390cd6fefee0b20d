"""The web edition checked as its readers get it: every page in Debian's Chromium (through
Selenium, its chromedriver: no browser downloaded) with axe-core — 0 violations of WCAG
2.0/2.1 A and AA —, a keyboard walk — every link and control reached by Tab, in document
order, with a visible focus —, reflow at 320 px — no page wider than the window —, and the
Nu Html Checker (vnu.jar, Java): 0 errors. axe-core and vnu-jar come from npm
(package.json; `npm ci`, as .ci/run does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT
from test_web import build_web

from livret.conformance import JVM_FLAGS
from livret.reading.loader import load_site

pytestmark = [pytest.mark.browser, pytest.mark.java]  # Chromium, vnu.jar: not in make test-fast

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def web(tmp_path_factory, built) -> Path:
    return build_web(tmp_path_factory, built) / "web"


@pytest.fixture(scope="module")
def server(web):
    """The site over HTTP on 127.0.0.1 (a free port), as it will be published."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(web)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    _need(
        CHROMIUM.is_file() and CHROMEDRIVER.is_file(),
        "chromium and chromium-driver are not installed (scripts/sysdeps.sh installs them)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def addresses(web: Path) -> list[str]:
    return [p.relative_to(web).as_posix() for p in sorted(web.rglob("*.html"))]


def test_axe_finds_no_wcag_a_or_aa_violation_on_any_page(web, server, browser):
    _need(AXE.is_file(), "axe-core is not installed: run npm ci")
    axe = AXE.read_text(encoding="utf-8")
    found = {}
    for address in addresses(web):
        browser.get(server + address)
        browser.execute_script(axe)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => [v.id, v.nodes.map(n => n.target)])))"
            ".catch(e => done([['error', String(e)]]));",
            WCAG,
        )
        if result:
            found[address] = result
    assert found == {}


def test_every_link_and_control_is_reached_by_tab_in_order_with_a_visible_focus(
    web, server, browser
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    problems = {}
    for address in addresses(web):
        browser.get(server + address)
        expected = browser.execute_script(
            "return Array.from(document.querySelectorAll("
            "'a[href], button, input, select, textarea, [tabindex]:not([tabindex=\"-1\"])'))"
            ".filter(e => !e.closest('[hidden]') && e.getClientRects().length > 0)"
            ".map(e => e.outerHTML.slice(0, 120));"
        )
        reached, invisible = [], []
        browser.execute_script("document.activeElement && document.activeElement.blur()")
        for _ in expected:
            ActionChains(browser).send_keys(Keys.TAB).perform()
            info = browser.execute_script(
                "const e = document.activeElement, s = getComputedStyle(e);"
                "const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)"
                " || s.boxShadow !== 'none';"
                "return [e.outerHTML.slice(0, 120), visible];"
            )
            reached.append(info[0])
            if not info[1]:
                invisible.append(info[0])
        if reached != expected or invisible:
            problems[address] = {
                "missing or out of order": reached != expected,
                "no focus": invisible,
            }
    assert problems == {}


def test_no_page_is_wider_than_320_px(web, server, browser):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 320, "height": 640, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        wide = {}
        for address in addresses(web):
            browser.get(server + address)
            width = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"
            )
            if width[0] > width[1]:
                wide[address] = width
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert wide == {}


def test_the_nu_html_checker_finds_no_error(web):
    java = shutil.which("java")
    _need(bool(java) and VNU.is_file(), "java or vnu-jar is missing: apt install java, npm ci")
    pages = [str(web / a) for a in addresses(web)]
    done = subprocess.run(
        [str(java), *JVM_FLAGS, "-jar", str(VNU), "--errors-only", "--format", "json", *pages],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(done.stderr or '{"messages": []}')["messages"]
    assert [(m.get("url", "").rsplit("/web/", 1)[-1], m["message"]) for m in messages] == []


def test_catalogue_filters_and_search_narrow_the_list(web, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "catalogue/")

    def shown():
        cards = browser.find_elements(By.CSS_SELECTOR, "#fiches > li")
        return [c.get_attribute("data-path") for c in cards if c.is_displayed()]

    site = load_site(CONTENT)
    total = len(site.actions)
    assert len(shown()) == total and browser.find_element(By.ID, "filtres").is_displayed()
    Select(browser.find_element(By.ID, "f-theme")).select_by_value("mobilites")
    assert len(shown()) == len(site.theme("mobilites").actions)
    Select(browser.find_element(By.ID, "f-theme")).select_by_value("")
    browser.find_element(By.ID, "q").send_keys("microcredit")  # accents need not be typed
    WebDriverWait(browser, 30).until(lambda b: shown() == ["01/actions/adie/index.html"])
    assert browser.find_element(By.ID, "compte").text == f"1 fiche affichée sur {total}."
