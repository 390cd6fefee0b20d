"""The preview links to the web edition and serves its pages (only the files its build
listed), beside the PDFs' page images."""

from __future__ import annotations

import shutil

import pytest
from preview_support import PreviewProcess, ready

# A preview in a process of its own, building the web edition (make test; make test-fast keeps
# the preview's HTTP session, tests/test_preview_http.py).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    from conftest import CONTENT

    base = tmp_path_factory.mktemp("preview-web")
    content = base / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    (base / "output").mkdir()
    (base / "output" / "secret.txt").write_text("secret\n")
    server = PreviewProcess(content, base / "output", "--action", "adie", "--only", "web")
    state = server.wait_for(lambda s: ready(s) and bool(s.get("sites")))
    yield server, state
    assert server.stop() == 0


def test_the_state_links_to_the_web_edition(preview):
    server, state = preview
    [site] = state["sites"]
    assert site["href"] == "site/01/"
    assert [d["kind"] for d in state["outputs"]] == ["action"]  # the web is no page images
    status, body, headers = server.get("/site/01/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"Sommaire" in body
    status, body, _ = server.get("/site/01/actions/adie/")
    assert status == 200 and b'la fiche <span class="meta">(PDF, ' in body
    status, _, headers = server.get("/site/assets/fonts/lato-regular.woff2")
    assert status == 200 and headers["Content-Type"] == "font/woff2"
    _, page, _ = server.get("/static/preview.js")
    assert b"state.sites" in page


@pytest.mark.parametrize(
    "path",
    ["/site/../secret.txt", "/site/..%2fsecret.txt", "/site/01/../../secret.txt", "/site/nope/"],
)
def test_nothing_else_is_served_under_site(preview, path):
    server, _ = preview
    status, body, _ = server.get(path)
    assert status == 404 and b"secret" not in body
