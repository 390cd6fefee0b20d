"""The preview server over HTTP: what it serves, what it refuses, how it ends."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import time
from pathlib import Path

import pytest
from preview_support import PreviewProcess, alive, ready

THEME_PDF = "retour-experience-01-mobilites.pdf"


@pytest.fixture(scope="module")
def preview(tmp_path_factory, built):
    import shutil

    from conftest import CONTENT, seed_build_cache

    base = tmp_path_factory.mktemp("preview-http")
    content = base / "content"
    shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns("recipients*.csv"))
    (base / "secret.txt").write_text("root:secret\n")
    output = base / "output"
    seed_build_cache(output, built[0])  # served here, not laid out: the booklet's folios kept
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
def test_ctrl_c_stops_the_server_and_its_workers(content_copy, tmp_path, built):
    from conftest import seed_build_cache

    seed_build_cache(tmp_path / "output", built[0])  # its workers matter, not the layout
    server = PreviewProcess(content_copy, tmp_path / "output", "--theme", "mobilites")
    server.wait_for(ready)
    workers = server.descendants()
    assert workers, "the preview keeps render workers"
    assert server.stop() == 0
    deadline = time.monotonic() + 60
    while [p for p in workers if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)  # reaped by init: no event to wait on
    assert [p for p in workers if alive(p)] == []


# --- requests with bodies, broken requests, aborted clients (issue 17) --------------------


def _exchange(server, data: bytes) -> bytes:
    """Send raw bytes on one connection, close our side, and read every byte of the answer
    until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _statuses(answer: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) [A-Z]", answer)]


INNER = b"GET /state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(INNER) + INNER,
        b"PUT /state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(INNER)
        + INNER,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(INNER) + INNER,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        + INNER,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 41\r\n\r\n"
        + b"x"
        + INNER,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +41\r\n\r\n" + INNER,
    ],
    ids=["post", "put", "get-with-body", "chunked", "two-lengths", "signed-length"],
)
def test_a_body_is_never_read_as_a_second_request(preview, request_bytes):
    server, _, _ = preview
    answer = _exchange(server, request_bytes)
    statuses = _statuses(answer)
    assert len(statuses) == 1, answer  # one request, one answer: the body was no request
    assert b'"generation"' not in answer  # /state, smuggled in the body, was not answered
    if request_bytes.startswith((b"POST", b"PUT")):
        assert statuses == [405]
        assert re.search(rb"(?mi)^Connection: close\r$", answer), answer


def test_keep_alive_still_answers_each_request(preview):
    server, _, _ = preview
    answer = _exchange(server, INNER + INNER)
    assert _statuses(answer) == [200, 200]


def _socket_inode(pid: int, local_port: int, remote_port: int) -> str:
    """The inode of the server's side of a connection, from /proc/net/tcp."""
    with open("/proc/net/tcp") as fh:
        for line in list(fh)[1:]:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            if int(local, 16) == local_port and int(remote, 16) == remote_port:
                return fields[9]
    raise AssertionError("connection not found")


def _holds(pid: int, inode: str) -> bool:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd) == f"socket:[{inode}]":
                return True
    return False


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET http://[x/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /pdf/%ff%fe.pdf?x=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(256)),  # TLS hello
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99\r\n\r\nshort",
        b"\r\n\r\n",
        b"GET",
    ],
)
def test_malformed_requests_print_no_traceback(preview, request_bytes):
    server, _, output = preview
    _exchange(server, request_bytes)  # the server closed the connection: its thread is done
    assert "Traceback" not in (output.parent / "preview.log").read_text()
    status, _, _ = server.get("/state")
    assert status == 200


def test_an_aborted_download_prints_no_traceback(preview):
    server, _, output = preview
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET /pdf/{THEME_PDF} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert sock.recv(16).startswith(b"HTTP/1.1 200")
    inode = _socket_inode(server.proc.pid, server.port, sock.getsockname()[1])
    # Closed with a reset (linger 0), as a browser cancelling a download does.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    deadline = time.monotonic() + 60
    while _holds(server.proc.pid, inode) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server closes its side once the error is handled: no event
    assert not _holds(server.proc.pid, inode)
    assert "Traceback" not in (output.parent / "preview.log").read_text()


@pytest.mark.parametrize("port", ["70000", "0", "-1", "http"])
def test_a_port_out_of_range_is_refused_in_french(tmp_path, port):
    import subprocess
    import sys

    from preview_support import ROOT

    done = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "preview", "--no-open", "--port", port],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "LIVRET_LANG": "fr"},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "65535" in done.stderr and "n'est pas un port" in done.stderr, done.stderr
    assert "interne" not in done.stderr and "Traceback" not in done.stderr
