"""The build: plan the outputs, skip what is up to date, render the rest in parallel,
write PDFs and the manifest atomically.

Incremental: an output is rebuilt only when the sha256 of one of its inputs (content files
it uses, layouts, styles, fonts), livret's own code, or the version of a dependency that
shapes the bytes changed (outputs.tool_versions). The no-change
path never imports WeasyPrint, so it costs a fraction of a second.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import hashlib
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol, overload

from .. import __version__
from ..errors import LivretError, Problem, display_path, printable
from ..i18n import _
from ..reading.loader import load_site
from ..reading.model import Site
from ..rendering import compose
from .outputs import (
    IMPOSITION,
    KINDS,
    RANK,
    Fingerprints,
    Output,
    Wanted,
    kind_of,
    plan,
    tool_versions,
)
from .writer import read_json, write_json, write_pdf

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
# Far above any edition's manifest (one entry is ~4 KB): a bigger file is not ours.
MANIFEST_CAP = 32 * 1024 * 1024
LOCK = ".livret.lock"
FIT_CACHE = ".livret-cache/fit"  # copyfitting decisions (livret/rendering/fit.py), by card
# Recorded instead of a digest when an input changed while the build was using it: the
# output may hold either version, so the next build rebuilds it.
CHANGED = "changed during the build"


class Rendered(NamedTuple):
    """One PDF rendered and written (by _print_book, in a render worker)."""

    filename: str
    pages: int
    bytes: int
    sha256: str
    seconds: float
    # An excerpt's parts keep the booklet's folios (livret/rendering/compose.py): a digest of them,
    # recorded among its inputs (FOLIOS); `kept`: not written again, they had not changed.
    folios: str | None = None
    kept: bool = False
    whole: str | None = None  # why the document was laid out whole (not part by part)


class Progress(Protocol):
    """What a build tells as it goes, in this order: `progress(count)` once, the number of
    PDFs it will render (none when everything is up to date); then `progress(filename,
    rendered)` once per PDF written, as each one ends."""

    @overload
    def __call__(self, name: int, info: None = None, /) -> None: ...
    @overload
    def __call__(self, name: str, info: Rendered, /) -> None: ...


@dataclass(frozen=True)
class BuildRequest:
    """One build, as run() was asked for it (see run): what to build — one keyword per kind,
    as outputs.plan takes them — into which folder, and how."""

    site: Site
    out_dir: Path
    wanted: Mapping[str, Wanted] = field(default_factory=dict)
    force: bool = False
    jobs: int | None = None
    variant: str = "accessible"
    progress: Progress | None = None
    pool: Executor | None = None
    order: Mapping[str, int] | None = None
    impose: Collection[str] | None = None


@dataclass
class Result:
    output: Output
    path: Path
    status: str  # "built" | "up to date"
    pages: int
    bytes: int
    sha256: str
    seconds: float
    inputs: dict


def variant_filename(output: Output, variant: str) -> str:
    return KINDS[output.kind].filename(output, variant)


def imposed_filename(source: str, sheet: str) -> str:
    """retour-experience-01.pdf, a4 → retour-experience-01-imposition-a4.pdf"""
    return source.removesuffix(".pdf") + f"-imposition-{sheet}.pdf"


def set_reproducible_clock(site: Site) -> None:
    """Anything in the stack that reads the clock (fontTools, when it subsets a font) gets
    the edition's date instead: for this process and those it starts from now on (the
    preview's workers)."""
    os.environ["SOURCE_DATE_EPOCH"] = str(int(site.edition.pdf_modified.timestamp()))


