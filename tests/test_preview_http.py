"""The preview server over HTTP: what it serves, what it refuses, how it ends."""

from __future__ import annotations

import socket
import time

import pytest
from preview_support import PreviewProcess, alive, ready

THEME_PDF = "retour-experience-01-mobilites.pdf"


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    import shutil

    from conftest import CONTENT

    base = tmp_path_factory.mktemp("preview-http")
    content = base / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    (base / "secret.txt").write_text("root:secret\n")
    output = base / "output"
    server = PreviewProcess(content, output, "--theme", "mobilites")
    state = server.wait_for(ready)
    yield server, state, output
    server.stop()


def test_serves_the_page_the_state_and_the_images(preview):
    server, state, _ = preview
    status, body, headers = server.get("/")
    assert status == 200 and b'src="static/preview.js"' in body
    assert headers["Content-Type"].startswith("text/html")
    (doc,) = state["outputs"]
    assert doc["name"] == THEME_PDF and len(doc["pages"]) > 1
    status, png, headers = server.get("/" + doc["pages"][0])
    assert status == 200 and png.startswith(b"\x89PNG") and headers["Content-Type"] == "image/png"
    status, pdf, _ = server.get(f"/pdf/{THEME_PDF}")
    assert status == 200 and pdf.startswith(b"%PDF-")
    status, _, _ = server.get(f"/pdf/{THEME_PDF}", method="HEAD")
    assert status == 200


def test_event_stream_sends_the_state_at_once(preview):
    server, _, _ = preview
    first = next(server.events())
    assert [d["name"] for d in first["outputs"]] == [THEME_PDF]
    assert first["problems"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/pdf/../../secret.txt",
        "/pdf/..%2f..%2fsecret.txt",
        "/pdf/%2e%2e/%2e%2e/secret.txt",
        "/pdf//etc/passwd",
        "/pages/../../secret.txt",
        "/pages/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "//etc/passwd",
        "/pdf/link.pdf",  # a symbolic link out of the output folder
        "/pdf/manifest.json",
        "/pdf/retour-experience-01.pdf",  # in the folder, but not an output shown
        "/.preview/",
    ],
)
def test_no_path_escapes(preview, path):
    server, _, output = preview
    link = output / "link.pdf"
    if not link.is_symlink():
        link.symlink_to(output.parent / "secret.txt")
    status, body, _ = server.get(path)
    assert status == 404, path
    assert b"root:" not in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_no_write_endpoint(preview, method):
    server, _, _ = preview
    status, _, headers = server.get(f"/pdf/{THEME_PDF}", method=method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_other_host_names_are_refused(preview):
    """A web page that rebinds its own name to 127.0.0.1 cannot read the preview."""
    server, _, _ = preview
    status, _, _ = server.get("/state", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403
    status, _, _ = server.get("/state", headers={"Host": f"localhost:{server.port}"})
    assert status == 200


def _listening(table: str, port: int) -> set[str]:
    """Local addresses listening on `port`, from /proc/net/tcp or tcp6 (hex, as the kernel
    writes them)."""
    found = set()
    with open(table) as fh:
        for line in list(fh)[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_listens_on_127_0_0_1_only(preview):
    server, _, _ = preview
    ipv4 = _listening("/proc/net/tcp", server.port)
    assert {socket.inet_ntoa(bytes.fromhex(a)[::-1]) for a in ipv4} == {"127.0.0.1"}
    assert _listening("/proc/net/tcp6", server.port) == set()


@pytest.mark.slow  # a real process interrupted
def test_ctrl_c_stops_the_server_and_its_workers(content_copy, tmp_path):
    server = PreviewProcess(content_copy, tmp_path / "output", "--theme", "mobilites")
    server.wait_for(ready)
    workers = server.descendants()
    assert workers, "the preview keeps render workers"
    assert server.stop() == 0
    deadline = time.monotonic() + 60
    while [p for p in workers if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)  # reaped by init: no event to wait on
    assert [p for p in workers if alive(p)] == []
