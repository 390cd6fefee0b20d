"""An editor's year as one test: the features together, as they meet in real use.

Edition #02 is scaffolded beside #01 and partly filled; both are built into one output folder;
#01 is edited in the preview (a real Chromium) with a bad save made in the middle of a build;
#01 is mailed (dry run, then a real send to a local aiosmtpd); #02 is refused while it holds
placeholders, then completed and sent; both are printed and imposed; a rebuild with nothing to
do rebuilds nothing; a build killed with SIGKILL leaves no process behind and the last PDFs whole.
Every step runs the real command line, as the editor does (`python build.py …`).
"""

from __future__ import annotations

import email
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from conftest import CONTENT, ROOT, seed_fit_cache
from preview_support import WAIT, PreviewProcess, alive, ready
from test_reliability import _children, _wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PLACEHOLDER = "À COMPLÉTER"


def livret(project: Path, *argv: str, check: bool = True, env=None) -> subprocess.CompletedProcess:
    """`python build.py ARGV…` in the project folder, messages in French (the editor's)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *argv],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        env={**os.environ, "LIVRET_LANG": "fr", **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


def manifest(output: Path) -> dict:
    return json.loads((output / "manifest.json").read_text(encoding="utf-8"))


def entries(output: Path, number: int, kinds=("booklet", "theme")) -> dict[str, dict]:
    """The manifest's entries of one edition, by file name."""
    return {
        e["path"]: e
        for e in manifest(output)["outputs"]
        if e.get("number") == number and e["kind"] in kinds
    }


def whole(output: Path, entry: dict) -> bool:
    data = (output / entry["path"]).read_bytes()
    return hashlib.sha256(data).hexdigest() == entry["sha256"] and data.rstrip().endswith(b"%%EOF")


def received_pdfs(server) -> list[tuple[list[str], str, dict[str, str]]]:
    """(recipients, subject, {attachment file name: sha256}) of every message received."""
    out = []
    for got in server.handler.received:
        msg = email.message_from_bytes(got.data, policy=policy.default)
        files = {
            a.get_filename(): hashlib.sha256(a.get_content()).hexdigest()
            for a in msg.iter_attachments()
        }
        out.append((sorted(got.rcpt_tos), str(msg["Subject"]), files))
    return out


def smtp_flags(server) -> list[str]:
    return ["--host", server.host, "--port", str(server.port), "--security", "none"]