@contextlib.contextmanager
def reproducible_clock(site: Site):
    """set_reproducible_clock for the time of a build only: a program that calls run() gets
    its environment back as it was."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    set_reproducible_clock(site)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


# --- worker side: one Printer per process, made while the parent writes the HTML ------------


class RenderProcess:
    """What a process that renders keeps between documents, for one content folder: its
    Printer (fonts, parsed stylesheets, copyfitting decisions, the parts' layouts:
    livret/rendering/pdf.py). The one owner of these caches; `forget` is the one call that
    drops them (preview/renderer.forget_design calls it when a layout or style changes)."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.printer: Any = None  # a rendering.pdf.Printer (WeasyPrint's import), by `warm`
        self.rendered = False  # a document was rendered since `warm`

    def forget(self) -> None:
        """Drop the Printer: the next render loads the stylesheets and fonts again."""
        self.root, self.printer, self.rendered = None, None, False

    def ready(self, content_root: str) -> bool:
        """Whether this process holds a Printer for this content folder, with its styles
        as they are (a library caller may change a stylesheet between two builds)."""
        return self.printer is not None and self.root == content_root and not self.printer.stale()

    def warm(self, content_root: str):
        """Import WeasyPrint and load fonts and stylesheets (~0.4 s): in the pool initializer,
        while the parent process is still turning the content into HTML."""
        from ..rendering.pdf import Printer

        self.forget()
        self.root, self.printer = content_root, Printer(Path(content_root))
        return self.printer

    def printer_for(self, content_root: str):
        return self.printer if self.ready(content_root) else self.warm(content_root)


PROCESS = RenderProcess()  # this process's (a render worker's, or the build's with -j 1)


def _die_with_parent(parent: int) -> None:
    """A render worker ends when the build that started it ends, however it ends (kill -9
    included): Linux sends it SIGKILL when its parent dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_init(content_root: str, parent: int) -> None:
    _die_with_parent(parent)
    # Ctrl-C reaches every process of the terminal's group: the parent alone handles it and
    # stops the workers (a worker's KeyboardInterrupt would only be sent back as a result).
    # The parent forked this process with these signals blocked, so none came in between.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    # A worker of one build: the garbage collector stays off for its whole life. Its passes
    # would walk the parent's objects and WeasyPrint's import, and the last laid-out
    # document's garbage just before the process ends (benchmarks/README.md).
    # _print collects once between two documents instead, so the memory does not grow.
    gc.freeze()  # the parent's objects, inherited: never walked (nor copied on write)
    gc.disable()
    PROCESS.warm(content_root).one_build = True
    gc.freeze()  # what the render loaded for good: modules, fonts, stylesheets


class Job(NamedTuple):
    """One PDF for a render worker: its HTML and file name; for an excerpt, `expect`: the
    folios digest it was built with, when only the booklet changed (see _run_locked)."""

    html: str
    filename: str
    expect: str | None = None
    book: bool = False  # a book document: composed from its parts (livret/rendering/compose.py)


def _print_book(
    jobs: list[Job],
    frame: str | None,
    out_dir: str,
    variant: str,
    sources: list[str],
    content_root: str,
    force: bool = False,
) -> list[Rendered]:
    """Render and write `jobs` one after the other in this worker: the booklet, then its
    excerpts, which reuse its parts' layouts (livret/rendering/compose.py); `frame`: the booklet's
    HTML, whose folios the excerpts keep. `force` (`build --force`): no part is taken from the
    user's cache (livret/rendering/partcache.py), each is laid out again."""
    printer = PROCESS.printer_for(content_root)
    printer.reuse_parts = not force
    cache = Path(out_dir) / FIT_CACHE
    out = []
    for job in jobs:
        if not gc.isenabled() and PROCESS.rendered:
            # A worker of one build (_worker_init): the previous document's garbage; what
            # stays (the parts' layouts, for the next documents) is not walked again.
            gc.collect()
            gc.freeze()
        PROCESS.rendered = True
        start = time.perf_counter()
        framed = None if job.html == frame else frame
        if (
            job.expect is not None
            and printer.folios_digest(job.html, variant, framed, cache) == job.expect
        ):
            out.append(Rendered(job.filename, 0, 0, "", 0.0, job.expect, kept=True))
            continue
        data, pages = printer.render(job.html, variant, sources, cache, framed, job.book)
        write_pdf(Path(out_dir) / job.filename, data)  # refused unless whole: the last good stays
        seconds = time.perf_counter() - start
        sha = hashlib.sha256(data).hexdigest()
        folios = printer.composition.digest if printer.composition and framed else None
        whole = printer.whole if job.book else None
        out.append(Rendered(job.filename, pages, len(data), sha, seconds, folios, False, whole))
    printer.keep_used()
    return out


