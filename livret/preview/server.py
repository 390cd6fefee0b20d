"""`livret preview` (alias `serve`): the outputs' pages in the browser, updated on every save.

One process: the main thread watches the content, layouts and styles and builds with warm
workers (renderer.py); a ThreadingHTTPServer on 127.0.0.1 serves the page, the page images
and the PDFs, and pushes each new state to the browser as a server-sent event.

What the server answers, and nothing else (GET and HEAD only; other methods get 405 and the
connection is closed):
  /                      the preview page          /static/preview.js|.css  its script, style
  /state                 the state, as JSON        /events                  the state, each time
  /pages/<sha256>.png    a page image from the cache folder (output/.preview/)
  /pdf/<name>.pdf        a PDF the preview shows, from the output folder
No URL is ever joined to a folder: names are matched against what the preview has made.

A request's body is never taken for the next request on a kept-alive connection (request
smuggling): a small body is read and dropped, and a request with a body, or one whose length
cannot be trusted, closes the connection after its answer. Broken or aborted requests end
quietly: the editor's terminal is for the build's messages, never a traceback.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from ..building.outputs import KINDS, PREVIEW_ORDER
from ..console import print_problems
from ..errors import LivretError, Problem
from ..i18n import _, language, ngettext, seconds
from .pages import Document, PageCache

if TYPE_CHECKING:
    from ..reading.model import Site
    from .renderer import Session, WarmPool

STATIC = Path(__file__).resolve().parent / "static"
_PAGE = re.compile(r"/pages/([0-9a-f]{64})\.png")
_PDF = re.compile(r"/pdf/([A-Za-z0-9][A-Za-z0-9._-]*\.pdf)")
_SITE = re.compile(r"/site/((?:[A-Za-z0-9][A-Za-z0-9._-]*/)*(?:[A-Za-z0-9][A-Za-z0-9._-]*)?)")
_STATIC = {"/static/preview.js": "text/javascript", "/static/preview.css": "text/css"}
MAX_BODY = 64 * 1024  # a body up to this size is read and dropped; a bigger one closes


class State:
    """What the browser shows: the outputs with their pages, and the problems of the last
    save (None when it built). Thread-safe; each change is pushed to every listener."""

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.problems: list[str] = []
        self.sites: list[dict] = []  # outputs that are not PDFs (web edition): their links
        self.building = False
        self.generation = 0
        self._lock = threading.Lock()
        self._listeners: list[queue.Queue] = []

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "generation": self.generation,
                "building": self.building,
                "problems": list(self.problems),
                "outputs": [d.as_json() for d in self.docs.values()],
                "sites": list(self.sites),
            }

    def put(self, doc: Document) -> None:
        with self._lock:
            self.docs.setdefault(doc.name, doc)

    def drop(self, name: str) -> None:
        with self._lock:
            self.docs.pop(name, None)

    def keep_only(self, names: list[str]) -> None:
        """The outputs shown, in this order (an output no longer built goes)."""
        with self._lock:
            self.docs = {n: self.docs[n] for n in names if n in self.docs}

    def publish(self) -> None:
        with self._lock:
            self.generation += 1
        data = self.snapshot()
        with self._lock:
            for q in self._listeners:
                q.put(data)

    def listen(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._listeners.append(q)
        return q

    def forget(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._listeners:
                self._listeners.remove(q)

    def close(self) -> None:
        with self._lock:
            for q in self._listeners:
                q.put(None)


def preview_order() -> dict[str, int]:
    """Which outputs the preview starts first, by kind. A kind says it with `preview_rank`
    (the edited card's sheet first: a page or two, fast; then the booklet, which takes
    longest and so starts at once on the other worker; then the theme excerpts); a kind
    that does not comes after those that do, in the build's order."""
    return dict(PREVIEW_ORDER)


