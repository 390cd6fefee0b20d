"""A real `livret preview` process for the preview tests, and a reader of its event stream."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from conftest import ROOT

# Generous: a loaded 2-core CI machine renders the theme excerpt in seconds, not in one.
WAIT = 180


class PreviewProcess:
    def __init__(self, content: Path, output: Path, *extra: str):
        self.log = output.parent / "preview.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "build.py"), "preview", "--no-open"]
            + ["--content", str(content), "--output", str(output), *extra],
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
            text=True,
            cwd=output.parent,
            env={**os.environ, "LIVRET_LANG": "en"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the server prints its address once it listens
        assert "http://127.0.0.1:" in line, line + self.log.read_text()
        self.url = line[line.index("http://") :].split()[0]
        self.port = urlsplit(self.url).port

    def connection(self, timeout: float = WAIT) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, method: str = "GET", headers=None) -> tuple[int, bytes, dict]:
        conn = self.connection()
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def events(self, timeout: float = WAIT) -> Iterator[dict]:
        """The states the server pushes, as they come; fails `timeout` seconds on (the
        stream's keep-alive comments would otherwise keep a wait going for ever)."""
        deadline = time.monotonic() + timeout
        conn = self.connection()
        conn.request("GET", "/events")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        try:
            event, data = None, []
            while True:
                line = resp.fp.readline().decode("utf-8")
                if not line:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no awaited state in {timeout} s\n" + self.log.read_text()
                    )
                line = line.rstrip("\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    if event == "state":
                        yield json.loads("\n".join(data))
                    event, data = None, []
        finally:
            conn.close()

    def wait_for(self, condition: Callable[[dict], bool]) -> dict:
        for state in self.events():
            if condition(state):
                return state
        raise AssertionError("the event stream ended\n" + self.log.read_text())

    def descendants(self) -> set[int]:
        """Every process started by the preview, however deep (read from /proc)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = set(), [self.proc.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.add(child)
                todo.append(child)
        return found

    def stop(self) -> int:
        """Ctrl-C, as in a terminal; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def ready(state: dict) -> bool:
    return not state["building"] and bool(state["outputs"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie has ended: only its parent has not read its status yet
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