def build(
    content_dir: Path | str = "content",
    output_dir: Path | str = "output",
    *,
    force: bool = False,
    jobs: int | None = None,
    variant: str = "accessible",
    site: Site | None = None,
    progress: Progress | None = None,
    **wanted: Wanted,
) -> dict:
    """Build what is asked (one keyword per kind, as outputs.plan) and out of date; return
    the manifest (also written to disk)."""
    request = BuildRequest(
        site or load_site(content_dir),
        Path(output_dir),
        wanted,
        force=force,
        jobs=jobs,
        variant=variant,
        progress=progress,
    )
    return run_request(request)[0]


def run(
    content_dir: Path | str,
    output_dir: Path | str,
    *,
    force: bool = False,
    jobs: int | None = None,
    variant: str = "accessible",
    site: Site | None = None,
    progress: Progress | None = None,
    on_wait: Callable[[Path], None] | None = None,
    pool: Executor | None = None,
    order: Mapping[str, int] | None = None,
    impose: Collection[str] | None = None,
    **wanted: Wanted,
) -> tuple[dict, list[Result]]:
    """Build into `output_dir`, one build at a time per folder (see output_lock).

    `pool`: a warm process pool to render in (the preview's, kept across saves) instead of a
    new one; `order`: kind → rank, which outputs to start first (default: biggest first);
    `impose`: None leaves impositions alone; else the sheets ("a4", "a3") to impose the
    booklet and excerpts built on, besides those already imposed (see _impose_all)."""
    request = BuildRequest(
        site or load_site(content_dir),
        Path(output_dir),
        wanted,
        force=force,
        jobs=jobs,
        variant=variant,
        progress=progress,
        pool=pool,
        order=order,
        impose=impose,
    )
    return run_request(request, on_wait)


def run_request(
    request: BuildRequest, on_wait: Callable[[Path], None] | None = None
) -> tuple[dict, list[Result]]:
    """run() for a request made already."""
    with output_lock(request.out_dir, on_wait):
        return _run_locked(request)


def _whole_reason(why: str) -> str:
    if why == "design":
        return _(
            "the project's own layouts or styles make a part depend on what precedes it "
            "(a comparison with a whole layout showed other pages)"
        )
    if why == "body":
        return _("<body> holds something else than parts with an id")
    if why == "target":
        return _("a page number refers to an element that no part holds")
    return _("{sheet} uses {feature}").format(
        sheet=why.partition(": ")[0], feature=why.partition(": ")[2]
    )


def _say_whole(rendered) -> None:
    """Say once why book documents were laid out whole instead of part by part (slower:
    nothing reused), when a project's design is the cause (livret/rendering/compose.py)."""
    reasons = {r.whole for r in rendered if r.whole and r.whole not in ("asked", "print")}
    for why in sorted(reasons):
        print(
            printable(
                _(
                    "livret: the booklet and its excerpts are laid out whole, not part by "
                    "part ({why}): each build and each save lays them out in full"
                ).format(why=_whole_reason(why))
            ),
            file=sys.stderr,
            flush=True,
        )


def _say_waiting(folder: Path) -> None:
    print(
        printable(
            _("livret: another build is writing to {folder}; waiting for it to finish…").format(
                folder=folder
            )
        ),
        file=sys.stderr,
        flush=True,
    )