def test_an_editors_year(tmp_path, smtp_server, request):
    project = tmp_path / "projet"
    project.mkdir()
    ed1 = project / "content"
    shutil.copytree(CONTENT, ed1, ignore=shutil.ignore_patterns("recipients*.csv"))
    output = project / "output"

    # -- 1. Edition #02 scaffolded beside #01, partly filled ------------------------------------
    livret(project, "new-edition", "edition-02", "--number", "2")
    ed2 = project / "edition-02"
    edition2 = ed2 / "edition.yaml"
    text = edition2.read_text(encoding="utf-8")
    text = text.replace(f"{PLACEHOLDER} : titre de l'édition", "Agir ensemble pour le climat")
    edition2.write_text(text, encoding="utf-8")
    assert PLACEHOLDER in edition2.read_text(encoding="utf-8")  # still a draft

    # -- 2. Both editions built into one output folder --------------------------------------------
    livret(project, "--content", "content", "--output", "output")
    drafts = livret(project, "--content", "edition-02", "--output", "output")  # drafts build
    assert PLACEHOLDER in drafts.stdout + drafts.stderr or "reste" in drafts.stdout + drafts.stderr
    one, two = entries(output, 1), entries(output, 2)
    assert one and two and not set(one) & set(two)
    assert all(whole(output, e) for e in [*one.values(), *two.values()])

    # -- 3. #01 edited in the preview, a bad save in the middle of a build -----------------------
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    from test_preview_browser import _browser

    card = ed1 / "actions" / "adie.md"
    good = card.read_text(encoding="utf-8")
    server = PreviewProcess(ed1, output)
    browser = _browser()
    try:
        server.wait_for(ready)
        wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
        browser.get(server.url)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "section img")))
        edited = good.replace("## Contexte\n", "## Contexte\n\nUne phrase ajoutée en mars.\n", 1)
        card.write_text(edited, encoding="utf-8")
        server.wait_for(lambda s: s["building"])  # the build of that save has started
        card.write_text(edited.replace("theme: mobilites", "theme: nulle-part", 1), "utf-8")
        wait.until(ec.visibility_of_element_located((By.ID, "banner")))
        assert "adie.md:4" in browser.find_element(By.ID, "problems").text
        card.write_text(edited, encoding="utf-8")  # fixed: the banner goes, the pages follow
        wait.until(ec.invisibility_of_element_located((By.ID, "banner")))
        server.wait_for(lambda s: ready(s) and not s.get("problems"))
    finally:
        browser.quit()
        assert server.stop() == 0
    # Edition #02's PDFs were never touched by the preview of #01.
    assert entries(output, 2) == two and all(whole(output, e) for e in two.values())

    # -- 4. #01 mailed: a dry run, then a real send to a local SMTP server -----------------------
    recipients = project / "destinataires.csv"
    recipients.write_text(
        "courriel;nom;organisation;envoi\n"
        "camille@example.org;Camille Martin;Mairie;livret\n"
        "amina@example.org;Amina Benali;Association;mobilites precarite-alimentaire\n",
        encoding="utf-8",
    )
    journal = ["--journal", str(project / ".livret" / "journal.sqlite")]
    mail1 = ["mail", "--content", "content", "--output", "output", "--recipients", str(recipients)]
    livret(project, *mail1, *journal)
    emls = sorted((output / "mail").glob("*.eml"))
    assert len(emls) == 2
    smtp = smtp_server()
    livret(project, *mail1, *journal, "--send", "--yes", *smtp_flags(smtp))
    one = entries(output, 1)
    by_theme = {e["theme"] or "livret": e["sha256"] for e in one.values()}
    got = received_pdfs(smtp)
    assert [r for r, _, _ in got] == [["camille@example.org"], ["amina@example.org"]]
    assert all("#01" in subject for _, subject, _ in got)
    assert sorted(got[0][2].values()) == [by_theme["livret"]]
    assert sorted(got[1][2].values()) == sorted(
        [by_theme["mobilites"], by_theme["precarite-alimentaire"]]
    )

    # -- 5. #02 refused while it holds placeholders ----------------------------------------------
    mail2 = ["mail", "--content", "edition-02", "--output", "output", "--recipients"]
    mail2 += [str(recipients)]
    before = len(smtp.handler.received)
    refused = livret(project, *mail2, *journal, "--send", "--yes", *smtp_flags(smtp), check=False)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert re.search(r"edition-02/edition\.yaml:\d+", said), said
    assert "Traceback" not in said
    assert len(smtp.handler.received) == before

    # -- 6. #02 completed, then sent: its own files, its own subject ------------------------------
    for path in ed2.rglob("*"):
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            done = [
                line.replace(f"{PLACEHOLDER} : ", "").replace(PLACEHOLDER, "complété")
                for line in lines
                if not line.lstrip().startswith(f"# {PLACEHOLDER}")
            ]
            path.write_text("".join(done), encoding="utf-8")
    checked = livret(project, "check", "--content", "edition-02")
    assert PLACEHOLDER not in checked.stdout + checked.stderr
    livret(project, *mail2, *journal, "--send", "--yes", *smtp_flags(smtp))
    two = entries(output, 2)
    by_theme2 = {e["theme"] or "livret": e["sha256"] for e in two.values()}
    got = received_pdfs(smtp)[before:]
    assert [r for r, _, _ in got] == [["camille@example.org"], ["amina@example.org"]]
    assert all("#02" in subject for _, subject, _ in got)
    assert sorted(got[0][2].values()) == [by_theme2["livret"]]
    assert sorted(got[1][2].values()) == sorted(
        [by_theme2["mobilites"], by_theme2["precarite-alimentaire"]]
    )
    assert not set(by_theme.values()) & {h for _, _, f in got for h in f.values()}

    # -- 7. Both printed and imposed ---------------------------------------------------------
    # Each booklet sent to the press (the excerpts' press files: tests/test_fit.py, press.py).
    # #01's cards fitted to spreads as the session's press build fitted them (asked for only
    # now: its build runs meanwhile on another worker), adie, edited in the preview, again:
    # the press files are what is checked here, not the fitting (tests/test_fit.py).
    seed_fit_cache(output, request.getfixturevalue("built_print")[0])
    for folder in ("content", "edition-02"):
        press = ["--variant", "print", "--only", "booklet"]
        livret(project, "--content", folder, "--output", "output", *press)
        livret(project, "--content", folder, "--output", "output", "--impose", "a4")
    names = {e["path"] for e in manifest(output)["outputs"]}
    for slug in ("retour-experience-01", "retour-experience-02"):
        assert f"{slug}-print.pdf" in names, names
        assert f"{slug}-imposition-a4.pdf" in names, names

    # -- 8. A rebuild with nothing to do rebuilds nothing ----------------------------------------
    for folder in ("content", "edition-02"):
        done = livret(project, "--content", folder, "--output", "output", "--json")
        states = {o["status"] for o in json.loads(done.stdout)["outputs"]}
        assert states == {"up to date"}, done.stdout

    # -- 9. A build killed with SIGKILL: no process left, the last PDFs whole ---------------------
    last = entries(output, 1)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--content", "content", "--output", "output"]
        + ["--force"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "LIVRET_LANG": "en"},
    )
    workers = _wait_until(lambda: _children(proc.pid), WAIT, "the build's render workers")
    assert workers, "the build had no render worker when it was killed"
    handles = {pid: os.pidfd_open(pid) for pid in workers if alive(pid)}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT)
    for pid, fd in handles.items():  # a pidfd is readable once its process has ended
        try:
            ended, _, _ = select.select([fd], [], [], WAIT)
        finally:
            os.close(fd)
        assert ended, f"render worker {pid} outlived the killed build"
    now = entries(output, 1)
    assert set(now) == set(last)
    assert all(whole(output, e) for e in now.values())