def labels() -> dict[str, str]:
    return {
        "title": _("Preview"),
        "outputs": _("Outputs"),
        "pages_one": ngettext("{n} page", "{n} pages", 1),
        "pages_other": ngettext("{n} page", "{n} pages", 2),
        "close": _("Close (Esc)"),
        "page": _("page {number}"),
        "download": _("download the PDF"),
        "site": _("the web edition"),
        "building": _("building…"),
        "changed": _("changed"),
        "problems": _("The last save has errors: the pages shown are the last good ones."),
        "disconnected": _("The preview has stopped: restart it with python build.py preview."),
    }


def index_html() -> bytes:
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    text = text.replace("{{lang}}", language()).replace("{{title}}", labels()["title"])
    # JSON inside <script>: "</" may not appear (a title could hold it).
    text = text.replace(
        "{{labels}}", json.dumps(labels(), ensure_ascii=False).replace("</", "<\\/")
    )
    return text.encode("utf-8")


class Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds: an idle or stalled connection ends (the event stream writes)

    def log_message(self, format, *args) -> None:  # noqa: A002 — the stdlib's name
        pass  # quiet: the terminal is for the build's messages

    def parse_request(self) -> bool:
        """The stdlib's parsing, then the body: no byte of it may be read as a request."""
        if not super().parse_request():
            self.close_connection = True
            return False
        return self._drop_body()

    def _drop_body(self) -> bool:
        """Read and drop the request's body (no endpoint takes one). A body of unknown or
        doubtful length (chunked, two lengths, not a number, too big) is not read: the
        answer closes the connection, so it is never parsed as the next request."""
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None or len(set(lengths)) > 1:
            self.close_connection = True
            if len(set(lengths)) > 1:
                self._send(HTTPStatus.BAD_REQUEST, b"bad request\n", "text/plain", True)
                return False
            return True
        if not lengths:
            return True
        value = lengths[0].strip()
        if not value.isdigit():  # isdigit: no sign, no space, no "0x"
            self.close_connection = True
            self._send(HTTPStatus.BAD_REQUEST, b"bad request\n", "text/plain", True)
            return False
        length = int(value)
        if length:
            self.close_connection = True  # a request with a body is the last of its connection
        if length > MAX_BODY:
            return True
        while length > 0:
            chunk = self.rfile.read(min(length, 16384))
            if not chunk:
                return False
            length -= len(chunk)
        return True

    # --- no write endpoint --------------------------------------------------------------
    def _refuse(self) -> None:
        self.close_connection = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def do_HEAD(self) -> None:
        self.do_GET(body=False)

    def do_GET(self, body: bool = True) -> None:
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"", "text/plain", body)
        # The path alone: no parsing of a query, of a scheme or of a host ("//[" is no URL).
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        preview = self.server.preview
        if path == "/":
            return self._send(HTTPStatus.OK, index_html(), "text/html; charset=utf-8", body)
        if path in _STATIC:
            data = (STATIC / path.rsplit("/", 1)[1]).read_bytes()
            return self._send(HTTPStatus.OK, data, _STATIC[path] + "; charset=utf-8", body)
        if path == "/state":
            data = json.dumps(preview.state.snapshot(), ensure_ascii=False).encode("utf-8")
            return self._send(HTTPStatus.OK, data, "application/json", body)
        if path == "/events" and body:
            return self._events()
        match = _PAGE.fullmatch(path)
        if match:
            png = preview.cache.path(match.group(1))
            if png.is_file() and png.resolve().is_relative_to(preview.cache.folder.resolve()):
                return self._send(HTTPStatus.OK, png.read_bytes(), "image/png", body, cache=True)
        match = _SITE.fullmatch(path)
        if match:  # what a kind that is not a PDF listed (the web edition's pages)
            for kind in KINDS.values():
                found = kind.served(preview.output, match.group(1))
                if found:
                    return self._send(HTTPStatus.OK, found[0].read_bytes(), found[1], body)
        match = _PDF.fullmatch(path)
        if match and match.group(1) in preview.state.docs:
            pdf = preview.output / match.group(1)
            if pdf.is_file() and pdf.resolve().is_relative_to(preview.output.resolve()):
                return self._send(HTTPStatus.OK, pdf.read_bytes(), "application/pdf", body)
        return self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", body)

    def _host_ok(self) -> bool:
        """Only pages of this server may talk to it (no DNS rebinding from a web page)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost")

    def _send(self, status, data: bytes, ctype: str, body: bool, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        # Page images are named by their content: they never change.
        cache_control = "public, max-age=31536000, immutable" if cache else "no-store"
        self.send_header("Cache-Control", cache_control)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _events(self) -> None:
        preview = self.server.preview
        q = preview.state.listen()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            data: dict | None = preview.state.snapshot()
            while data is not None and not preview.closing.is_set():
                payload = json.dumps(data, ensure_ascii=False)
                self.wfile.write(f"event: state\ndata: {payload}\n\n".encode())
                self.wfile.flush()
                while True:
                    try:
                        data = q.get(timeout=15)
                        break
                    except queue.Empty:
                        self.wfile.write(b": keep-alive\n\n")  # notices a closed tab
                        self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            preview.state.forget(q)


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, preview: Preview, port: int):
        self.preview = preview
        super().__init__(("127.0.0.1", port), Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a closed tab, an aborted download) is no error; anything
        else is a bug: one line, the traceback in a log file, never on the terminal."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):  # reset, broken pipe, time-out
            return
        from ..console import report_internal_error

        report_internal_error(exc)


def _digest(path: Path) -> str | None:
    """The sha256 of a file's bytes, or None when it cannot be read (removed, a folder)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class Preview:
    """The preview of one content folder: builds, page images, and the state shown.

    Two threads: the watcher's (`saved`, the main thread) and the builder's (`run_builds`).
    A save stops the build under way at once (its renders not started never start, those
    running are stopped in the workers), is checked at once (its problems shown in the banner
    while nothing else runs), and is then built. A stale build never changes what is shown:
    the problems, the pages and the end of the build are taken only from the newest one."""

    def __init__(self, args: argparse.Namespace, pool: WarmPool):
        self.args = args
        self.content = Path(args.content)
        self.output = Path(args.output)
        # Its own folder of page images, named after the content folder (an edition).
        self.cache = PageCache(self.output, self.content.resolve().name)
        self.state = State()
        self.pool = pool
        self.edited: set[str] = set()  # action slugs edited during the session: their sheets
        # Each card's bytes as last seen (their sha256): a card is edited when they change,
        # not when a folder put back (a checkout, a sync tool) lists it again unchanged.
        self.cards = {p.stem: _digest(p) for p in sorted(self.content.glob("actions/*.md"))}
        self.closing = threading.Event()
        self._first = True
        self._lock = threading.Lock()  # the build under way, and the problems shown
        self._session: Session | None = None
        self._saves = 0  # saves seen: a build is for the newest one, or is stale
        self._wake = threading.Condition()
        self._pending: list[str] | None = None  # saved since the last build started
        self._site: Site | bool = True  # the last save's content, checked (see _check)

    # --- the watcher's side -------------------------------------------------------------
    def saved(self, changes: Iterable[str]) -> None:
        """A save (or the start, with no changes): stop the stale build, check the content
        now, and ask the builder for a build."""
        changes = list(changes)
        with self._lock:
            self._saves += 1  # a build that starts now for an older save stops at once
            if self._session is not None:
                self._session.cancel()
        for changed in map(Path, changes):
            # A card saved (not one removed: a folder removed lists each of its files), whose
            # text changed (not one written again as it was: a folder put back lists them all).
            if changed.suffix == ".md" and changed.parent.name == "actions":
                digest = _digest(changed)
                if digest is not None and self.cards.get(changed.stem) != digest:
                    self.edited.add(changed.stem)
                    self.cards[changed.stem] = digest
        site = self._check()
        with self._wake:
            self._pending = (self._pending or []) + changes
            self._site = site
            self._wake.notify()

    def _check(self) -> Site | bool:
        """Read and check the content: its problems are shown at once, even mid-build.
        False when it has problems (shown); True when it could not be read for another
        reason (the build reads it again and reports it)."""
        from ..reading.loader import load_site

        try:
            site = load_site(self.content)
        except LivretError as exc:
            with self._lock:
                self.state.problems = [str(p) for p in exc.problems]
            print_problems(exc)
            self.state.publish()
            return False
        except Exception:
            return True
        with self._lock:
            self.state.problems = []
            self.state.building = True  # its build comes next
        self.state.publish()
        return site

    def stop(self) -> None:
        self.closing.set()
        with self._lock:
            if self._session is not None:
                self._session.cancel()
        with self._wake:
            self._wake.notify()

    # --- the builder's side -------------------------------------------------------------
    def run_builds(self) -> None:
        """The builder thread: one build at a time, of the newest save."""
        while True:
            with self._wake:
                while self._pending is None and not self.closing.is_set():
                    self._wake.wait()
                if self.closing.is_set():
                    return
                changes, site = self._pending or [], self._site
                self._pending, self._site = None, True
            with self._lock:
                serial = self._saves
            started = time.perf_counter()
            self.pool.saved(changes)  # a layout or a stylesheet: the process's caches go
            if site is False:  # the check has shown its problems: nothing to build
                self._first = False
                with self._wake:
                    self.state.building = self._pending is not None
                self.state.publish()
                continue
            built = self.build(None if site is True else site, serial)
            if built and changes and not self.args.quiet:
                print(
                    _("livret: rebuilt in {time}").format(
                        time=seconds(time.perf_counter() - started)
                    ),
                    file=sys.stderr,
                )

    def build(self, site: Site | None = None, serial: int | None = None) -> bool:
        """Build what the saves touched: the sheets of the edited cards first. False when
        a newer save stopped it."""
        from concurrent.futures import CancelledError
        from concurrent.futures.process import BrokenProcessPool

        from ..building.outputs import plan
        from ..building.pipeline import run, variant_filename
        from ..console import selection
        from ..reading.loader import load_site
        from .renderer import Cancelled

        self.state.building = True
        for doc in self.state.docs.values():
            doc.changed = []  # the marks are this save's
        self.state.publish()
        session = None
        problems: list[str] | None = None
        try:
            site = site or load_site(self.content)
            session = self.pool.session(site)
            with self._lock:
                if self.closing.is_set() or serial not in (None, self._saves):
                    return False  # a newer save came while it started
                self._session = session
            sel = selection(self.args, site)
            slugs = {a.slug for a in site.actions}
            sel["actions"] = sorted((set(sel["actions"]) | self.edited) & slugs)
            titles: dict[str, tuple[str, str, str]] = {}

            def progress(name, info=None) -> None:
                if info is not None and name in titles and not session.cancelled:
                    self._show(name, *titles[name], sha256=info.sha256)

            for o in plan(site, **sel):
                titles[variant_filename(o, self.args.variant)] = (
                    o.title,
                    o.kind,
                    site.edition.slug,
                )
            _, results = run(
                self.content,
                self.output,
                site=site,
                variant=self.args.variant,
                progress=progress,
                pool=session,
                order=preview_order(),
                **sel,
            )
            if session.cancelled:
                return False
            pdfs = [r for r in results if KINDS[r.output.kind].pdf]
            order = [r.path.name for r in pdfs]
            links = [(r.output.title, KINDS[r.output.kind].preview_link(r.output)) for r in results]
            self.state.sites = [
                {"title": t, "href": f"site/{ln}"} for t, ln in links if ln is not None
            ]
            for r in pdfs:
                # New, or written by another process since it was shown (a second preview
                # of the same content built it first: "up to date" here).
                shown = self.state.docs.get(r.path.name)
                if shown is None or not shown.keys or shown.sha256 != r.sha256:
                    self._show(r.path.name, *titles[r.path.name], sha256=r.sha256)
            self.state.keep_only(order)
            problems = []
        except (Cancelled, CancelledError):
            return False  # a newer save stopped it: that one is shown
        except LivretError as exc:
            problems = [str(p) for p in exc.problems]
            if not (session and session.cancelled):
                print_problems(exc)
        except BrokenProcessPool:
            problems = [_("a render worker stopped; save again to retry")]
            print(f"livret: {problems[0]}", file=sys.stderr)
        except OSError as exc:  # a full disk, a folder that cannot be written…
            where = exc.filename or self.output
            problems = [f"{where}: {exc.strerror or exc}"]
            print(f"livret: {problems[0]}", file=sys.stderr)
        except Exception as exc:  # a bug: one line here and in the banner, the preview goes on
            from ..console import report_internal_error

            report_internal_error(exc)
            problems = [
                _("internal error ({kind}: {message})").format(
                    kind=type(exc).__name__, message=str(exc)[:300]
                )
            ]
        finally:
            if session is not None:
                session.wait()  # its stopped renders have ended: none writes after the next
            with self._lock:
                if self._session is session:
                    self._session = None
                if problems is not None and not (session and session.cancelled):
                    self.state.problems = problems
            self._first = False
            with self._wake:  # still building if a newer save waits for its build
                self.state.building = self._pending is not None
            keep = {k for d in self.state.docs.values() for k in d.keys}
            self.cache.prune(keep)
            self.state.publish()
        return True

    def _show(self, name: str, title: str, kind: str, edition: str, sha256: str = "") -> None:
        """A PDF was written: rasterise its new pages and show them at once."""
        doc = self.state.docs.get(name)
        if doc is None or doc.edition != edition:  # another edition's file of that name
            doc = Document(name, title, kind, edition)
            self.state.drop(name)
        doc.title, doc.sha256 = title, sha256
        self.cache.update(doc, self.output / name, mark=not self._first)
        self.state.put(doc)
        self.state.publish()