@contextlib.contextmanager
def output_lock(out_dir: Path, on_wait=None):
    """One build at a time per output folder (whatever path names it): the PDFs and the
    manifest are written by one build, so they always match. A second build waits."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = out_dir.resolve()
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise
        yield  # a folder nobody can write to: nothing to protect (writes fail on their own)
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            (on_wait or _say_waiting)(folder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _run_locked(request: BuildRequest) -> tuple[dict, list[Result]]:
    site, out_dir, force, variant = request.site, request.out_dir, request.force, request.variant
    outputs = plan(site, **request.wanted)
    versions = tool_versions(variant)
    manifest_path = out_dir / MANIFEST
    old, old_entries = read_manifest(manifest_path)

    fingerprint = Fingerprints(site, versions)
    todo: list[tuple[Output, str, dict]] = []
    expect: dict[str, str] = {}  # excerpts to write only if their folios changed
    results: list[Result] = []
    outputs = [o for o in outputs if variant in KINDS[o.kind].variants]
    later = [o for o in outputs if not KINDS[o.kind].pdf]  # written from the PDFs (EPUB, web)
    booklet = None
    for output in outputs:
        if output in later:
            continue
        filename = variant_filename(output, variant)
        inputs = fingerprint(output)
        entry = old_entries.get(filename)
        target = out_dir / filename
        offprint = KINDS[output.kind].offprint and variant in compose.VARIANTS
        if offprint:  # its folios are the booklet's: what the booklet is made of counts
            booklet = booklet or _digest(fingerprint(book_output(site)))
            inputs[BOOKLET] = booklet
            if entry and not force:
                inputs, expect_folios = _offprint_inputs(entry, inputs)
                if expect_folios and kind_of(output.kind).intact(target, entry):
                    expect[filename] = expect_folios
        kept = None if force else _kept(output, entry, inputs, target)
        if kept:
            results.append(kept)
        else:
            todo.append((output, filename, inputs))

    if not force:
        _refuse_other_edition(site, todo, old_entries, old, out_dir)
    if todo:
        if request.progress:
            request.progress(len(todo))
        with reproducible_clock(site):
            done = _render_all(request, todo, expect)
        _say_whole(done.values())
        # A layout, style or image saved during the render: record it as changed.
        changed = fingerprint.recheck()
        for output, filename, inputs in todo:
            for rel in changed & inputs.keys():
                inputs[rel] = CHANGED
            rendered = done[filename]
            if rendered.folios:
                inputs[FOLIOS] = rendered.folios
            if rendered.kept:  # an excerpt whose folios did not change: as it was
                entry = old_entries[filename]
                results.append(
                    Result(
                        output,
                        out_dir / filename,
                        "up to date",
                        entry["pages"],
                        entry["bytes"],
                        entry["sha256"],
                        0.0,
                        inputs,
                    )
                )
                continue
            results.append(
                Result(
                    output,
                    out_dir / filename,
                    "built",
                    rendered.pages,
                    rendered.bytes,
                    rendered.sha256,
                    rendered.seconds,
                    inputs,
                )
            )
    order_out = {o.filename: i for i, o in enumerate(outputs)}
    results.sort(key=lambda r: order_out.get(r.output.filename, 0))
    if request.impose is not None:  # each imposition after the PDFs, which it is made from
        results += _impose_all(results, request.impose, old_entries, out_dir, force)
    for output in later:  # each kind written by its own module, from the entries so far
        entries = _entries(site, results, old_entries, out_dir, variant)
        with reproducible_clock(site):  # the web edition's fonts are subset (fontTools)
            results.append(
                _write_other(site, output, entries, old_entries, fingerprint, out_dir, force)
            )

    entries = _entries(site, results, old_entries, out_dir, variant)
    entries.sort(key=lambda e: (RANK.get(str(e.get("kind")), len(RANK)), e["path"]))
    manifest = {
        "format": MANIFEST_FORMAT,
        "edition": site.edition.slug,
        "number": site.edition.number,
        "livret_version": __version__,
        "weasyprint_version": versions["weasyprint"],
        "outputs": entries,
    }
    if todo or manifest != old:
        write_json(manifest_path, manifest)
    return manifest, results


# An excerpt's inputs besides its own files (livret/rendering/compose.py): what the booklet is made
# of (a digest of its inputs), whose layout gives the excerpt its folios, and the folios it kept.
BOOKLET = "booklet layout"
FOLIOS = "booklet folios"


def book_output(site: Site) -> Output:
    """The booklet: the book whose folios its excerpts keep."""
    kind = next(k for k in KINDS.values() if k.book and not k.offprint)
    return kind.output(site, kind.slugs(site)[0])


def _digest(inputs: Mapping[str, str]) -> str:
    return hashlib.sha256(
        "\0".join(f"{k}\0{v}" for k, v in sorted(inputs.items())).encode()
    ).hexdigest()


def _offprint_inputs(entry: dict, inputs: dict) -> tuple[dict, str | None]:
    """An excerpt's inputs as its manifest entry must list them to be up to date, and the
    folios it was written with when only the booklet changed (then the render checks them
    and writes the excerpt again only if they moved)."""
    old = entry.get("inputs")
    folios = old.get(FOLIOS) if isinstance(old, dict) else None
    if not isinstance(old, dict) or not isinstance(folios, str):
        return inputs, None
    mine = {k: v for k, v in old.items() if k not in (BOOKLET, FOLIOS)}
    if mine != {k: v for k, v in inputs.items() if k != BOOKLET}:
        return inputs, None  # its own files changed: written again
    return {**inputs, FOLIOS: folios}, folios


def _entries(site: Site, results: list[Result], old_entries: dict, out_dir: Path, variant):
    """The manifest's entries: this build's results, and the other outputs still there."""
    by_name = {r.path.relative_to(out_dir).as_posix(): r for r in results}
    entries = []
    for name, entry in old_entries.items():  # keep other outputs that still exist
        if name not in by_name and (out_dir / name).is_file():
            entries.append(entry)
    for name, r in by_name.items():
        entries.append(
            {
                "path": name,
                "kind": r.output.kind,
                "theme": r.output.theme,
                "action": r.output.action,
                "title": r.output.title,
                "variant": variant,
                "edition": site.edition.slug,
                "number": site.edition.number,
                "pages": r.pages,
                "bytes": r.bytes,
                "sha256": r.sha256,
                "inputs": r.inputs,
            }
        )
    return entries


def _write_other(site, output, entries, old_entries, fingerprint, out_dir: Path, force) -> Result:
    """An output its kind's own module writes (not a PDF), unless it is up to date."""
    kind = KINDS[output.kind]
    inputs = {**fingerprint(output), **kind.linked(site, entries)}
    target = out_dir / output.filename
    kept = None if force else _kept(output, old_entries.get(output.filename), inputs, target)
    if kept:
        return kept
    start = time.perf_counter()
    made = kind.write(site, output, out_dir, entries)
    seconds = time.perf_counter() - start
    return Result(output, target, "built", made.pages, made.bytes, made.sha256, seconds, inputs)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


