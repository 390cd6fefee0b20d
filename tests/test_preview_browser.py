"""The preview in a real browser (Debian's chromium, headless, through its chromedriver):
a saved card shows its changed pages by itself; a bad save shows the problems in a banner over
the last good pages; the fix clears it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from preview_support import WAIT, PreviewProcess, ready

pytestmark = pytest.mark.browser  # Chromium: not in make test-fast

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHEET = "retour-experience-01-action-adie.pdf"
THEME = "retour-experience-01-mobilites.pdf"


def _browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        why = "chromium and chromium-driver are not installed (scripts/sysdeps.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)  # --no-sandbox: CI runs as root
    options.add_argument("--window-size=1400,1000")
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (each test opens its own preview, on a port of its own)."""
    driver = _browser()
    yield driver
    driver.quit()


@pytest.fixture
def preview(tmp_path, built):
    from conftest import CONTENT, seed_build_cache

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    # What the browser shows of a save is checked here, not the first layout: the session
    # build's cache (fitting decisions, the booklet's folios) spares the preview the booklet.
    seed_build_cache(tmp_path / "output", built[0])
    server = PreviewProcess(content, tmp_path / "output", "--theme", "mobilites")
    server.wait_for(ready)
    yield server, content
    assert server.stop() == 0


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_a_save_shows_its_changed_pages_and_a_bad_one_the_banner(browser, preview):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, content = preview
    # The page redraws while the conditions look at it: an element may go between two calls.
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(server.url)
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f'section[data-name="{THEME}"] img'))
    )
    assert browser.find_element(By.ID, "banner").is_displayed() is False
    theme_pages = [
        img.get_attribute("src")
        for img in browser.find_elements(By.CSS_SELECTOR, f'section[data-name="{THEME}"] img')
    ]
    assert len(theme_pages) > 1
    assert browser.find_elements(By.CSS_SELECTOR, "figure.changed") == []

    # A save: the card's sheet appears, with its pages marked, then the excerpt's changed page.
    card = content / "actions" / "adie.md"
    good = card.read_text(encoding="utf-8")
    _save(card, good.replace("## Contexte\n", "## Contexte\n\nUne phrase de plus, pour voir.\n", 1))

    def sheet_shown(driver):
        imgs = driver.find_elements(
            By.CSS_SELECTOR, f'section[data-name="{SHEET}"] figure.changed img'
        )
        return imgs and all(
            driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
            for i in imgs
        )

    wait.until(sheet_shown)

    def theme_changed(driver):
        figs = driver.find_elements(By.CSS_SELECTOR, f'section[data-name="{THEME}"] figure.changed')
        return (
            figs and figs[0].find_element(By.TAG_NAME, "img").get_attribute("naturalWidth") != "0"
        )

    wait.until(theme_changed)
    changed = browser.find_elements(By.CSS_SELECTOR, f'section[data-name="{THEME}"] figure.changed')
    now = [
        img.get_attribute("src")
        for img in browser.find_elements(By.CSS_SELECTOR, f'section[data-name="{THEME}"] img')
    ]
    # The pages marked are new images; the others are the very same images as before.
    marked = {int(fig.get_attribute("data-page")) for fig in changed}
    for n in range(1, min(len(now), len(theme_pages)) + 1):
        assert (now[n - 1] != theme_pages[n - 1]) == (n in marked), n

    # A bad save: the banner names the file and line; the last good pages stay.
    shown = browser.find_elements(By.CSS_SELECTOR, "img")
    _save(card, good.replace("theme: mobilites", "theme: nulle-part", 1))
    wait.until(ec.visibility_of_element_located((By.ID, "banner")))
    problems = browser.find_element(By.ID, "problems").text
    assert "adie.md:4: theme:" in problems, problems
    assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == len(shown)

    # The fix clears it.
    _save(card, good)
    wait.until(ec.invisibility_of_element_located((By.ID, "banner")))
    assert browser.find_elements(By.CSS_SELECTOR, f'section[data-name="{SHEET}"] img')