def serve(args: argparse.Namespace) -> int:
    """The `preview` command: build, serve, open the browser, rebuild on every save."""
    from ..rendering.design import for_content
    from .renderer import WarmPool
    from .watcher import saves

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C, and a plain `kill`, end the preview cleanly (even where a shell started it with
    # Ctrl-C ignored, as for a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    with WarmPool(args.content, args.jobs) as pool:
        preview = Preview(args, pool)
        try:
            server = PreviewServer(preview, args.port)
        except OSError as exc:
            raise LivretError(
                Problem(
                    "--port",
                    None,
                    None,
                    _("cannot listen on port {port}: {reason}").format(
                        port=args.port, reason=exc.strerror or exc
                    ),
                )
            ) from None
        builder: threading.Thread | None = None
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        thread = threading.Thread(target=server.serve_forever, name="preview-http", daemon=True)
        thread.start()
        print(_("livret: preview at {url} (Ctrl-C to stop)").format(url=url), flush=True)
        try:
            if not args.no_open:  # at once: the page fills in as the outputs are built
                import webbrowser

                webbrowser.open(url)
            builder = threading.Thread(target=preview.run_builds, name="preview-build", daemon=True)
            builder.start()
            # The first batch is empty, once the folders are watched: the first build.
            for changes in saves(args.content, for_content(args.content).folders):
                preview.saved(changes)
        except KeyboardInterrupt:
            pass
        finally:
            preview.stop()
            if builder is not None:
                builder.join(timeout=60)  # its renders stopped: it ends at once
            preview.state.close()
            server.shutdown()
            server.server_close()
            preview.cache.close()
    print(_("livret: preview stopped"), file=sys.stderr)
    return 0