HEX = frozenset("0123456789abcdef")


def _is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def _valid_entry(entry) -> bool:
    """An output entry of the shape a build writes (docs/manifest.md); fields added since
    format 1 (`variant`, `edition`, `number`) may be absent."""
    if not isinstance(entry, dict):
        return False
    path, inputs = entry.get("path"), entry.get("inputs")
    return (
        isinstance(path, str)
        and path not in ("", ".", "..")
        and not path.startswith("/")
        and ".." not in path.split("/")
        and "\0" not in path
        and isinstance(entry.get("kind"), str)
        and _is_int(entry.get("pages"))
        and _is_int(entry.get("bytes"))
        and _is_sha256(entry.get("sha256"))
        and isinstance(inputs, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items())
        and all(entry.get(f) is None or isinstance(entry[f], str) for f in ("theme", "action"))
        and ("number" not in entry or _is_int(entry["number"]))
    )


def read_manifest(path: Path) -> tuple[dict, dict[str, dict]]:
    """The manifest in `path` and its entries by file name. What is not a regular file of the
    shape a build writes (within MANIFEST_CAP) counts as absent: ({}, {}); an entry of
    another shape counts as absent (its output is made again)."""
    old = read_json(path, MANIFEST_CAP)
    if not (
        isinstance(old, dict)
        and isinstance(old.get("outputs"), list)
        and ("number" not in old or _is_int(old["number"]))
    ):
        return {}, {}
    return old, {e["path"]: e for e in old["outputs"] if _valid_entry(e)}


def _kept(output: Output, entry: dict | None, inputs: dict, target: Path) -> Result | None:
    """The "up to date" result, when the manifest's entry for `target` lists these inputs and
    the file is still there, as written; None when it must be made."""
    if not (entry and entry.get("inputs") == inputs and kind_of(output.kind).intact(target, entry)):
        return None
    return Result(
        output,
        target,
        "up to date",
        entry["pages"],
        entry["bytes"],
        entry["sha256"],
        0.0,
        inputs,
    )