def test_download_links_and_page_numbers(browser, preview):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, _ = preview
    browser.get(server.url)
    section = (By.CSS_SELECTOR, f'section[data-name="{THEME}"]')
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located(section))
    link = browser.find_element(By.CSS_SELECTOR, f'section[data-name="{THEME}"] a[download]')
    assert link.get_attribute("href") == f"{server.url}pdf/{THEME}"
    captions = browser.find_elements(By.CSS_SELECTOR, f'section[data-name="{THEME}"] figcaption')
    assert [c.text for c in captions] == [str(n) for n in range(1, len(captions) + 1)]
    assert browser.find_element(By.CSS_SELECTOR, f'nav a[href="#doc-{THEME}"]')


def _in_view(driver, element) -> bool:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.bottom > 0 && r.top < window.innerHeight;",
        element,
    )


def test_a_page_opens_at_full_width_and_a_save_brings_its_change_into_view(
    browser, tmp_path, built
):
    """Mouse and keyboard open a page at its full width; Escape and Back close it; one page
    is « 1 page »; after a save, the first changed page is scrolled into view."""
    from conftest import CONTENT, seed_build_cache
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    one_page = "retour-experience-01-action-adil-31.pdf"  # a one-page sheet
    seed_build_cache(tmp_path / "output", built[0])  # as the preview fixture
    server = PreviewProcess(
        content, tmp_path / "output", "--theme", "mobilites", "--action", "adil-31"
    )
    try:
        server.wait_for(lambda s: ready(s) and len(s["outputs"]) == 2)
        wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
        browser.get(server.url)
        theme = f'section[data-name="{THEME}"]'
        wait.until(
            lambda d: d.execute_script(
                "const i = document.querySelector(arguments[0]);"
                "return i && i.complete && i.naturalWidth > 0;",
                f"{theme} button.page img",
            )
        )
        title = browser.find_element(By.CSS_SELECTOR, f'section[data-name="{one_page}"] .title')
        assert title.text.endswith("— 1 page"), title.text

        # The keyboard: Tab reaches a page's button, its focus is visible, Enter opens it.
        buttons = browser.find_elements(By.CSS_SELECTOR, f"{theme} button.page")
        link = browser.find_element(By.CSS_SELECTOR, f"{theme} a[download]")
        browser.execute_script("arguments[0].focus()", link)
        ActionChains(browser).send_keys(Keys.TAB).perform()
        active = browser.switch_to.active_element
        assert active == buttons[0]
        assert active.value_of_css_property("outline-style") != "none"
        ActionChains(browser).send_keys(Keys.ENTER).perform()
        viewer = browser.find_element(By.ID, "viewer")
        wait.until(lambda d: viewer.is_displayed())
        page = browser.find_element(By.ID, "viewer-page")
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", page) > 0)
        natural = browser.execute_script("return arguments[0].naturalWidth", page)
        assert natural > 800
        assert page.rect["width"] >= natural - 1  # full width: 910 px, not 300
        ActionChains(browser).send_keys(Keys.ESCAPE).perform()
        wait.until(lambda d: not viewer.is_displayed())
        assert browser.switch_to.active_element == buttons[0]

        # The mouse, and the browser's Back button to close.
        buttons[1].click()
        wait.until(lambda d: viewer.is_displayed())
        browser.back()
        wait.until(lambda d: not viewer.is_displayed())
        assert browser.current_url.startswith(server.url)

        # A save: the first changed page comes into view by itself.
        browser.execute_script("window.scrollTo(0, 0)")
        generation = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-generation"))
        card = content / "actions" / "gas-18.md"
        text = card.read_text(encoding="utf-8")
        card.write_text(text.replace("## Contexte\n", "## Contexte\n\nUne phrase.\n", 1), "utf-8")

        def changed_in_view(driver):
            body = driver.find_element(By.TAG_NAME, "body")
            if int(body.get_attribute("data-generation")) <= generation:
                return False
            figs = driver.find_elements(By.CSS_SELECTOR, "figure.changed")
            scrolled = driver.execute_script("return window.scrollY") > 0
            return scrolled and any(_in_view(driver, f) for f in figs)

        wait.until(changed_in_view)
    finally:
        assert server.stop() == 0