def _impose_all(
    sources: list[Result], sheets, old_entries: dict, out_dir: Path, force: bool
) -> list[Result]:
    """The impositions of the booklet and excerpts of this build on each sheet asked for,
    and on each sheet they were imposed on before (an imposition listed in the manifest
    follows its PDF). Imposed again only when the PDF, livret's code or pikepdf changed."""
    from ..finishing.impose import SHEETS
    from .outputs import code_hash, installed_versions

    versions = {"livret code": code_hash(), **installed_versions(("pikepdf",))}
    before: dict[str, set[str]] = {}
    for name, entry in old_entries.items():
        inputs = entry.get("inputs")
        if entry.get("kind") == IMPOSITION and isinstance(inputs, dict):
            sheet = inputs.get("sheet")
            if sheet in SHEETS and (out_dir / name).is_file():
                before.setdefault(str(inputs.get("source")), set()).add(sheet)
    out = []
    for source in sources:
        if not KINDS[source.output.kind].imposable:
            continue
        name = source.path.name
        for sheet in sorted(set(sheets) | before.get(name, set()), key=list(SHEETS).index):
            filename = imposed_filename(name, sheet)
            inputs = {"source": name, "source sha256": source.sha256, "sheet": sheet, **versions}
            output = replace(source.output, kind=IMPOSITION, filename=filename)
            entry = old_entries.get(filename)
            target = out_dir / filename
            kept = None if force else _kept(output, entry, inputs, target)
            if kept:
                out.append(kept)
                continue
            from ..finishing.impose import impose

            start = time.perf_counter()
            imposed = impose(source.path.read_bytes(), sheet)
            write_pdf(target, imposed.data)
            out.append(
                Result(
                    output,
                    target,
                    "built",
                    imposed.sides,
                    len(imposed.data),
                    hashlib.sha256(imposed.data).hexdigest(),
                    time.perf_counter() - start,
                    inputs,
                )
            )
    return out


def _refuse_other_edition(site: Site, todo, old_entries: dict, old: dict, out_dir: Path) -> None:
    """A PDF built from another edition (another number under the same name: a copied
    content folder whose slug was not changed) is never replaced without --force."""
    problems = []
    for _output, filename, inputs in todo:
        entry = old_entries.get(filename)
        if not entry or not (out_dir / filename).is_file():
            continue
        other = _other_content(entry, inputs)
        if other is not None:
            problems.append(
                Problem(
                    display_path(out_dir / filename),
                    None,
                    None,
                    _(
                        "built from another content folder ({other}) with the same edition "
                        "number and slug: give this edition its own number and slug in "
                        "edition.yaml, or build with --force to replace the PDF"
                    ).format(other=other),
                )
            )
            continue
        number = entry.get("number", old.get("number"))
        if number is not None and number != site.edition.number:
            problems.append(
                Problem(
                    display_path(out_dir / filename),
                    None,
                    None,
                    _(
                        "built from edition no. {old}, and this is edition no. {new}: give this "
                        "edition its own slug in edition.yaml, or build with --force to replace "
                        "the PDF"
                    ).format(old=number, new=site.edition.number),
                )
            )
    if problems:
        raise LivretError(problems)


def _other_content(entry: dict, inputs: dict) -> str | None:
    """The content folder an existing PDF was built from, when it is not the one of this
    build (its inputs name another edition.yaml); None when the same or unknown."""
    old_inputs = entry.get("inputs")
    if not isinstance(old_inputs, dict):
        return None
    theirs = {k for k in old_inputs if isinstance(k, str) and k.rpartition("/")[2] == EDITION}
    mine = {k for k in inputs if k.rpartition("/")[2] == EDITION}
    if not theirs or not mine or theirs & mine:
        return None
    return min(theirs).rpartition("/")[0] or "."


EDITION = "edition.yaml"  # every output's input: names the content folder it was built from


# A render's peak memory is measured by benchmarks/bench_build.py; the budget leaves room for
# bigger editions. Workers are capped so that all of them fit in the memory that is free.
WORKER_BUDGET = 400 * 1024 * 1024


def default_jobs() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/meminfo") as fh:
            info = dict(line.split(":", 1) for line in fh)
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return cpus or 1
    return max(1, min(cpus or 1, available // WORKER_BUDGET))


def _render_all(
    request: BuildRequest, todo, expect: Mapping[str, str] | None = None
) -> dict[str, Rendered]:
    from ..rendering.render import render_html

    site, out_dir, variant = request.site, request.out_dir, request.variant
    jobs, progress = request.jobs, request.progress
    expect = expect or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    # Biggest first (longest job first), so that the booklet does not start last and finish
    # alone, and the excerpts, largest first, share out evenly over the workers beside it.
    rank = request.order or RANK

    def key(output: Output) -> tuple[int, int]:
        return rank.get(output.kind, len(rank)), -KINDS[output.kind].weight(site, output)

    queue = sorted(todo, key=lambda t: key(t[0]))
    # The booklet and its excerpts: one task, in one worker, so that the excerpts reuse the
    # layouts of the booklet's parts (livret/rendering/compose.py). The press file is laid out
    # whole.
    book = [t for t in queue if KINDS[t[0].kind].book and variant in compose.VARIANTS]
    queue = [t for t in queue if t not in book]
    sources = [str(p) for p in site.files]
    root = str(Path(site.root).resolve())
    done: dict[str, Rendered] = {}

    # A warm pool (the preview's, watch's: preview/renderer.py) keeps a worker for the book,
    # which kept its parts' layouts from the last save: a save lays out again only the card
    # it changed. (Writing the booklet and an excerpt side by side in two workers was
    # measured slower: each worker then lays the changed card out, and the machine of an
    # editor is seldom idle.)
    pinned = getattr(request.pool, "submit_book", None)

    def tasks():
        """(the jobs of a task, the booklet's HTML they keep the folios of, whether it is
        the book's), the book first."""
        if book:
            booklet = book_output(site)
            frame = render_html(site, booklet)
            jobs = [
                Job(
                    frame if o == booklet else render_html(site, o),
                    f,
                    expect.get(f),
                    book=True,
                )
                for o, f, _inputs in book
            ]
            yield jobs, frame, True
        for output, filename, _inputs in queue:
            yield [Job(render_html(site, output), filename)], None, False

    def finished(rendered: list[Rendered]) -> None:
        for one in rendered:
            done[one.filename] = one
            if progress and not one.kept:
                progress(one.filename, one)

    # Asked for: everything in this process, one after the other.
    if jobs == 1 and request.pool is None:
        for task, frame, _pin in tasks():
            finished(_print_book(task, frame, str(out_dir), variant, sources, root, request.force))
        return done

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = max(1, min(jobs or default_jobs(), len(queue) + (1 if book else 0)))
    errors = []
    before = set(multiprocessing.active_children())
    own = request.pool is None  # else the caller's warm pool (the preview's): it stays up
    pool = request.pool or ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_init,
        initargs=(root, os.getpid()),
    )
    futures: dict = {}
    try:
        # The first submit forks every worker (fork pools start all at once): they warm up
        # while this process renders the HTML, instead of after it. Ctrl-C is held back
        # meanwhile (not lost): a worker must not get it before it ignores it.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pool.submit(int)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for task, frame, pin in tasks():
            submit = pinned if pin and pinned is not None else pool.submit
            future = submit(
                _print_book, task, frame, str(out_dir), variant, sources, root, request.force
            )
            futures[future] = task
        for fut in as_completed(futures):
            try:
                rendered = fut.result()
            except LivretError as exc:
                errors.extend(exc.problems)
                continue
            finished(rendered)
    except BaseException:
        # Ctrl-C, a crashed worker, an error here: no render goes on without this build.
        for fut in futures:
            fut.cancel()
        if not own:
            raise
        pool.shutdown(wait=False, cancel_futures=True)
        workers_left = set(multiprocessing.active_children()) - before
        for child in workers_left:
            child.kill()
        for child in workers_left:
            child.join(10)
        raise
    if own:
        pool.shutdown()
    if errors:
        raise LivretError(list(dict.fromkeys(errors)))
    return done
